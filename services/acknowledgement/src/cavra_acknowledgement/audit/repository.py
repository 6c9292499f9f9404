"""All SQL of audit packages (``$n`` parameters only), in the ``acknowledgement`` schema.

Reads the acknowledgement service's ``latest_plans`` and ``routes`` (the current plan of each
schedule, the latest acknowledgement of each route); writes only the ``audit_*`` tables.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import asyncpg

from cavra_contracts.audit import AuditFiltersV1
from cavra_contracts.vocabulary import normalize_provider

from .chain import Head
from .package import RouteRow

ROUTE_SQL = """
SELECT r.route_id, r.schedule_id, r.plan_id, r.provider, r.owner, r.escalation_owner, r.route_created_at,
       r.state, COALESCE(r.acknowledgement_id, '') AS acknowledgement_id,
       COALESCE(r.acknowledged_by, '') AS acknowledged_by, r.acknowledged_at,
       COALESCE(r.external_ref, '') AS external_ref, COALESCE(r.notes, '') AS notes
FROM latest_plans l JOIN routes r ON r.plan_id = l.plan_id
WHERE ($1 = '' OR l.schedule_id = $1) AND ($2 = '' OR r.provider = $2) AND ($3 = '' OR r.owner = $3)
ORDER BY r.schedule_id, r.owner, r.provider, r.route_id
LIMIT $4
"""

SCHEDULE_COLUMNS = (
    "schedule_ref_id, schedule_ref, cadence, interval_minutes, filters, delivery_provider, delivery, "
    "created_by, created_at, due_at, delivery_count, last_delivery_id, last_delivered_at, last_problem, "
    "cancelled_at, cancelled_by"
)


async def current_routes(conn: asyncpg.Connection, filters: AuditFiltersV1, limit: int) -> list[RouteRow]:
    """At most ``limit`` routes of the current plan of each schedule matching ``filters``."""
    rows = await conn.fetch(
        ROUTE_SQL, filters.schedule_id, normalize_provider(filters.provider), filters.owner, limit
    )
    return [RouteRow(**dict(row)) for row in rows]


async def has_current_plan(conn: asyncpg.Connection, schedule_id: str) -> bool:
    return await conn.fetchval("SELECT 1 FROM latest_plans WHERE schedule_id = $1", schedule_id) is not None


# --- the chain ----------------------------------------------------------------------------------


async def lock_head(conn: asyncpg.Connection) -> Head | None:
    """The chain's head, locked until the transaction ends (None: the chain is empty)."""
    row = await conn.fetchrow("SELECT sequence, payload_sha256 FROM audit_chain_head WHERE id FOR UPDATE")
    if row is None or row["sequence"] == 0:
        return None
    return Head(int(row["sequence"]), str(row["payload_sha256"]))


async def register_key(conn: asyncpg.Connection, record: Mapping[str, Any], now: datetime) -> None:
    """Publish the signing key's public half; any other open key ends its validity now."""
    await conn.execute(
        """INSERT INTO audit_signing_keys (key_id, algorithm, public_key, valid_from)
           VALUES ($1, $2, $3, $4) ON CONFLICT (key_id) DO NOTHING""",
        record["key_id"],
        record["algorithm"],
        record["public_key"],
        now,
    )
    await conn.execute(
        """UPDATE audit_signing_keys SET valid_until = $2
           WHERE key_id <> $1 AND valid_until IS NULL AND valid_from < $2""",
        record["key_id"],
        now,
    )


async def append_package(
    conn: asyncpg.Connection,
    *,
    head: Head,
    previous_hash: str,
    package: Mapping[str, Any],
    envelope: Mapping[str, Any],
    key_id: str,
    trigger: str,
    command_id: str,
    summary: Mapping[str, Any],
    generated_at: datetime,
) -> None:
    """Store the package at ``head.sequence`` and move the (locked) head there."""
    await conn.execute(
        """INSERT INTO audit_packages (sequence, audit_id, previous_hash, payload_sha256, key_id,
               generated_at, generated_by, alert_level, trigger, command_id, summary, envelope)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)""",
        head.sequence,
        package["audit_id"],
        previous_hash,
        head.payload_sha256,
        key_id,
        generated_at,
        package["generated_by"],
        package["alert_level"],
        trigger,
        command_id,
        summary,
        envelope,
    )
    await conn.execute(
        "UPDATE audit_chain_head SET sequence = $1, payload_sha256 = $2 WHERE id",
        head.sequence,
        head.payload_sha256,
    )


async def package_by_id(conn: asyncpg.Connection, audit_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT sequence, audit_id, generated_at, generated_by, trigger, summary, envelope "
        "FROM audit_packages WHERE audit_id = $1",
        audit_id,
    )


