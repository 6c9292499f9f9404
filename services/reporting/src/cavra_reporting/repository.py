"""All SQL of the reporting service (``$n`` parameters only). Tables live in the ``reporting`` schema.

Applying an event (:func:`apply`) writes its history items, routes and counter increments in the
caller's transaction. A transaction-level advisory lock per schedule (and per plan) it touches makes a
plan and the acknowledgements, escalations and job deliveries of its routes apply one after the other,
so each sees what the other wrote whichever commits first; locks are taken in one order (those advisory
locks by name, then items, routes, counters, state) so concurrent appliers queue rather than deadlock.
The outstanding and breached counters move
by the difference the routes' generated ``outstanding`` / ``breached`` columns show before and after
each update, so they stay exact whatever order the events come in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from cavra_contracts.notifications import DELIVERY_RECORD_KIND
from cavra_contracts.reporting import HistoryPosition
from cavra_reporting.domain import Change, CounterDeltas, EventPosition, Item, PlanChange, RouteAck

ROUTE_DELTA = """
WITH old AS (SELECT route_id, outstanding, breached FROM routes WHERE {where} ORDER BY route_id FOR UPDATE),
changed AS (
    UPDATE routes r SET {assign} FROM old{extra} WHERE r.route_id = old.route_id{extra_where}
    RETURNING old.outstanding AS was_o, r.outstanding AS is_o, old.breached AS was_b, r.breached AS is_b)
SELECT coalesce(sum(is_o::int - was_o::int), 0) AS outstanding,
       coalesce(sum(is_b::int - was_b::int), 0) AS breached
FROM changed
"""


async def apply(conn: asyncpg.Connection, change: Change, at: EventPosition) -> None:
    """Apply one event's change (inside the caller's transaction)."""
    deltas = CounterDeltas()
    for key in change.lock_keys():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"reporting:{key}")
    await _insert_items(
        conn, [await _with_schedule(conn, item) for item in change.items], at.sequence, deltas
    )
    if change.plan is not None:
        await _apply_plan(conn, change.plan, at.sequence, deltas)
    if change.acks:
        await _apply_acks(conn, change.acks, at.sequence, deltas)
    if change.escalations:
        await _apply_escalations(conn, change.escalations, deltas)
    names, values = deltas.sorted()
    if names:
        await conn.execute(
            """INSERT INTO counters (name, value)
               SELECT * FROM unnest($1::text[], $2::bigint[]) ORDER BY 1
               ON CONFLICT (name) DO UPDATE SET value = counters.value + excluded.value""",
            names,
            values,
        )
    await conn.execute(
        "UPDATE read_model_state SET latest_event_at = GREATEST(latest_event_at, $1) WHERE id = 1",
        at.occurred_at,
    )


async def _with_schedule(conn: asyncpg.Connection, item: Item) -> Item:
    """A job delivery takes its plan's schedule when the plan was applied already."""
    if item.schedule_id or not item.plan_id or item.metadata_kind != DELIVERY_RECORD_KIND:
        return item
    schedule_id = await conn.fetchval("SELECT schedule_id FROM plans WHERE plan_id = $1", item.plan_id)
    if not schedule_id:
        return item
    return dataclasses.replace(
        item, schedule_id=schedule_id, document={**item.document, "schedule_id": schedule_id}
    )


async def _insert_items(
    conn: asyncpg.Connection, items: Sequence[Item], sequence: int, deltas: CounterDeltas
) -> None:
    if not items:
        return
    rows = await conn.fetch(
        """INSERT INTO history_items (item_id, metadata_kind, created_at, seq, ordinal, schedule_id, plan_id,
               acknowledgement_state, source_key, delivery_success, alert_level, document)
           SELECT i.item_id, i.kind, i.created_at, $1, i.ordinal, i.schedule_id, i.plan_id, i.state,
                  i.source_key, i.success, i.alert_level, i.document
           FROM unnest($2::text[], $3::text[], $4::timestamptz[], $5::integer[], $6::text[], $7::text[],
                       $8::text[], $9::text[], $10::boolean[], $11::text[], $12::jsonb[])
                AS i(item_id, kind, created_at, ordinal, schedule_id, plan_id, state, source_key, success,
                     alert_level, document)
           ON CONFLICT (item_id) DO NOTHING
           RETURNING item_id""",
        sequence,
        [i.item_id for i in items],
        [i.metadata_kind for i in items],
        [i.created_at for i in items],
        [i.ordinal for i in items],
        [i.schedule_id for i in items],
        [i.plan_id for i in items],
        [i.acknowledgement_state for i in items],
        [i.source_key for i in items],
        [i.delivery_success for i in items],
        [i.alert_level for i in items],
        [i.document for i in items],
    )
    inserted = {row["item_id"] for row in rows}
    fresh = [item for item in items if item.item_id in inserted]
    pairs = [(item, provider) for item in fresh for provider in item.providers]
    if pairs:
        await conn.execute(
            """INSERT INTO item_providers (item_id, provider, created_at, seq, ordinal)
               SELECT p.item_id, p.provider, p.created_at, $1, p.ordinal
               FROM unnest($2::text[], $3::text[], $4::timestamptz[], $5::integer[])
                    AS p(item_id, provider, created_at, ordinal)
               ON CONFLICT DO NOTHING""",
            sequence,
            [item.item_id for item, _ in pairs],
            [provider for _, provider in pairs],
            [item.created_at for item, _ in pairs],
            [item.ordinal for item, _ in pairs],
        )
    for item in fresh:
        for name in (*item.facets(), *item.counters):
            deltas.add(name)


