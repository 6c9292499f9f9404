"""All SQL of the escalation service (``$n`` parameters only). Tables live in the ``escalation`` schema."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from cavra_contracts.acknowledgements import CLEARING_STATES
from cavra_contracts.escalations import ESCALATE, NO_ACTION, WAIT
from cavra_escalation.domain import SourceRoute, TrackedRoute
from cavra_escalation.domain import plan as rules

CLEARING = sorted(CLEARING_STATES)


def epoch_micros(moment: datetime) -> int:
    """Microseconds since the epoch (how route ages are computed: integer arithmetic)."""
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def next_due_sql(row: str, state: str, clearing: str) -> str:
    """The next timer instant of a route row (see ``domain.next_due``); ``state`` is its ack state."""
    return f"""CASE
        WHEN NOT {row}.is_current OR {row}.escalated_at IS NOT NULL THEN NULL
        WHEN {state} = ANY({clearing}::text[]) THEN NULL
        WHEN {row}.reminder_due_at IS NOT NULL AND {row}.reminded_at IS NULL
            THEN least({row}.reminder_due_at, {row}.breach_due_at)
        ELSE {row}.breach_due_at END"""


async def lock_schedules(conn: asyncpg.Connection, schedule_ids: Sequence[str]) -> None:
    """Serialise plans and acknowledgements of the same schedules (in one order: no deadlock)."""
    for schedule_id in sorted(set(schedule_ids)):
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended('escalation:' || $1, 0))", schedule_id
        )


async def claim_current_plan(
    conn: asyncpg.Connection, schedule_id: str, plan_id: str, generated_at: datetime
) -> bool:
    """Make ``plan_id`` the schedule's current plan unless a newer (or the same) one is current."""
    claimed = await conn.fetchval(
        """INSERT INTO current_plans (schedule_id, plan_id, generated_at) VALUES ($1, $2, $3)
           ON CONFLICT (schedule_id) DO UPDATE
             SET plan_id = EXCLUDED.plan_id, generated_at = EXCLUDED.generated_at
             WHERE (current_plans.generated_at, current_plans.plan_id)
                 < (EXCLUDED.generated_at, EXCLUDED.plan_id)
           RETURNING 1""",
        schedule_id,
        plan_id,
        generated_at,
    )
    return claimed is not None


async def supersede(conn: asyncpg.Connection, schedule_id: str, plan_id: str) -> int:
    """Stop the timers of the schedule's routes from plans other than ``plan_id``."""
    result = await conn.execute(
        """UPDATE routes SET is_current = false, due_at = NULL
           WHERE schedule_id = $1 AND is_current AND plan_id <> $2""",
        schedule_id,
        plan_id,
    )
    return int(result.split()[-1])


async def insert_routes(conn: asyncpg.Connection, routes: Sequence[TrackedRoute]) -> None:
    """Store a plan's deliver routes (one ``generated_at``) with the latest acknowledgement each may
    already have."""
    if not routes:
        return
    columns: list[list[Any]] = [
        [getattr(route, name) for route in routes]
        for name in (
            "route_id",
            "plan_id",
            "schedule_id",
            "position",
            "provider",
            "owner",
            "escalation_owner",
            "acknowledgement_minutes",
            "generated_at",
            "reminder_due_at",
            "breach_due_at",
        )
    ]
    providers = [json.dumps(route.escalation_providers) for route in routes]
    heads = [
        rules.line_head(route.schedule_id, route.plan_id, route.route_id, route.provider, route.owner)
        for route in routes
    ]
    await conn.execute(
        """INSERT INTO routes (route_id, plan_id, schedule_id, position, provider, owner, escalation_owner,
                escalation_providers, acknowledgement_minutes, generated_at, generated_micros,
                reminder_due_at, breach_due_at, line_head,
                ack_state, acknowledged_at, due_at)
            SELECT d.route_id, d.plan_id, d.schedule_id, d.position, d.provider, d.owner, d.escalation_owner,
                   ARRAY(SELECT jsonb_array_elements_text(d.providers::jsonb)),
                   d.minutes, d.generated_at, $14::bigint, d.reminder_due_at, d.breach_due_at, d.head,
                   coalesce(a.state, 'outstanding'), a.acknowledged_at,
                   CASE WHEN a.state = ANY($13::text[]) THEN NULL
                        WHEN d.reminder_due_at IS NOT NULL THEN least(d.reminder_due_at, d.breach_due_at)
                        ELSE d.breach_due_at END
            FROM unnest($1::text[], $2::text[], $3::text[], $4::integer[], $5::text[], $6::text[], $7::text[],
                        $8::integer[], $9::timestamptz[], $10::timestamptz[], $11::timestamptz[], $12::text[],
                        $15::text[])
                 AS d(route_id, plan_id, schedule_id, position, provider, owner, escalation_owner, minutes,
                      generated_at, reminder_due_at, breach_due_at, providers, head)
            LEFT JOIN acknowledgements a ON a.route_id = d.route_id
            ON CONFLICT (route_id) DO NOTHING""",
        *columns,
        providers,
        CLEARING,
        epoch_micros(routes[0].generated_at),
        heads,
    )


