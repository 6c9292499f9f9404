"""SQL of worker runs, worker schedules and execution records (``$n`` parameters only)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import asyncpg

# --- worker runs and schedules ------------------------------------------------------------------


async def insert_run(conn: asyncpg.Connection, run: Mapping[str, Any]) -> bool:
    inserted = await conn.fetchval(
        """INSERT INTO worker_runs (run_id, family, generated_at, generated_by, dry_run, scheduled,
               retry_plan_id, retryable_count, selected_retry_count, approval_pending_count,
               schedule_enabled, document)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::text::jsonb)
           ON CONFLICT (run_id) DO NOTHING RETURNING 1""",
        run["run_id"],
        run["family"],
        run["generated_at"],
        run["generated_by"],
        run["dry_run"],
        run["scheduled"],
        run["retry_plan_id"],
        run["retryable_count"],
        run["selected_retry_count"],
        run["approval_pending_count"],
        run["schedule_enabled"],
        json.dumps(run["document"], default=str),
    )
    return inserted is not None


async def runs(
    conn: asyncpg.Connection, family: str, dry_run: bool | None, limit: int, offset: int
) -> tuple[list[asyncpg.Record], int]:
    rows = await conn.fetch(
        """SELECT document FROM worker_runs WHERE family = $1 AND ($2::boolean IS NULL OR dry_run = $2)
           ORDER BY generated_at DESC, run_id LIMIT $3 OFFSET $4""",
        family,
        dry_run,
        limit,
        offset,
    )
    total = await conn.fetchval(
        "SELECT count(*) FROM worker_runs WHERE family = $1 AND ($2::boolean IS NULL OR dry_run = $2)",
        family,
        dry_run,
    )
    return list(rows), int(total)


async def run_totals(conn: asyncpg.Connection, family: str) -> asyncpg.Record:
    row = await conn.fetchrow(
        """SELECT count(*) AS run_count, count(*) FILTER (WHERE dry_run) AS dry_run_count,
                  count(*) FILTER (WHERE NOT dry_run) AS executed_count,
                  COALESCE(sum(retryable_count), 0) AS retryable_count,
                  COALESCE(sum(selected_retry_count), 0) AS selected_retry_count
           FROM worker_runs WHERE family = $1""",
        family,
    )
    assert row is not None
    return row


async def upsert_schedule(
    conn: asyncpg.Connection,
    family: str,
    schedule: Mapping[str, Any],
    policy: Mapping[str, Any],
    due_at: datetime,
    now: datetime,
    by: str,
) -> None:
    await conn.execute(
        """INSERT INTO worker_schedules (family, interval_minutes, enabled, execute, cadence,
               max_retry_deliveries, policy, due_at, updated_at, updated_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7::text::jsonb, $8, $9, $10)
           ON CONFLICT (family) DO UPDATE SET interval_minutes = EXCLUDED.interval_minutes,
               enabled = EXCLUDED.enabled, execute = EXCLUDED.execute, cadence = EXCLUDED.cadence,
               max_retry_deliveries = EXCLUDED.max_retry_deliveries, policy = EXCLUDED.policy,
               due_at = EXCLUDED.due_at, updated_at = EXCLUDED.updated_at,
               updated_by = EXCLUDED.updated_by""",
        family,
        schedule["interval_minutes"],
        schedule["enabled"],
        schedule["execute"],
        schedule["cadence"],
        schedule["max_retry_deliveries"],
        json.dumps(dict(policy)),
        due_at,
        now,
        by,
    )


SCHEDULE_COLUMNS = (
    "family, interval_minutes, enabled, execute, cadence, max_retry_deliveries, policy, due_at, "
    "updated_at, updated_by"
)


async def schedule(conn: asyncpg.Connection, family: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {SCHEDULE_COLUMNS} FROM worker_schedules WHERE family = $1", family)


async def any_schedule_due(conn: asyncpg.Connection, now: datetime) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM worker_schedules WHERE enabled AND due_at <= $1)", now
        )
    )


async def due_schedules(conn: asyncpg.Connection, now: datetime, batch: int) -> list[asyncpg.Record]:
    """Due schedules, locked for this transaction; another replica skips them."""
    return list(
        await conn.fetch(
            f"""SELECT {SCHEDULE_COLUMNS} FROM worker_schedules WHERE enabled AND due_at <= $1
                ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED""",
            now,
            batch,
        )
    )


async def schedule_ran(conn: asyncpg.Connection, family: str, due_at: datetime) -> None:
    await conn.execute("UPDATE worker_schedules SET due_at = $2 WHERE family = $1", family, due_at)


# --- executions ----------------------------------------------------------------------------------

EXECUTION_COLUMNS = (
    "execution_id, family, run_id, retry_plan_id, origin_job_id, provider, attempt, retry_job_id, digest, "
    "approval_id, execution_status, skipped, executed_at, executed_by, completed_at, delivery_success, "
    "delivery_record_id, execution_hash, document"
)


async def insert_executions(
    conn: asyncpg.Connection, documents: list[dict[str, Any]], now: datetime
) -> set[str]:
    """New pending execution records in one statement; the ids stored (an attempt of a chain and
    provider that has one already is left out)."""
    rows = await conn.fetch(
        """INSERT INTO retry_executions (execution_id, family, run_id, retry_plan_id, origin_job_id, provider,
               attempt, retry_job_id, digest, approval_id, execution_status, skipped, executed_at,
               executed_by, document)
           SELECT e.execution_id, e.family, e.run_id, e.retry_plan_id, e.origin_job_id, e.provider, e.attempt,
                  e.retry_job_id, e.digest, NULLIF(e.approval_id, ''), 'pending', '', $13, e.executed_by,
                  e.document::jsonb
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::integer[],
                       $8::text[], $9::text[], $10::text[], $11::text[], $12::text[])
                AS e(execution_id, family, run_id, retry_plan_id, origin_job_id, provider, attempt,
                     retry_job_id, digest, approval_id, executed_by, document)
           ON CONFLICT DO NOTHING RETURNING execution_id""",
        *(
            [d[name] for d in documents]
            for name in (
                "execution_id",
                "family",
                "run_id",
                "retry_plan_id",
                "origin_job_id",
                "provider",
                "attempt",
                "retry_job_id",
                "digest",
                "approval_id",
                "executed_by",
            )
        ),
        [json.dumps(d, default=str) for d in documents],
        now,
    )
    return {row["execution_id"] for row in rows}


async def delete_executions(conn: asyncpg.Connection, execution_ids: list[str]) -> None:
    """Take back executions whose approval another run consumed first (same transaction)."""
    await conn.execute("DELETE FROM retry_executions WHERE execution_id = ANY($1::text[])", execution_ids)


async def execution(conn: asyncpg.Connection, execution_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {EXECUTION_COLUMNS} FROM retry_executions WHERE execution_id = $1", execution_id
    )


async def complete_execution(conn: asyncpg.Connection, execution_id: str, done: Mapping[str, Any]) -> bool:
    """Complete a pending execution once; False when it was completed already."""
    updated = await conn.fetchval(
        """UPDATE retry_executions SET execution_status = $2, skipped = $3, completed_at = $4,
               delivery_success = $5, delivery_record_id = $6, execution_hash = $7, document = $8::text::jsonb
           WHERE execution_id = $1 AND execution_status = 'pending' RETURNING 1""",
        execution_id,
        done["execution_status"],
        done["skipped"],
        done["completed_at"],
        done["delivery_success"],
        done["delivery_record_id"],
        done["execution_hash"],
        json.dumps(done["document"], default=str),
    )
    return updated is not None


async def executions(
    conn: asyncpg.Connection, family: str | None, run_id: str, limit: int, offset: int
) -> tuple[list[asyncpg.Record], int]:
    where = "($1::text IS NULL OR family = $1) AND ($2 = '' OR run_id = $2)"
    rows = await conn.fetch(
        f"SELECT document FROM retry_executions WHERE {where} ORDER BY executed_at DESC, execution_id "
        "LIMIT $3 OFFSET $4",
        family,
        run_id,
        limit,
        offset,
    )
    total = await conn.fetchval(f"SELECT count(*) FROM retry_executions WHERE {where}", family, run_id)
    return list(rows), int(total)


async def lost_executions(conn: asyncpg.Connection, before: datetime, batch: int) -> list[asyncpg.Record]:
    """Executions still pending since before ``before``, locked; other replicas skip them."""
    return list(
        await conn.fetch(
            f"""SELECT {EXECUTION_COLUMNS} FROM retry_executions
                WHERE execution_status = 'pending' AND executed_at < $1
                ORDER BY executed_at LIMIT $2 FOR UPDATE SKIP LOCKED""",
            before,
            batch,
        )
    )
