"""All SQL of the escalation service (``$n`` parameters only). Tables live in the ``escalation`` schema."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from cavra_contracts.acknowledgements import CLEARING_STATES
from cavra_escalation.domain import ROUTE_FIELDS, EscalationPlan, SourceRoute, TrackedRoute

CLEARING = sorted(CLEARING_STATES)


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
    """Store a plan's deliver routes with the latest acknowledgement each may already have."""
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
    providers = [",".join(route.escalation_providers) for route in routes]
    await conn.execute(
        """INSERT INTO routes (route_id, plan_id, schedule_id, position, provider, owner, escalation_owner,
                escalation_providers, acknowledgement_minutes, generated_at, reminder_due_at, breach_due_at,
                ack_state, acknowledged_at, due_at)
            SELECT d.route_id, d.plan_id, d.schedule_id, d.position, d.provider, d.owner, d.escalation_owner,
                   CASE WHEN d.providers = '' THEN '{}'::text[] ELSE string_to_array(d.providers, ',') END,
                   d.minutes, d.generated_at, d.reminder_due_at, d.breach_due_at,
                   coalesce(a.state, 'outstanding'), a.acknowledged_at,
                   CASE WHEN a.state = ANY($13::text[]) THEN NULL
                        WHEN d.reminder_due_at IS NOT NULL THEN least(d.reminder_due_at, d.breach_due_at)
                        ELSE d.breach_due_at END
            FROM unnest($1::text[], $2::text[], $3::text[], $4::integer[], $5::text[], $6::text[], $7::text[],
                        $8::integer[], $9::timestamptz[], $10::timestamptz[], $11::timestamptz[], $12::text[])
                 AS d(route_id, plan_id, schedule_id, position, provider, owner, escalation_owner, minutes,
                      generated_at, reminder_due_at, breach_due_at, providers)
            LEFT JOIN acknowledgements a ON a.route_id = d.route_id
            ON CONFLICT (route_id) DO NOTHING""",
        *columns,
        providers,
        CLEARING,
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
    """The deliver routes of the current plan of every schedule with their latest state: one query."""
    rows = await conn.fetch(
        """SELECT schedule_id, plan_id, route_id, provider, owner, ack_state, acknowledgement_minutes,
                  extract(epoch FROM $1::timestamptz - generated_at)::float8 AS age_seconds
           FROM routes WHERE is_current ORDER BY schedule_id, position""",
        now,
    )
    return [SourceRoute(*row) for row in rows]


async def store_plan(conn: asyncpg.Connection, plan: EscalationPlan, actor: dict[str, Any]) -> bool:
    """Store a plan and its routes (COPY) unless the same content is stored; True when new."""
    summary = plan.summary
    inserted = await conn.fetchval(
        """INSERT INTO escalation_plans (plan_id, generated_at, generated_by, alert_level,
               acknowledgement_minutes, route_count, outstanding_count, breached_count, actor)
           VALUES ($1, $2::text::timestamptz, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (plan_id) DO NOTHING RETURNING 1""",
        summary["plan_id"],
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
        return False
    plan_id = summary["plan_id"]
    await conn.copy_records_to_table(
        "escalation_plan_routes",
        records=((plan_id, position, *row) for position, row in enumerate(plan.routes)),
        columns=("escalation_plan_id", "position", *ROUTE_FIELDS),
    )
    return True


async def get_plan(conn: asyncpg.Connection, plan_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM escalation_plans WHERE plan_id = $1", plan_id)


async def plan_routes(
    conn: asyncpg.Connection, plan_id: str, limit: int, offset: int
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        f"""SELECT {", ".join(ROUTE_FIELDS)} FROM escalation_plan_routes
            WHERE escalation_plan_id = $1 AND position >= $2 ORDER BY position LIMIT $3""",
        plan_id,
        offset,
        limit,
    )
    return rows