@dataclass(frozen=True)
class AckChange:
    """A route whose acknowledgement state changed, and what was pending before."""

    route: TrackedRoute
    state: str
    acknowledgement_id: str
    was_due: datetime | None
    now_due: datetime | None


async def record_acknowledgements(
    conn: asyncpg.Connection,
    route_ids: Sequence[str],
    acknowledgement_ids: Sequence[str],
    states: Sequence[str],
    acknowledged_at: Sequence[datetime],
) -> list[AckChange]:
    """Keep the latest acknowledgement per route and apply it to the tracked routes' timers."""
    await conn.execute(
        """INSERT INTO acknowledgements (route_id, acknowledgement_id, state, acknowledged_at)
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[])
           ON CONFLICT (route_id) DO UPDATE
             SET acknowledgement_id = EXCLUDED.acknowledgement_id, state = EXCLUDED.state,
                 acknowledged_at = EXCLUDED.acknowledged_at
             WHERE acknowledgements.acknowledged_at <= EXCLUDED.acknowledged_at""",
        list(route_ids),
        list(acknowledgement_ids),
        list(states),
        list(acknowledged_at),
    )
    before = await conn.fetch(
        """SELECT r.route_id, r.due_at FROM routes r
           JOIN acknowledgements a ON a.route_id = r.route_id
           WHERE r.route_id = ANY($1::text[])
             AND (r.acknowledged_at IS NULL OR r.acknowledged_at <= a.acknowledged_at)
           ORDER BY r.route_id
           FOR UPDATE OF r""",
        list(route_ids),
    )
    was_due = {row["route_id"]: row["due_at"] for row in before}
    rows = await conn.fetch(
        f"""UPDATE routes r SET ack_state = a.state, acknowledged_at = a.acknowledged_at,
                   due_at = {next_due_sql("r", "a.state", "$2")}
            FROM acknowledgements a
            WHERE a.route_id = r.route_id AND r.route_id = ANY($1::text[])
            RETURNING r.*, a.state, a.acknowledgement_id""",
        list(was_due),
        CLEARING,
    )
    return [
        AckChange(
            route=_tracked(row),
            state=row["state"],
            acknowledgement_id=row["acknowledgement_id"],
            was_due=was_due[row["route_id"]],
            now_due=row["due_at"],
        )
        for row in rows
    ]


_TRACKED_COLUMNS = (
    "route_id, plan_id, schedule_id, position, provider, owner, escalation_owner, escalation_providers, "
    "acknowledgement_minutes, generated_at, reminder_due_at, breach_due_at, reminded_at, escalated_at"
)


def _tracked(row: asyncpg.Record) -> TrackedRoute:
    return TrackedRoute(
        route_id=row["route_id"],
        plan_id=row["plan_id"],
        schedule_id=row["schedule_id"],
        position=row["position"],
        provider=row["provider"],
        owner=row["owner"],
        escalation_owner=row["escalation_owner"],
        escalation_providers=tuple(row["escalation_providers"]),
        acknowledgement_minutes=row["acknowledgement_minutes"],
        generated_at=row["generated_at"],
        reminder_due_at=row["reminder_due_at"],
        breach_due_at=row["breach_due_at"],
        reminded_at=row["reminded_at"],
        escalated_at=row["escalated_at"],
    )


