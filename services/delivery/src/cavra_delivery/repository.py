"""All SQL of the delivery service (``$n`` parameters only). Tables live in the ``delivery`` schema."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from cavra_delivery.connectors.quarantine import QuarantineState

DELIVERY_COLUMNS = (
    "delivery_id, plan_id, route_id, route_key, schedule_id, provider, owner, connector, connector_type, "
    "target_host, status, attempt_count, status_code, external_ref, deduplicated, attempts, completed_at"
)


async def insert_pending(conn: asyncpg.Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Create the deliveries of a plan (idempotent: a redelivered plan adds nothing)."""
    await conn.executemany(
        """INSERT INTO deliveries (delivery_id, plan_id, route_key, schedule_id, provider, owner, connector,
                                   connector_type, target_host, status, completed_at, route_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
           ON CONFLICT (delivery_id) DO NOTHING""",
        [
            (
                r["delivery_id"],
                r["plan_id"],
                r["route_key"],
                r["schedule_id"],
                r["provider"],
                r["owner"],
                r["connector"],
                r["connector_type"],
                r["target_host"],
                r["status"],
                r.get("completed_at"),
                r["route_id"],
            )
            for r in rows
        ],
    )


async def for_plan(conn: asyncpg.Connection, plan_id: str) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            f"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE plan_id = $1 ORDER BY delivery_id", plan_id
        )
    )


async def finish_many(conn: asyncpg.Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Record how deliveries ended (a pending row only: a redelivered plan never rewrites history)."""
    await conn.executemany(
        """UPDATE deliveries SET status = $2, attempts = $3, attempt_count = $4, status_code = $5,
                  external_ref = $6, deduplicated = $7, completed_at = $8
           WHERE delivery_id = $1 AND status = 'pending'""",
        [
            (
                r["delivery_id"],
                r["status"],
                r["attempts"],
                len(r["attempts"]),
                r["status_code"],
                r["external_ref"],
                r["deduplicated"],
                r["completed_at"],
            )
            for r in rows
        ],
    )


async def lock_health(conn: asyncpg.Connection, connector: str) -> QuarantineState:
    """The connector's breaker state, locked for this transaction (created on first use)."""
    await conn.execute(
        "INSERT INTO connector_health (connector) VALUES ($1) ON CONFLICT (connector) DO NOTHING", connector
    )
    row = await conn.fetchrow(
        """SELECT consecutive_failures, quarantined_until, last_success_at, last_failure_at
           FROM connector_health WHERE connector = $1 FOR UPDATE""",
        connector,
    )
    return QuarantineState(connector=connector, **dict(row))


async def save_health(conn: asyncpg.Connection, state: QuarantineState) -> None:
    await conn.execute(
        """UPDATE connector_health SET consecutive_failures = $2, quarantined_until = $3,
                  last_success_at = $4, last_failure_at = $5
           WHERE connector = $1""",
        state.connector,
        state.consecutive_failures,
        state.quarantined_until,
        state.last_success_at,
        state.last_failure_at,
    )


async def all_health(conn: asyncpg.Connection) -> dict[str, QuarantineState]:
    rows = await conn.fetch(
        "SELECT connector, consecutive_failures, quarantined_until, last_success_at, last_failure_at "
        "FROM connector_health"
    )
    return {row["connector"]: QuarantineState(**dict(row)) for row in rows}


async def insert_record(conn: asyncpg.Connection, record: dict[str, Any], created_at: datetime) -> bool:
    """Store the plan's delivery record once; True when it is new."""
    inserted = await conn.fetchval(
        """INSERT INTO delivery_records (record_id, plan_id, source, success, document, created_at)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (plan_id) DO NOTHING RETURNING 1""",
        record["record_id"],
        record["plan_id"],
        record["connector_delivery_source"],
        record["delivery_success"],
        record,
        created_at,
    )
    return inserted is not None


async def record_for_plan(conn: asyncpg.Connection, plan_id: str) -> dict[str, Any] | None:
    value = await conn.fetchval("SELECT document FROM delivery_records WHERE plan_id = $1", plan_id)
    return dict(value) if value is not None else None
