"""All SQL of the scheduler (``$n`` parameters only). Tables live in the ``scheduler`` schema."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg


@dataclass(frozen=True)
class StoredSchedule:
    schedule_id: str
    document: dict[str, Any]
    version: int
    status: str
    source: str
    created_at: datetime
    updated_at: datetime


_SCHEDULE_COLUMNS = "schedule_id, document, version, status, source, created_at, updated_at"


def _schedule(row: asyncpg.Record) -> StoredSchedule:
    return StoredSchedule(
        schedule_id=row["schedule_id"],
        document=row["document"],
        version=row["version"],
        status=row["status"],
        source=row["source"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


async def lock_schedule(conn: asyncpg.Connection, schedule_id: str) -> StoredSchedule | None:
    row = await conn.fetchrow(
        f"SELECT {_SCHEDULE_COLUMNS} FROM schedules WHERE schedule_id = $1 FOR UPDATE", schedule_id
    )
    return _schedule(row) if row else None


async def get_schedule(conn: asyncpg.Connection, schedule_id: str) -> StoredSchedule | None:
    row = await conn.fetchrow(
        f"SELECT {_SCHEDULE_COLUMNS} FROM schedules WHERE schedule_id = $1", schedule_id
    )
    return _schedule(row) if row else None


async def first_schedule(conn: asyncpg.Connection) -> StoredSchedule | None:
    row = await conn.fetchrow(
        f"SELECT {_SCHEDULE_COLUMNS} FROM schedules ORDER BY created_at, schedule_id LIMIT 1"
    )
    return _schedule(row) if row else None


@dataclass(frozen=True)
class ListedSchedule:
    """A schedule with the drills that count for it (its own plus shared ones) and their environment."""

    stored: StoredSchedule
    drills: list[dict[str, Any]]
    environment: str


async def list_schedules_with_drills(
    conn: asyncpg.Connection, limit: int, offset: int
) -> tuple[list[ListedSchedule], int]:
    """One page of schedules with their drills, and the number of schedules: one statement.

    The drills per schedule are those ``drills_for`` returns, in the same order.
    """
    rows = await conn.fetch(
        f"""WITH page AS (
                SELECT {_SCHEDULE_COLUMNS} FROM schedules
                ORDER BY created_at, schedule_id LIMIT $1 OFFSET $2
            )
            SELECT (SELECT count(*) FROM schedules) AS total, page.*,
                   coalesce(counted.drills, '[]'::jsonb) AS drills,
                   coalesce(counted.environment, '') AS environment
            FROM (SELECT 1) AS one
            LEFT JOIN page ON true
            LEFT JOIN LATERAL (
                SELECT jsonb_agg(d.document ORDER BY d.executed_at, d.drill_id) AS drills,
                       (array_agg(d.environment ORDER BY d.executed_at DESC, d.drill_id DESC))[1]
                           AS environment
                FROM drill_runs d
                WHERE d.schedule_id = page.schedule_id OR d.schedule_id IS NULL
            ) AS counted ON page.schedule_id IS NOT NULL
            ORDER BY page.created_at, page.schedule_id""",
        limit,
        offset,
    )
    total = int(rows[0]["total"]) if rows else 0
    listed = [
        ListedSchedule(stored=_schedule(row), drills=list(row["drills"]), environment=row["environment"])
        for row in rows
        if row["schedule_id"] is not None
    ]
    return listed, total


async def all_schedule_ids_for_update(conn: asyncpg.Connection) -> list[str]:
    rows = await conn.fetch("SELECT schedule_id FROM schedules ORDER BY schedule_id FOR UPDATE")
    return [row["schedule_id"] for row in rows]


async def claim_due(conn: asyncpg.Connection, now: datetime, limit: int) -> list[StoredSchedule]:
    """Lock schedules whose re-evaluation is due; replicas skip each other's rows."""
    rows = await conn.fetch(
        f"""SELECT {_SCHEDULE_COLUMNS} FROM schedules
            WHERE due_at IS NOT NULL AND due_at <= $1
            ORDER BY due_at
            LIMIT $2
            FOR UPDATE SKIP LOCKED""",
        now,
        limit,
    )
    return [_schedule(row) for row in rows]