async def claim_due(conn: asyncpg.Connection, now: datetime, limit: int) -> list[TrackedRoute]:
    """Lock routes whose reminder or escalation is due; replicas skip each other's rows."""
    rows = await conn.fetch(
        f"""SELECT {_TRACKED_COLUMNS} FROM routes
            WHERE due_at IS NOT NULL AND due_at <= $1
            ORDER BY due_at
            LIMIT $2
            FOR UPDATE SKIP LOCKED""",
        now,
        limit,
    )
    return [_tracked(row) for row in rows]


async def save_timers(conn: asyncpg.Connection, route: TrackedRoute, due_at: datetime | None) -> None:
    await conn.execute(
        "UPDATE routes SET reminded_at = $2, escalated_at = $3, due_at = $4 WHERE route_id = $1",
        route.route_id,
        route.reminded_at,
        route.escalated_at,
        due_at,
    )


async def current_routes(conn: asyncpg.Connection, now: datetime) -> list[SourceRoute]:
    """The deliver routes of the current plan of every schedule with their latest state, in plan order
    (read by the pure rules: the reference the database's plan is tested against)."""
    rows = await conn.fetch(
        "SELECT schedule_id, plan_id, route_id, provider, owner, ack_state, acknowledgement_minutes, "
        "$1::bigint - generated_micros AS age_micros FROM routes WHERE is_current "
        "ORDER BY schedule_id, position",
        epoch_micros(now),
    )
    return [SourceRoute(*row) for row in rows]


AGE_CENTIMINUTES = """(SELECT CASE WHEN n >= 0 THEN n / 60000000 ELSE -((59999999 - n) / 60000000) END
    FROM (SELECT ($1::bigint - generated_micros) * 100 + 30000000 AS n) AS age)"""
"""A route's age at ``$1`` (microseconds since the epoch) in hundredths of a minute, rounded half up
(``domain.plan.age_centiminutes``): integer arithmetic only."""


PLAN_WORK_MEM = "64MB"
"""``work_mem`` of the statement that judges and stores a plan's routes (this transaction only)."""


async def slo_keys(conn: asyncpg.Connection) -> list[tuple[str, str, int]]:
    """The distinct (owner, provider, stored SLO) of the current routes."""
    rows = await conn.fetch(
        "SELECT DISTINCT owner, provider, acknowledgement_minutes FROM routes WHERE is_current"
    )
    return [(row["owner"], row["provider"], row["acknowledgement_minutes"]) for row in rows]


# The rules of domain.plan.route_row over the current routes at $1 (microseconds since the epoch),
# with the SLO of each (owner, provider, stored SLO) passed in as arrays ($2-$5); $6 the clearing
# states, $7-$9 the three actions; $10 the new plan's key. Lines are the stored line_head plus the
# judged fields (domain.plan.route_line).
_WRITE_PLAN = f"""WITH slo(owner, provider, stored, minutes) AS (
        SELECT * FROM unnest($2::text[], $3::text[], $4::integer[], $5::integer[])
    ), judged AS (
        SELECT r.schedule_id, r.position, r.line_head, r.plan_id, r.route_id, r.provider,
               r.owner, r.ack_state AS acknowledgement_state, r.ack_state = ANY($6::text[]) AS acknowledged,
               s.minutes AS acknowledgement_minutes,
               {AGE_CENTIMINUTES} AS centi
        FROM routes r
        JOIN slo s ON (s.owner, s.provider, s.stored) = (r.owner, r.provider, r.acknowledgement_minutes)
        WHERE r.is_current
    ), plan_rows AS (
        SELECT *, CASE WHEN breached THEN $7 WHEN acknowledged THEN $8 ELSE $9 END AS recommended_action
        FROM (SELECT *, (NOT acknowledged AND centi >= acknowledgement_minutes * 100) AS breached
              FROM judged) AS breach
    ), pages AS (
        SELECT schedule_id,
               string_agg(concat_ws(E'\\t', line_head,
                   acknowledgement_state, acknowledged::text, coalesce(centi::text, ''),
                   acknowledgement_minutes::text, breached::text, recommended_action),
                   E'\\n' ORDER BY position) AS lines,
               count(*) AS route_count,
               count(*) FILTER (WHERE NOT acknowledged) AS outstanding,
               count(*) FILTER (WHERE breached) AS breached
        FROM plan_rows GROUP BY schedule_id
    ), numbered AS (
        SELECT *, (coalesce(sum(route_count) OVER (ORDER BY schedule_id
                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0))::integer AS first_position
        FROM pages
    ), stored AS (
        INSERT INTO escalation_plan_pages (plan_key, first_position, route_count, lines)
        SELECT $10, first_position, route_count, lines FROM numbered
        RETURNING 1
    )
    SELECT coalesce(sum(route_count), 0) AS route_count,
           coalesce(sum(outstanding), 0) AS outstanding,
           coalesce(sum(breached), 0) AS breached,
           encode(sha256(coalesce(string_agg(sha256(convert_to(lines, 'UTF8')), ''::bytea
                                             ORDER BY first_position), ''::bytea)), 'hex') AS digest,
           (SELECT count(*) FROM stored) AS pages
    FROM numbered"""


