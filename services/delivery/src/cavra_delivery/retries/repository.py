"""All SQL of retries (``$n`` parameters only): stored jobs, retry plans and decisions, worker runs and
schedules, executions. The approval tables are in :mod:`cavra_delivery.retries.approval_repository`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import asyncpg

from cavra_contracts.retries import MAX_BACKOFF_MINUTES, retry_digest

if TYPE_CHECKING:
    from cavra_delivery.jobs import Job


def with_digest(row: Mapping[str, Any]) -> dict[str, Any]:
    """A decision row as a dict with its ``digest`` (:func:`cavra_contracts.retries.retry_digest`)."""
    decision = dict(row)
    decision["digest"] = retry_digest(
        decision["family"],
        decision["origin_job_id"],
        decision["provider"],
        decision["payload_hash"],
        decision["attempt"],
    )
    return decision


async def store_job(conn: asyncpg.Connection, job: Job, now: datetime) -> None:
    """Keep the job's message (once: a redelivered job keeps its first row)."""
    stored = job.stored
    assert stored is not None
    await conn.execute(
        """INSERT INTO delivery_jobs (job_id, source, origin_job_id, attempt, message_type, message,
                                      payload_hash, ids, created_at)
           VALUES ($1, $2, $3, $4, $5, $6::text::jsonb, $7, $8::text::jsonb, $9)
           ON CONFLICT (job_id) DO NOTHING""",
        job.job_id,
        job.source,
        stored.origin_job_id,
        stored.attempt,
        stored.message_type,
        json.dumps(stored.message, separators=(",", ":")),
        stored.payload_hash,
        json.dumps(dict(job.ids), separators=(",", ":")),
        now,
    )


async def job(conn: asyncpg.Connection, job_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT job_id, source, origin_job_id, attempt, message_type, message, payload_hash, ids "
        "FROM delivery_jobs WHERE job_id = $1",
        job_id,
    )


# One statement: failed (job, provider) pairs of the family -> chains (origin job, provider) whose
# latest attempt failed (one sort: the window counts the chain's failures and finds its newest
# attempt) -> decisions (spec §3.12) -> retry_decisions, then the plan row with its counts. A
# decision's digest is not stored: it is retry_digest() of its stored columns (with_digest).
_PLAN = f"""
WITH job_provider AS (
    SELECT d.job_id, d.provider,
           bool_and(d.status = 'delivered') AS delivered,
           max(d.completed_at) AS at,
           COALESCE(array_agg(d.status_code) FILTER (WHERE d.status_code IS NOT NULL), '{{}}') AS codes
    FROM deliveries d
    WHERE d.source = $2
    GROUP BY d.job_id, d.provider
), attempts AS (
    SELECT j.origin_job_id, jp.provider, j.job_id AS latest_job_id, jp.at AS latest_at, jp.codes,
           j.payload_hash, j.ids, j.attempt AS max_attempt, jp.delivered AS latest_delivered,
           count(*) FILTER (WHERE NOT jp.delivered) OVER chain AS retry_count,
           row_number() OVER chain AS newest
    FROM job_provider jp JOIN delivery_jobs j ON j.job_id = jp.job_id
    WINDOW chain AS (PARTITION BY j.origin_job_id, jp.provider ORDER BY j.attempt DESC
                     ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
), chains AS (
    SELECT * FROM attempts WHERE newest = 1
), decided AS (
    SELECT c.*, least($5::double precision * power($6::double precision, greatest(c.retry_count - 1, 0)),
                      {MAX_BACKOFF_MINUTES}) AS delay
    FROM chains c
    WHERE NOT c.latest_delivered
), acted AS (
    SELECT d.*, CASE WHEN d.retry_count >= $4 THEN 'suppress' WHEN $7 < d.next_at THEN 'wait'
                     ELSE 'retry' END AS action
    FROM (SELECT d.*, d.latest_at + d.delay * interval '1 minute' AS next_at FROM decided d) d
), inserted AS (
    INSERT INTO retry_decisions (retry_plan_id, ordinal, family, origin_job_id, provider, action, reason,
        retry_count, max_retry_attempts, retry_delay_minutes, latest_job_id, latest_delivery_at,
        next_retry_at, failed_status_codes, payload_hash, attempt, ids)
    SELECT $1, row_number() OVER (ORDER BY c.origin_job_id, c.provider), $3, c.origin_job_id, c.provider,
           c.action,
           CASE c.action WHEN 'suppress' THEN 'maximum retry attempts ' || $4 || ' reached'
                         WHEN 'wait'
                         THEN 'retry delay ' || floor(c.delay)::bigint || ' minutes has not elapsed'
                         ELSE $8 END,
           c.retry_count, $4, floor(c.delay)::integer, c.latest_job_id, c.latest_at, c.next_at, c.codes,
           c.payload_hash, c.max_attempt + 1, c.ids
    FROM acted c
    RETURNING action
)
INSERT INTO retry_plans (retry_plan_id, family, generated_at, generated_by, policy, alert_level,
                         decision_count, retryable_count, waiting_count, suppressed_count)
SELECT $1, $3, $7, $9, $10::text::jsonb,
       CASE WHEN count(*) FILTER (WHERE action = 'retry') > 0 THEN 'critical'
            WHEN count(*) FILTER (WHERE action = 'wait') > 0 THEN 'warning' ELSE 'healthy' END,
       count(*), count(*) FILTER (WHERE action = 'retry'), count(*) FILTER (WHERE action = 'wait'),
       count(*) FILTER (WHERE action = 'suppress')
FROM inserted
ON CONFLICT (retry_plan_id) DO NOTHING
RETURNING retry_plan_id
"""