async def head_sequence(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT sequence FROM audit_chain_head WHERE id"))


async def chain_page(
    conn: asyncpg.Connection, after: int, last: int, max_bytes: int
) -> list[tuple[int, str, dict[str, Any]]]:
    """``(sequence, payload_sha256, envelope)`` after ``after`` up to ``last``, at most ``max_bytes``
    of envelopes (always at least one)."""
    page: list[tuple[int, str, dict[str, Any]]] = []
    size = 0
    async with conn.transaction():
        cursor = conn.cursor(
            "SELECT sequence, payload_sha256, envelope FROM audit_packages "
            "WHERE sequence > $1 AND sequence <= $2 ORDER BY sequence",
            after,
            last,
        )
        async for row in cursor:
            envelope = row["envelope"]
            size += len(json.dumps(envelope))
            if page and size > max_bytes:
                break
            page.append((int(row["sequence"]), str(row["payload_sha256"]), envelope))
    return page


async def public_keys(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            "SELECT key_id, algorithm, public_key, valid_from, valid_until FROM audit_signing_keys "
            "ORDER BY valid_from, key_id"
        )
    )


# --- deliveries and schedules -------------------------------------------------------------------


async def insert_delivery(
    conn: asyncpg.Connection, plan: Mapping[str, Any], schedule_ref_id: str | None, now: datetime
) -> None:
    await conn.execute(
        """INSERT INTO audit_deliveries (delivery_id, audit_id, schedule_ref_id, plan, created_at)
           VALUES ($1, $2, $3, $4, $5)""",
        plan["delivery_id"],
        plan["audit_id"],
        schedule_ref_id,
        plan,
        now,
    )


async def deliveries_of(conn: asyncpg.Connection, audit_id: str) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            "SELECT delivery_id, schedule_ref_id, plan FROM audit_deliveries WHERE audit_id = $1 "
            "ORDER BY created_at, delivery_id",
            audit_id,
        )
    )


async def insert_schedule(conn: asyncpg.Connection, row: Mapping[str, Any]) -> None:
    await conn.execute(
        """INSERT INTO audit_schedules (schedule_ref_id, schedule_ref, cadence, interval_minutes, filters,
                                        delivery_provider, delivery, created_by, created_at, due_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)""",
        row["schedule_ref_id"],
        row["schedule_ref"],
        row["cadence"],
        row["interval_minutes"],
        row["filters"],
        row["delivery_provider"],
        row["delivery"],
        row["created_by"],
        row["created_at"],
        row["due_at"],
    )


async def any_due(conn: asyncpg.Connection, now: datetime) -> bool:
    found = await conn.fetchval(
        "SELECT 1 FROM audit_schedules WHERE cancelled_at IS NULL AND due_at <= $1 LIMIT 1", now
    )
    return found is not None


async def due_schedules(conn: asyncpg.Connection, now: datetime, limit: int) -> list[asyncpg.Record]:
    """Active schedules due by ``now``, locked; other replicas skip them."""
    return list(
        await conn.fetch(
            f"""SELECT {SCHEDULE_COLUMNS} FROM audit_schedules
                WHERE cancelled_at IS NULL AND due_at <= $1
                ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED""",
            now,
            limit,
        )
    )


async def schedule_ran(
    conn: asyncpg.Connection,
    schedule_ref_id: str,
    *,
    due_at: datetime,
    delivery_id: str | None,
    now: datetime,
    problem: str | None,
) -> None:
    await conn.execute(
        """UPDATE audit_schedules
           SET due_at = $2, last_problem = $5,
               delivery_count = delivery_count + (CASE WHEN $3::text IS NULL THEN 0 ELSE 1 END),
               last_delivery_id = COALESCE($3, last_delivery_id),
               last_delivered_at = CASE WHEN $3::text IS NULL THEN last_delivered_at ELSE $4 END
           WHERE schedule_ref_id = $1""",
        schedule_ref_id,
        due_at,
        delivery_id,
        now,
        problem,
    )


async def cancel_schedule(
    conn: asyncpg.Connection, schedule_ref_id: str, actor: str, now: datetime
) -> str | None:
    """Cancel an active schedule: ``cancelled``; ``already`` when it was; None when it does not exist."""
    row = await conn.fetchrow(
        "SELECT cancelled_at FROM audit_schedules WHERE schedule_ref_id = $1 FOR UPDATE", schedule_ref_id
    )
    if row is None:
        return None
    if row["cancelled_at"] is not None:
        return "already"
    await conn.execute(
        "UPDATE audit_schedules SET cancelled_at = $2, cancelled_by = $3 WHERE schedule_ref_id = $1",
        schedule_ref_id,
        now,
        actor,
    )
    return "cancelled"


async def schedules(
    conn: asyncpg.Connection, include_cancelled: bool, limit: int
) -> tuple[list[asyncpg.Record], int]:
    """The first ``limit`` schedules (active first) and how many there are."""
    total = await conn.fetchval(
        "SELECT count(*) FROM audit_schedules WHERE $1 OR cancelled_at IS NULL", include_cancelled
    )
    rows = list(
        await conn.fetch(
            f"""SELECT {SCHEDULE_COLUMNS} FROM audit_schedules
                WHERE $1 OR cancelled_at IS NULL
                ORDER BY cancelled_at IS NOT NULL, created_at, schedule_ref_id LIMIT $2""",
            include_cancelled,
            limit,
        )
    )
    return rows, int(total)


async def schedule_by_id(conn: asyncpg.Connection, schedule_ref_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {SCHEDULE_COLUMNS} FROM audit_schedules WHERE schedule_ref_id = $1", schedule_ref_id
    )