async def insert_schedule(
    conn: asyncpg.Connection,
    *,
    schedule_id: str,
    document: dict[str, Any],
    source: str,
    status: str,
    state: dict[str, Any],
    evaluated_at: datetime,
    due_at: datetime | None,
) -> None:
    await conn.execute(
        """INSERT INTO schedules (schedule_id, document, source, created_at, updated_at, status, state,
                                  evaluated_at, due_at)
           VALUES ($1, $2, $3, $4, $4, $5, $6, $4, $7)""",
        schedule_id,
        document,
        source,
        evaluated_at,
        status,
        state,
        due_at,
    )


async def replace_document(
    conn: asyncpg.Connection, schedule_id: str, document: dict[str, Any], source: str, now: datetime
) -> int:
    """Replace a schedule's document whole; returns the new version."""
    return int(
        await conn.fetchval(
            """UPDATE schedules SET document = $2, source = $3, version = version + 1, updated_at = $4
               WHERE schedule_id = $1 RETURNING version""",
            schedule_id,
            document,
            source,
            now,
        )
    )


async def save_evaluation(
    conn: asyncpg.Connection,
    schedule_id: str,
    *,
    status: str,
    state: dict[str, Any],
    evaluated_at: datetime,
    due_at: datetime | None,
) -> None:
    await conn.execute(
        "UPDATE schedules SET status = $2, state = $3, evaluated_at = $4, due_at = $5 WHERE schedule_id = $1",
        schedule_id,
        status,
        state,
        evaluated_at,
        due_at,
    )


async def upsert_drill(
    conn: asyncpg.Connection,
    *,
    drill_id: str,
    schedule_id: str | None,
    environment: str,
    executed_at: datetime,
    status: str,
    document: dict[str, Any],
    source: str,
) -> bool:
    """Insert or replace a drill run; True when it is new."""
    inserted = await conn.fetchval(
        """INSERT INTO drill_runs (drill_id, schedule_id, environment, executed_at, status, document, source)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (drill_id) DO UPDATE
             SET schedule_id = EXCLUDED.schedule_id, environment = EXCLUDED.environment,
                 executed_at = EXCLUDED.executed_at, status = EXCLUDED.status,
                 document = EXCLUDED.document, source = EXCLUDED.source
           RETURNING (xmax = 0)""",
        drill_id,
        schedule_id,
        environment,
        executed_at,
        status,
        document,
        source,
    )
    return bool(inserted)


async def drills_for(conn: asyncpg.Connection, schedule_id: str | None) -> tuple[list[dict[str, Any]], str]:
    """Drill documents that count for ``schedule_id`` (its own plus shared ones), and their environment.

    With ``schedule_id`` None every drill counts.
    """
    if schedule_id is None:
        rows = await conn.fetch("SELECT document, environment FROM drill_runs ORDER BY executed_at, drill_id")
    else:
        rows = await conn.fetch(
            """SELECT document, environment FROM drill_runs
               WHERE schedule_id = $1 OR schedule_id IS NULL
               ORDER BY executed_at, drill_id""",
            schedule_id,
        )
    environment = rows[-1]["environment"] if rows else ""
    return [row["document"] for row in rows], environment


async def drill_document(conn: asyncpg.Connection, drill_id: str) -> dict[str, Any] | None:
    value = await conn.fetchval("SELECT document FROM drill_runs WHERE drill_id = $1", drill_id)
    return dict(value) if value is not None else None


async def lock_file_loading(conn: asyncpg.Connection) -> None:
    """Serialise start-up file loading between replicas (transaction-scoped)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('cavra-scheduler-file-load'))")
