"""All SQL of the acknowledgement service (``$n`` parameters only). Tables live in the
``acknowledgement`` schema."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from cavra_contracts.acknowledgements import CLEARING_STATES, AcknowledgementV1, RouteScopeV1
from cavra_contracts.sorting import ROUTE_STATES_DEFAULT_SORT, split

ROUTE_COLUMNS = (
    "r.route_id, r.plan_id, r.schedule_id, r.provider, r.owner, r.escalation_owner, "
    "r.acknowledgement_minutes, r.route_created_at, r.state, r.acknowledgement_id, r.acknowledged_by, "
    "r.acknowledged_at, r.external_ref, r.notes"
)
CLEARING = sorted(CLEARING_STATES)


async def insert_plan(
    conn: asyncpg.Connection,
    *,
    plan_id: str,
    schedule_id: str,
    generated_at: datetime,
    alert_level: str,
    stream_sequence: int,
    routes: Sequence[Any],
) -> bool:
    """Store a plan and its deliver routes (one statement for every route); make it the schedule's
    current plan when it is newer than the current one. False when the plan was stored already."""
    inserted = await conn.fetchval(
        """INSERT INTO plans (plan_id, schedule_id, generated_at, alert_level, stream_sequence)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT (plan_id) DO NOTHING RETURNING 1""",
        plan_id,
        schedule_id,
        generated_at,
        alert_level,
        stream_sequence,
    )
    if inserted is None:
        return False
    await conn.execute(
        """INSERT INTO routes (route_id, plan_id, schedule_id, provider, owner, escalation_owner,
                               acknowledgement_minutes, route_created_at)
           SELECT r.route_id, $1, $2, r.provider, r.owner, r.escalation_owner, r.minutes, $3
           FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::integer[])
                AS r(route_id, provider, owner, escalation_owner, minutes)
           ON CONFLICT (route_id) DO NOTHING""",
        plan_id,
        schedule_id,
        generated_at,
        [route.route_id for route in routes],
        [route.provider for route in routes],
        [route.owner for route in routes],
        [route.escalation_owner for route in routes],
        [route.acknowledgement_minutes for route in routes],
    )
    await conn.execute(
        """INSERT INTO latest_plans (schedule_id, plan_id, generated_at, stream_sequence)
           VALUES ($1, $2, $3, $4)
           ON CONFLICT (schedule_id) DO UPDATE
               SET plan_id = EXCLUDED.plan_id, generated_at = EXCLUDED.generated_at,
                   stream_sequence = EXCLUDED.stream_sequence
               WHERE (latest_plans.generated_at, latest_plans.stream_sequence)
                     < (EXCLUDED.generated_at, EXCLUDED.stream_sequence)""",
        schedule_id,
        plan_id,
        generated_at,
        stream_sequence,
    )
    return True


# --- resolving what a command names ----------------------------------------------------------


async def route_by_id(conn: asyncpg.Connection, route_id: str) -> asyncpg.Record | None:
    """One route, locked for this transaction."""
    return await conn.fetchrow(
        f"SELECT {ROUTE_COLUMNS} FROM routes r WHERE r.route_id = $1 FOR UPDATE", route_id
    )


async def target_routes(
    conn: asyncpg.Connection, schedule_id: str, plan_id: str, provider: str, owner: str
) -> list[asyncpg.Record]:
    """The routes of ``plan_id`` (empty: the schedule's current plan) on ``provider`` (and ``owner``
    when given), locked in route id order."""
    return list(
        await conn.fetch(
            f"""SELECT {ROUTE_COLUMNS} FROM routes r
                WHERE r.plan_id = COALESCE(NULLIF($2, ''),
                                           (SELECT plan_id FROM latest_plans WHERE schedule_id = $1))
                  AND r.schedule_id = $1 AND r.provider = $3 AND ($4 = '' OR r.owner = $4)
                ORDER BY r.route_id FOR UPDATE""",
            schedule_id,
            plan_id,
            provider,
            owner,
        )
    )


async def current_plan_id(conn: asyncpg.Connection, schedule_id: str) -> str | None:
    value = await conn.fetchval("SELECT plan_id FROM latest_plans WHERE schedule_id = $1", schedule_id)
    return str(value) if value is not None else None


async def plan_of_schedule(conn: asyncpg.Connection, plan_id: str, schedule_id: str) -> bool:
    found = await conn.fetchval(
        "SELECT 1 FROM plans WHERE plan_id = $1 AND schedule_id = $2", plan_id, schedule_id
    )
    return found is not None


async def plan_has_provider(conn: asyncpg.Connection, plan_id: str, provider: str) -> bool:
    found = await conn.fetchval(
        "SELECT 1 FROM routes WHERE plan_id = $1 AND provider = $2 LIMIT 1", plan_id, provider
    )
    return found is not None


def _scope_filter(scope: RouteScopeV1, now: datetime) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for column in ("schedule_id", "owner", "provider", "route_id", "state"):
        value = getattr(scope, column)
        if value:
            params.append(value)
            clauses.append(f"r.{column} = ${len(params)}")
    if scope.breached is not None:
        breached = breached_expression(params, now)
        clauses.append(breached if scope.breached else f"NOT {breached}")
    return (" AND " + " AND ".join(clauses)) if clauses else "", params


async def scope_routes(
    conn: asyncpg.Connection, scope: RouteScopeV1, now: datetime, limit: int
) -> list[asyncpg.Record]:
    """At most ``limit`` routes of the current plans matching ``scope``, locked in route id order."""
    where, params = _scope_filter(scope, now)
    return list(
        await conn.fetch(
            f"""SELECT {ROUTE_COLUMNS} FROM latest_plans l JOIN routes r ON r.plan_id = l.plan_id
                WHERE true{where} ORDER BY r.route_id LIMIT ${len(params) + 1} FOR UPDATE OF r""",
            *params,
            limit,
        )
    )


STATE_SORT_TERMS: dict[str, tuple[tuple[str, str], ...]] = {
    "schedule": (("r.schedule_id", "ASC"), ("r.provider", "ASC"), ("r.owner", "ASC")),
    "age": (("r.route_created_at", "DESC"),),
    "acknowledged": (("r.acknowledged_at", "ASC NULLS LAST"),),
    "owner": (("r.owner", "ASC"),),
    "provider": (("r.provider", "ASC"),),
    "state": (("r.state", "ASC"),),
    "breached": (("{breached}", "ASC"),),
}
"""A route states sort's leading terms; the route id ends every order. ``age`` ascending is the
youngest route first; ``breached`` ascending puts breached routes last."""
REVERSED = {
    "ASC": "DESC",
    "DESC": "ASC",
    "ASC NULLS LAST": "DESC NULLS FIRST",
}


def route_states_order(sort: str, breached: str) -> str:
    """ORDER BY of a sort; ``-x`` is the exact reverse of ``x`` (one index walks both ways)."""
    name, descending = split(sort, ROUTE_STATES_DEFAULT_SORT)
    terms = [*STATE_SORT_TERMS[name], ("r.route_id", "ASC")]
    if descending:
        terms = [(term, REVERSED[way]) for term, way in terms]
    return ", ".join(f"{term} {way}" for term, way in terms).format(breached=breached)


def breached_expression(params: list[Any], now: datetime) -> str:
    """The route's breach (not cleared, past its SLO at ``now``); ``params`` gets its values."""
    params += [CLEARING, now]
    return (
        f"(r.state <> ALL(${len(params) - 1}::text[]) "
        f"AND r.route_created_at + r.acknowledgement_minutes * interval '1 minute' <= ${len(params)})"
    )