async def _route_delta(
    conn: asyncpg.Connection, where: str, assign: str, *params: Any, extra: str = "", extra_where: str = ""
) -> tuple[int, int]:
    """Update the routes ``where`` selects; how the outstanding and breached counts moved."""
    sql = ROUTE_DELTA.format(where=where, assign=assign, extra=extra, extra_where=extra_where)
    row = await conn.fetchrow(sql, *params)
    assert row is not None
    return int(row["outstanding"]), int(row["breached"])


def _count(deltas: CounterDeltas, moved: tuple[int, int]) -> None:
    deltas.add("outstanding", moved[0])
    deltas.add("breached", moved[1])


async def _apply_plan(
    conn: asyncpg.Connection, plan: PlanChange, sequence: int, deltas: CounterDeltas
) -> None:
    new = await conn.fetchval(
        """INSERT INTO plans (plan_id, schedule_id, generated_at, seq) VALUES ($1, $2, $3, $4)
           ON CONFLICT DO NOTHING RETURNING 1""",
        plan.plan_id,
        plan.schedule_id,
        plan.generated_at,
        sequence,
    )
    if new is None:
        return  # the same plan came in another message
    waiting = await conn.fetch(
        """UPDATE history_items
           SET schedule_id = $2, document = jsonb_set(document, '{schedule_id}', to_jsonb($2::text))
           WHERE plan_id = $1 AND schedule_id = '' AND metadata_kind = $3
           RETURNING item_id""",
        plan.plan_id,
        plan.schedule_id,
        DELIVERY_RECORD_KIND,
    )
    deltas.add(f"schedule:{plan.schedule_id}", len(waiting))
    current = await conn.fetchrow(
        "SELECT plan_id, generated_at, seq FROM schedules WHERE schedule_id = $1 FOR UPDATE", plan.schedule_id
    )
    # The newest plan of its schedule (by its time, then stream sequence) is the current one.
    newest = current is None or (current["generated_at"], current["seq"]) < (plan.generated_at, sequence)
    if newest and current is not None:
        retired = await _route_delta(
            conn, "plan_id = $1 AND is_current", "is_current = false", current["plan_id"]
        )
        _count(deltas, retired)
    routes = plan.routes
    inserted = await conn.fetch(
        """INSERT INTO routes (route_id, plan_id, schedule_id, provider, owner, action, ack_state, escalated,
                               is_current)
           SELECT d.route_id, $1, $2, d.provider, d.owner, d.action, coalesce(a.state, 'outstanding'),
                  EXISTS (SELECT 1 FROM escalated_routes e
                          WHERE e.route_id = d.route_id AND e.kind = 'escalation'),
                  $7
           FROM unnest($3::text[], $4::text[], $5::text[], $6::text[]) AS d(route_id, provider, owner, action)
           LEFT JOIN route_acks a ON a.route_id = d.route_id
           ON CONFLICT (route_id) DO NOTHING
           RETURNING outstanding, breached""",
        plan.plan_id,
        plan.schedule_id,
        [r.route_id for r in routes],
        [r.provider for r in routes],
        [r.owner for r in routes],
        [r.action for r in routes],
        newest,
    )
    if not newest:
        return  # a newer plan of this schedule was applied first: this one is history only
    _count(deltas, (sum(r["outstanding"] for r in inserted), sum(r["breached"] for r in inserted)))
    await conn.execute(
        """INSERT INTO schedules (schedule_id, plan_id, generated_at, seq) VALUES ($1, $2, $3, $4)
           ON CONFLICT (schedule_id) DO UPDATE
           SET plan_id = excluded.plan_id, generated_at = excluded.generated_at, seq = excluded.seq""",
        plan.schedule_id,
        plan.plan_id,
        plan.generated_at,
        sequence,
    )


