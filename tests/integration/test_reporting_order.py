"""The read models are a function of the events, not of the order they are applied in: every order of the
same events, each applied once or twice, leaves the same rows in every table of the reporting schema."""

from __future__ import annotations

import json
import random
from typing import Any

import asyncpg

from cavra_contracts.deliveries import AUDIT_SOURCE
from cavra_contracts.registry import contract_for_subject
from cavra_reporting import handlers
from cavra_reporting import repository as repo
from cavra_reporting.domain import Change, EventPosition
from tests.integration.test_reporting_audit import audit_mix
from tests.support import reporting_events as ev

TABLES = {
    "history_items": "item_id",
    "item_providers": "item_id, provider",
    "plans": "plan_id",
    "schedules": "schedule_id",
    "routes": "route_id",
    "route_acks": "route_id",
    "escalated_routes": "route_id, kind",
    "counters": "name",
    "read_model_state": "id",
}


def _changes() -> list[tuple[Change, EventPosition]]:
    """Each event of the mix (audit packages, plans and deliveries too) with its stream position
    (sequence = its place in the stream)."""
    found = []
    for sequence, envelope in enumerate([*ev.realistic_mix(), *audit_mix()], start=1):
        contract_cls = contract_for_subject(envelope.type)
        change_of = handlers.CHANGES[contract_cls]
        at = EventPosition(sequence, envelope.occurred_at)
        found.append((change_of(contract_cls.model_validate(envelope.payload), at), at))
    return found


async def _applied(conn: asyncpg.Connection, changes: list[tuple[Change, EventPosition]]) -> dict[str, Any]:
    await conn.execute(f"TRUNCATE {', '.join(t for t in TABLES if t != 'read_model_state')}")
    await conn.execute("UPDATE read_model_state SET latest_event_at = NULL")
    for change, at in changes:
        async with conn.transaction():
            await repo.apply(conn, change, at)
    return {
        table: [tuple(row) for row in await conn.fetch(f"SELECT * FROM {table} ORDER BY {key}")]
        for table, key in TABLES.items()
    }


async def test_any_order_and_any_repetition_gives_the_same_tables(database_url: str) -> None:
    changes = _changes()
    conn = await asyncpg.connect(database_url, server_settings={"search_path": "reporting"})
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=str, schema="pg_catalog")
    try:
        in_order = await _applied(conn, changes)
        assert len(in_order["history_items"]) == 16 + 7
        counted = dict(row[:2] for row in in_order["counters"])
        assert counted["outstanding"] == 2
        assert counted["kind:go-backend-rollback-drill-acknowledgement-audit-package"] == 3
        assert counted["kind:go-backend-rollback-drill-acknowledgement-audit-delivery-plan"] == 2
        assert counted[f"failed_deliveries:{AUDIT_SOURCE}"] == 1
        assert counted["audit_provider:siem"] == 2 and counted["audit_provider:webhook"] == 4
        shuffler = random.Random(7)
        for _ in range(6):
            shuffled = changes + shuffler.sample(changes, k=5)  # some events twice
            shuffler.shuffle(shuffled)
            assert await _applied(conn, shuffled) == in_order
        assert await _applied(conn, list(reversed(changes))) == in_order
    finally:
        await conn.close()
