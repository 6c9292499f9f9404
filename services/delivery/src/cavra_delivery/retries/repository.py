"""SQL of retry plans and their decisions (``$n`` parameters only). Worker runs, schedules and
executions are in :mod:`~cavra_delivery.retries.runs_repository`, approvals in
:mod:`~cavra_delivery.retries.approval_repository`; the stored jobs a retry re-sends are the
pipeline's, in :mod:`cavra_delivery.repository`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import asyncpg

from cavra_contracts.retries import MAX_BACKOFF_MINUTES, retry_digest


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
           j.payload_hash, j.attempt AS max_attempt, jp.delivered AS latest_delivered,
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
        next_retry_at, failed_status_codes, payload_hash, attempt)
    SELECT $1, row_number() OVER (ORDER BY c.origin_job_id, c.provider), $3, c.origin_job_id, c.provider,
           c.action,
           CASE c.action WHEN 'suppress' THEN 'maximum retry attempts ' || $4 || ' reached'
                         WHEN 'wait'
                         THEN 'retry delay ' || floor(c.delay)::bigint || ' minutes has not elapsed'
                         ELSE $8 END,
           c.retry_count, $4, floor(c.delay)::integer, c.latest_job_id, c.latest_at, c.next_at, c.codes,
           c.payload_hash, c.max_attempt + 1
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
    "retryable_count, waiting_count, suppressed_count, decisions_pruned_at"
)
DECISION_COLUMNS = (
    "d.retry_plan_id, d.ordinal, d.family, d.origin_job_id, d.provider, d.action, d.reason, d.retry_count, "
    "d.max_retry_attempts, d.retry_delay_minutes, d.latest_job_id, d.latest_delivery_at, d.next_retry_at, "
    "d.failed_status_codes, d.payload_hash, d.attempt, COALESCE(j.ids, '{}'::jsonb) AS ids"
)
"""A decision as read (alias ``d``, with :data:`DECISION_JOIN`): its family ids are its job's."""
DECISION_JOIN = "LEFT JOIN delivery_jobs j ON j.job_id = d.latest_job_id"


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
            f"SELECT {DECISION_COLUMNS} FROM retry_decisions d {DECISION_JOIN} WHERE d.retry_plan_id = $1 "
            "ORDER BY d.ordinal LIMIT $2 OFFSET $3",
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
        f"SELECT {DECISION_COLUMNS} FROM retry_decisions d {DECISION_JOIN} WHERE d.retry_plan_id = $1 "
        "AND d.provider = $2 "
        "AND ($3 = '' OR d.origin_job_id = $3) ORDER BY d.ordinal LIMIT 1",
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
            f"""SELECT {DECISION_COLUMNS} FROM retry_decisions d {DECISION_JOIN}
                WHERE d.retry_plan_id = $1 AND d.ordinal > $3 AND d.ordinal <= $3 + $4 AND d.action = 'retry'
                  AND NOT EXISTS (
                    SELECT 1 FROM retry_executions e
                    WHERE e.family = d.family AND e.origin_job_id = d.origin_job_id
                      AND e.provider = d.provider AND e.attempt = d.attempt
                      AND e.execution_status <> 'skipped')
                ORDER BY d.ordinal LIMIT $2""",
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
    its approval): one row per decision and approval, latest decided first
    (:func:`cavra_delivery.retries.workers.counting` picks the one that counts)."""
    return _digested(
        await conn.fetch(
            f"""SELECT {DECISION_COLUMNS}, a.approval_id, a.digest AS approved_digest,
                       a.execute_by, a.state AS approval_state, a.decision_id
                FROM approvals a JOIN retry_decisions d
                  ON d.family = a.family AND d.origin_job_id = a.origin_job_id AND d.provider = a.provider
                {DECISION_JOIN}
                WHERE a.family = $2 AND (a.state IN ('approved', 'consumed')
                      OR (a.state = 'expired' AND a.execute_by IS NOT NULL))
                  AND d.retry_plan_id = $1 AND d.action = 'retry'
                ORDER BY d.ordinal, a.decided_at DESC""",
            retry_plan_id,
            family,
        )
    )


async def prune_decisions(conn: asyncpg.Connection, before: datetime, now: datetime) -> int:
    """Delete the decisions of the oldest plan generated before ``before`` (its counts stay); how many
    plans were pruned (0 or 1). Another replica skips a plan this one prunes."""
    plan_id = await conn.fetchval(
        """SELECT retry_plan_id FROM retry_plans WHERE decisions_pruned_at IS NULL AND generated_at < $1
           ORDER BY generated_at LIMIT 1 FOR UPDATE SKIP LOCKED""",
        before,
    )
    if plan_id is None:
        return 0
    await conn.execute("DELETE FROM retry_decisions WHERE retry_plan_id = $1", plan_id)
    await conn.execute(
        "UPDATE retry_plans SET decisions_pruned_at = $2 WHERE retry_plan_id = $1", plan_id, now
    )
    return 1