@dataclass(frozen=True)
class PlanRows:
    """What the database computed and stored: counts and the digest of the route lines."""

    route_count: int
    outstanding: int
    breached: int
    digest: str


async def write_plan_rows(
    conn: asyncpg.Connection, now: datetime, minutes: dict[tuple[str, str, int], int]
) -> tuple[int, PlanRows]:
    """Judge every current route at ``now``, store the rows in pages under a new plan key, and
    count and digest them (``domain.plan.routes_digest``): one statement, no route leaves the
    database. Returns the plan key; ``store_plan`` names it (or drops its pages).
    """
    plan_key = int(await conn.fetchval("SELECT nextval('escalation_plan_keys')"))
    # 100,000 routes sort and aggregate in ~30 MB: in memory, not in temporary files.
    await conn.execute(f"SET LOCAL work_mem = '{PLAN_WORK_MEM}'")
    keys = list(minutes)
    row = await conn.fetchrow(
        _WRITE_PLAN,
        epoch_micros(now),
        [key[0] for key in keys],
        [key[1] for key in keys],
        [key[2] for key in keys],
        [minutes[key] for key in keys],
        CLEARING,
        ESCALATE,
        NO_ACTION,
        WAIT,
        plan_key,
    )
    judged = PlanRows(int(row["route_count"]), int(row["outstanding"]), int(row["breached"]), row["digest"])
    return plan_key, judged


async def store_plan(
    conn: asyncpg.Connection, plan_key: int, summary: dict[str, Any], actor: dict[str, Any]
) -> bool:
    """Name the pages of ``plan_key`` with the plan's id and summary, unless the same content is
    stored already (then the pages are dropped); True when new."""
    inserted = await conn.fetchval(
        """INSERT INTO escalation_plans (plan_id, plan_key, generated_at, generated_by, alert_level,
               acknowledgement_minutes, route_count, outstanding_count, breached_count, actor)
           VALUES ($1, $2, $3::text::timestamptz, $4, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (plan_id) DO NOTHING RETURNING 1""",
        summary["plan_id"],
        plan_key,
        summary["generated_at"],
        summary["generated_by"],
        summary["alert_level"],
        summary["acknowledgement_minutes"],
        summary["route_count"],
        summary["outstanding_count"],
        summary["breached_count"],
        actor,
    )
    if inserted is None:
        await conn.execute("DELETE FROM escalation_plan_pages WHERE plan_key = $1", plan_key)
        return False
    return True


async def get_plan(conn: asyncpg.Connection, plan_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM escalation_plans WHERE plan_id = $1", plan_id)


async def plan_routes(
    conn: asyncpg.Connection, plan_key: int, limit: int, offset: int
) -> list[dict[str, Any]]:
    """Routes ``[offset, offset + limit)`` of a stored plan, in plan order."""
    if limit <= 0:
        return []
    pages = await conn.fetch(
        """SELECT first_position, lines FROM escalation_plan_pages
           WHERE plan_key = $1 AND first_position < $2::integer + $3::integer
             AND first_position >= coalesce((SELECT max(first_position) FROM escalation_plan_pages
                                             WHERE plan_key = $1 AND first_position <= $2), 0)
           ORDER BY first_position""",
        plan_key,
        offset,
        limit,
    )
    if not pages:
        return []
    lines = [line for page in pages for line in page["lines"].split("\n")]
    start = offset - pages[0]["first_position"]
    return [rules.parse_line(line) for line in lines[max(start, 0) : start + limit]]