async def _apply_acks(
    conn: asyncpg.Connection, acks: Sequence[RouteAck], sequence: int, deltas: CounterDeltas
) -> None:
    latest = await conn.fetch(
        """INSERT INTO route_acks (route_id, state, acknowledged_at, seq, ordinal)
           SELECT a.route_id, a.state, a.acknowledged_at, $1, a.ordinal
           FROM unnest($2::text[], $3::text[], $4::timestamptz[], $5::integer[])
                AS a(route_id, state, acknowledged_at, ordinal)
           ORDER BY a.route_id
           ON CONFLICT (route_id) DO UPDATE
           SET state = excluded.state, acknowledged_at = excluded.acknowledged_at, seq = excluded.seq,
               ordinal = excluded.ordinal
           WHERE (route_acks.acknowledged_at, route_acks.seq, route_acks.ordinal)
                 < (excluded.acknowledged_at, excluded.seq, excluded.ordinal)
           RETURNING route_id, state""",
        sequence,
        [a.route_id for a in acks],
        [a.state for a in acks],
        [a.acknowledged_at for a in acks],
        [a.ordinal for a in acks],
    )
    if not latest:
        return
    moved = await _route_delta(
        conn,
        "route_id = ANY($1::text[])",
        "ack_state = l.state",
        [row["route_id"] for row in latest],
        [row["state"] for row in latest],
        extra=", unnest($1::text[], $2::text[]) AS l(route_id, state)",
        extra_where=" AND l.route_id = r.route_id",
    )
    _count(deltas, moved)


async def _apply_escalations(
    conn: asyncpg.Connection, escalations: Sequence[tuple[str, str]], deltas: CounterDeltas
) -> None:
    rows = await conn.fetch(
        """INSERT INTO escalated_routes (route_id, kind)
           SELECT * FROM unnest($1::text[], $2::text[]) ORDER BY 1, 2
           ON CONFLICT DO NOTHING RETURNING route_id, kind""",
        [route_id for route_id, _ in escalations],
        [kind for _, kind in escalations],
    )
    for row in rows:
        deltas.add(f"escalated_routes:{row['kind']}")
    escalated = [row["route_id"] for row in rows if row["kind"] == "escalation"]
    if escalated:
        _count(deltas, await _route_delta(conn, "route_id = ANY($1::text[])", "escalated = true", escalated))


# --- queries --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class HistoryFilter:
    """The history's filters, as columns of ``history_items`` (``provider`` through ``item_providers``)."""

    schedule_id: str = ""
    provider: str = ""
    metadata_kind: str = ""
    acknowledgement_state: str = ""
    source_key: str = ""
    delivery_success: bool | None = None
    alert_level: str = ""

    def clauses(self, params: list[Any]) -> list[str]:
        found: list[str] = []
        for column in ("schedule_id", "metadata_kind", "acknowledgement_state", "source_key", "alert_level"):
            value = getattr(self, column)
            if value:
                params.append(value)
                found.append(f"h.{column} = ${len(params)}")
        if self.delivery_success is not None:
            params.append(self.delivery_success)
            found.append(f"h.delivery_success = ${len(params)}")
        return found

    def facets(self) -> list[str]:
        """The counter of each filter that is set (the total of a one-filter query is its counter)."""
        found = [
            f"{facet}:{value}"
            for facet, value in (
                ("schedule", self.schedule_id),
                ("provider", self.provider),
                ("kind", self.metadata_kind),
                ("state", self.acknowledgement_state),
                ("source", self.source_key),
                ("alert", self.alert_level),
            )
            if value
        ]
        if self.delivery_success is not None:
            found.append(f"success:{str(self.delivery_success).lower()}")
        return found


def _history_sql(where: HistoryFilter, params: list[Any]) -> tuple[str, str, list[str]]:
    """FROM clause, the alias whose position orders the page, and the WHERE clauses."""
    clauses = where.clauses(params)
    if where.provider:
        params.append(where.provider)
        clauses.insert(0, f"p.provider = ${len(params)}")
        if len(clauses) == 1:
            return "item_providers p", "p", clauses
        return "item_providers p JOIN history_items h ON h.item_id = p.item_id", "p", clauses
    return "history_items h", "h", clauses