async def route_states(
    conn: asyncpg.Connection,
    scope: RouteScopeV1,
    now: datetime,
    limit: int,
    offset: int,
    sort: str = "",
    *,
    with_total: bool = True,
) -> tuple[list[asyncpg.Record], int | None, bool]:
    """One page of the routes of the current plans matching ``scope`` in ``sort`` order, how many
    match (None unless ``with_total``), and whether more follow (one row past the page)."""
    where, params = _scope_filter(scope, now)
    base = f"FROM latest_plans l JOIN routes r ON r.plan_id = l.plan_id WHERE true{where}"
    total = await conn.fetchval(f"SELECT count(*) {base}", *params) if with_total or not limit else None
    rows: list[asyncpg.Record] = []
    if limit:
        order_params = list(params)
        order = route_states_order(sort, breached_expression(order_params, now) if "breached" in sort else "")
        rows = list(
            await conn.fetch(
                f"SELECT {ROUTE_COLUMNS} {base} ORDER BY {order} "
                f"LIMIT ${len(order_params) + 1} OFFSET ${len(order_params) + 2}",
                *order_params,
                limit + 1,
                offset,
            )
        )
    return rows[:limit], None if total is None else int(total), len(rows) > limit


# --- recording ----------------------------------------------------------------------------------


async def use_link(
    conn: asyncpg.Connection, link_id: str, route_id: str, command_id: str, now: datetime
) -> bool:
    """Mark a one-time ack link used; False when it was used already."""
    inserted = await conn.fetchval(
        """INSERT INTO used_ack_links (link_id, route_id, command_id, used_at) VALUES ($1, $2, $3, $4)
           ON CONFLICT (link_id) DO NOTHING RETURNING 1""",
        link_id,
        route_id,
        command_id,
        now,
    )
    return inserted is not None


async def record(
    conn: asyncpg.Connection, acks: Sequence[AcknowledgementV1], command_id: str, now: datetime
) -> None:
    """Store the acknowledgements and set each route's latest state: one statement (one round trip) that
    inserts the records and updates the routes from the same rows."""

    def column(name: str) -> list[Any]:
        return [getattr(ack, name) for ack in acks]

    await conn.execute(
        """WITH a AS (
               SELECT * FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                                    $9::text[], $10::text[], $11::text[], $12::text[], $13::jsonb[],
                                    $14::text[], $15::text[])
                   AS a(id, route_id, plan_id, schedule_id, provider, owner, state, previous, actor, mode,
                        record, external_ref, notes)
           ), stored AS (
               INSERT INTO acknowledgements (acknowledgement_id, route_id, plan_id, schedule_id, provider,
                   owner, acknowledgement_state, previous_state, acknowledged_by, acknowledged_at, mode,
                   command_id, record)
               SELECT a.id, a.route_id, a.plan_id, a.schedule_id, a.provider, a.owner, a.state, a.previous,
                      a.actor, $1, a.mode, $2, a.record
               FROM a
               ON CONFLICT (acknowledgement_id) DO NOTHING
           )
           UPDATE routes r SET state = a.state, acknowledgement_id = a.id, acknowledged_by = a.actor,
                               acknowledged_at = $1, external_ref = a.external_ref, notes = a.notes
           FROM a
           WHERE r.route_id = a.route_id""",
        now,
        command_id,
        column("acknowledgement_id"),
        column("route_id"),
        column("plan_id"),
        column("schedule_id"),
        column("provider"),
        column("owner"),
        column("acknowledgement_state"),
        column("previous_state"),
        column("acknowledged_by"),
        column("mode"),
        [ack.model_dump(mode="json") for ack in acks],
        column("external_ref"),
        column("notes"),
    )
