"""The reporting service's writes (``$n`` parameters only; its reads are in ``queries``). Tables live in
the ``reporting`` schema.

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
from cavra_reporting import evidence_repository
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
    if change.evidence is not None:
        await evidence_repository.apply(conn, change.evidence, at.sequence, deltas)
    names, values = deltas.sorted()
    if names:
        await conn.execute(
            """INSERT INTO counters (name, value)
               SELECT * FROM unnest($1::text[], $2::bigint[]) ORDER BY 1
               ON CONFLICT (name) DO UPDATE SET value = counters.value + excluded.value""",
            names,
            values,
        )
        # A counter back at zero is no row (as if never counted), whatever order brought it there.
        await conn.execute("DELETE FROM counters WHERE name = ANY($1::text[]) AND value = 0", names)
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
    conn: asyncpg.Connection, every: Sequence[Item], sequence: int, deltas: CounterDeltas
) -> None:
    await evidence_repository.upsert_items(conn, [i for i in every if i.replaceable], sequence, deltas)
    items = [i for i in every if not i.replaceable]
    if not items:
        return
    lookups = [i.lookups() for i in items]
    rows = await conn.fetch(
        """INSERT INTO history_items (item_id, metadata_kind, created_at, seq, ordinal, schedule_id, plan_id,
               acknowledgement_state, source_key, delivery_success, alert_level, document, audit_id,
               delivery_id, cadence)
           SELECT i.item_id, i.kind, i.created_at, $1, i.ordinal, i.schedule_id, i.plan_id, i.state,
                  i.source_key, i.success, i.alert_level, i.document, i.audit_id, i.delivery_id, i.cadence
           FROM unnest($2::text[], $3::text[], $4::timestamptz[], $5::integer[], $6::text[], $7::text[],
                       $8::text[], $9::text[], $10::boolean[], $11::text[], $12::jsonb[], $13::text[],
                       $14::text[], $15::text[])
                AS i(item_id, kind, created_at, ordinal, schedule_id, plan_id, state, source_key, success,
                     alert_level, document, audit_id, delivery_id, cadence)
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
        [found[0] for found in lookups],
        [found[1] for found in lookups],
        [found[2] for found in lookups],
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
        """UPDATE history_items h
           SET schedule_id = $2, document = jsonb_set(document, '{schedule_id}', to_jsonb($2::text))
           WHERE plan_id = $1 AND schedule_id = '' AND metadata_kind = $3
           RETURNING metadata_kind, acknowledgement_state, source_key, delivery_success, alert_level,
                     array(SELECT provider FROM item_providers p WHERE p.item_id = h.item_id) AS providers""",
        plan.plan_id,
        plan.schedule_id,
        DELIVERY_RECORD_KIND,
    )
    for row in waiting:  # the counters it now counts in: those naming the schedule
        unscheduled = _counted(row)
        scheduled = dataclasses.replace(unscheduled, schedule_id=plan.schedule_id)
        for name in set(scheduled.facets()) - set(unscheduled.facets()):
            deltas.add(name)
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


def _counted(row: asyncpg.Record) -> Item:
    """A stored item with what its counters depend on (its filter values)."""
    return Item(
        item_id="",
        metadata_kind=row["metadata_kind"],
        created_at=datetime.min,
        ordinal=0,
        document={},
        providers=tuple(row["providers"]),
        acknowledgement_state=row["acknowledgement_state"],
        connector_delivery_source=row["source_key"],
        delivery_success=row["delivery_success"],
        alert_level=row["alert_level"],
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