async def history_page(
    conn: asyncpg.Connection, where: HistoryFilter, limit: int, offset: int, after: HistoryPosition | None
) -> tuple[list[dict[str, Any]], HistoryPosition | None]:
    """A page of items newest first, and the position to continue after when more follow.

    The positions are found first (an index-only walk, however deep the offset), then only the page's
    documents are fetched."""
    params: list[Any] = []
    source, alias, clauses = _history_sql(where, params)
    if after is not None:
        params += [after.created_at, after.sequence, after.ordinal]
        n = len(params)
        clauses.append(f"({alias}.created_at, {alias}.seq, {alias}.ordinal) < (${n - 2}, ${n - 1}, ${n})")
    condition = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    params += [limit + 1, offset]
    rows = await conn.fetch(
        f"""SELECT d.document, k.created_at, k.seq, k.ordinal
            FROM (SELECT {alias}.item_id, {alias}.created_at, {alias}.seq, {alias}.ordinal
                  FROM {source}{condition}
                  ORDER BY {alias}.created_at DESC, {alias}.seq DESC, {alias}.ordinal DESC
                  LIMIT ${len(params) - 1} OFFSET ${len(params)}) k
            JOIN history_items d ON d.item_id = k.item_id
            ORDER BY k.created_at DESC, k.seq DESC, k.ordinal DESC""",
        *params,
    )
    page = rows[:limit]
    position = None
    if len(rows) > limit:
        last = page[-1]
        position = HistoryPosition(last["created_at"], last["seq"], last["ordinal"])
    return [row["document"] for row in page], position


async def history_total(conn: asyncpg.Connection, where: HistoryFilter) -> int:
    """Items matching ``where``: a counter for no or one filter, else a count over the narrowest index."""
    facets = where.facets()
    if len(facets) <= 1:
        return await counter(conn, facets[0] if facets else "items")
    params: list[Any] = []
    source, _, clauses = _history_sql(where, params)
    total = await conn.fetchval(f"SELECT count(*) FROM {source} WHERE {' AND '.join(clauses)}", *params)
    return int(total)


async def counter(conn: asyncpg.Connection, name: str) -> int:
    value = await conn.fetchval("SELECT value FROM counters WHERE name = $1", name)
    return int(value or 0)


async def counters(conn: asyncpg.Connection, names: Sequence[str], prefix: str) -> dict[str, int]:
    """The counters named, zero when absent, and those above zero whose name starts with ``prefix``."""
    following = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    rows = await conn.fetch(
        """SELECT name, value FROM counters
           WHERE name = ANY($1::text[]) OR (name >= $2 AND name < $3 AND value > 0) ORDER BY name""",
        list(names),
        prefix,
        following,
    )
    found = {name: 0 for name in names}
    found.update({row["name"]: int(row["value"]) for row in rows})
    return found


@dataclasses.dataclass(frozen=True)
class DashboardState:
    """The dashboard's parts that are not counters, read in one statement."""

    latest_event_at: datetime | None
    latest_escalation_plan: dict[str, Any] | None
    outstanding: list[dict[str, Any]]


async def dashboard_state(conn: asyncpg.Connection, escalation_plan_kind: str, listed: int) -> DashboardState:
    """The latest event's time, the newest escalation plan, and the first ``listed`` outstanding routes
    of current plans (by schedule, provider, owner, route)."""
    row = await conn.fetchrow(
        """SELECT
             (SELECT latest_event_at FROM read_model_state WHERE id = 1) AS latest_event_at,
             (SELECT document FROM history_items WHERE metadata_kind = $1
              ORDER BY created_at DESC, seq DESC, ordinal DESC LIMIT 1) AS latest_escalation_plan,
             (SELECT coalesce(jsonb_agg(to_jsonb(o) ORDER BY o.schedule_id, o.provider, o.owner, o.route_id),
                              '[]'::jsonb)
              FROM (SELECT schedule_id, provider, plan_id, route_id, owner,
                           ack_state AS acknowledgement_state, escalated
                    FROM routes WHERE outstanding
                    ORDER BY schedule_id, provider, owner, route_id LIMIT $2) o) AS outstanding""",
        escalation_plan_kind,
        listed,
    )
    assert row is not None
    return DashboardState(row["latest_event_at"], row["latest_escalation_plan"], row["outstanding"])