PLAN_COLUMNS = (
    "retry_plan_id, family, generated_at, generated_by, policy, alert_level, decision_count, "
    "retryable_count, waiting_count, suppressed_count"
)
DECISION_COLUMNS = (
    "retry_plan_id, ordinal, family, origin_job_id, provider, action, reason, retry_count, "
    "max_retry_attempts, retry_delay_minutes, latest_job_id, latest_delivery_at, next_retry_at, "
    "failed_status_codes, payload_hash, attempt, ids"
)


async def generate_plan(
    conn: asyncpg.Connection,
    *,
    retry_plan_id: str,
    source: str,
    family: str,
    policy: Mapping[str, Any],
    reason: str,
    generated_by: str,
    now: datetime,
) -> asyncpg.Record:
    """Compute and store a retry plan in one statement; the stored plan row (an existing one for a
    repeated id)."""
    await conn.execute("SET LOCAL work_mem = '64MB'")  # the chains sort in memory (inside a transaction)
    await conn.execute(
        _PLAN,
        retry_plan_id,
        source,
        family,
        policy["max_retry_attempts"],
        float(policy["retry_delay_minutes"]),
        float(policy["backoff_multiplier"]),
        now,
        reason,
        generated_by,
        json.dumps(dict(policy)),
    )
    found = await plan(conn, retry_plan_id)
    assert found is not None
    return found


async def plan(conn: asyncpg.Connection, retry_plan_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {PLAN_COLUMNS} FROM retry_plans WHERE retry_plan_id = $1", retry_plan_id
    )


async def decisions(
    conn: asyncpg.Connection, retry_plan_id: str, limit: int, offset: int = 0
) -> list[dict[str, Any]]:
    return _digested(
        await conn.fetch(
            f"SELECT {DECISION_COLUMNS} FROM retry_decisions WHERE retry_plan_id = $1 "
            "ORDER BY ordinal LIMIT $2 OFFSET $3",
            retry_plan_id,
            limit,
            offset,
        )
    )


async def decision_for(
    conn: asyncpg.Connection, retry_plan_id: str, provider: str, origin_job_id: str
) -> dict[str, Any] | None:
    """The plan's decision for ``provider`` (and the origin job, when given): the first by ordinal."""
    row = await conn.fetchrow(
        f"SELECT {DECISION_COLUMNS} FROM retry_decisions WHERE retry_plan_id = $1 AND provider = $2 "
        "AND ($3 = '' OR origin_job_id = $3) ORDER BY ordinal LIMIT 1",
        retry_plan_id,
        provider,
        origin_job_id,
    )
    return with_digest(row) if row is not None else None


def _digested(rows: list[asyncpg.Record]) -> list[dict[str, Any]]:
    return [with_digest(row) for row in rows]


SELECTION_PAGE = 500


async def retry_decisions(conn: asyncpg.Connection, retry_plan_id: str, limit: int) -> list[dict[str, Any]]:
    """The plan's first ``limit`` retry decisions not being executed already (a dry run or an ungated
    family selects these). Read by ordinal ranges: a fresh plan has no statistics yet, and a range
    keeps the planner on the primary key instead of sorting the whole plan."""
    found: list[dict[str, Any]] = []
    last = (
        await conn.fetchval("SELECT decision_count FROM retry_plans WHERE retry_plan_id = $1", retry_plan_id)
        or 0
    )
    after = 0
    while len(found) < limit and after < last:  # bounded: decision_count / SELECTION_PAGE ranges
        rows = await conn.fetch(
            f"""SELECT {DECISION_COLUMNS} FROM retry_decisions d
                WHERE retry_plan_id = $1 AND ordinal > $3 AND ordinal <= $3 + $4 AND action = 'retry'
                  AND NOT EXISTS (
                    SELECT 1 FROM retry_executions e
                    WHERE e.family = d.family AND e.origin_job_id = d.origin_job_id
                      AND e.provider = d.provider AND e.attempt = d.attempt
                      AND e.execution_status <> 'skipped')
                ORDER BY ordinal LIMIT $2""",
            retry_plan_id,
            limit - len(found),
            after,
            SELECTION_PAGE,
        )
        found.extend(_digested(rows))
        after += SELECTION_PAGE
    return found


async def approved_retry_decisions(
    conn: asyncpg.Connection, retry_plan_id: str, family: str
) -> list[dict[str, Any]]:
    """The plan's retry decisions that have an approval (approved, consumed already, or expired after
    its approval), with the approval that counts: an unconsumed one first, then the latest."""
    prefixed = ", ".join(f"d.{name.strip()}" for name in DECISION_COLUMNS.split(","))
    return _digested(
        await conn.fetch(
            f"""SELECT DISTINCT ON (d.ordinal) {prefixed}, a.approval_id, a.digest AS approved_digest,
                       a.execute_by, a.state AS approval_state, a.decision_id
                FROM approvals a JOIN retry_decisions d
                  ON d.family = a.family AND d.origin_job_id = a.origin_job_id AND d.provider = a.provider
                WHERE a.family = $2 AND (a.state IN ('approved', 'consumed')
                      OR (a.state = 'expired' AND a.execute_by IS NOT NULL))
                  AND d.retry_plan_id = $1 AND d.action = 'retry'
                ORDER BY d.ordinal, (a.state = 'approved') DESC, a.decided_at DESC""",
            retry_plan_id,
            family,
        )
    )


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
