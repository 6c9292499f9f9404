"""SQL of worker health and health alerts (``$n`` parameters only).

Reads the retry machinery's tables (``worker_runs``, ``retry_plans``, ``retry_executions``,
``worker_schedules``, ``delivery_jobs``) and the pipeline's ``delivery_records`` with aggregates,
never row by row; writes only this package's tables (migration 0008).

Failures count while they are unresolved: a failed or skipped execution until a later execution of
the same chain and provider was delivered, a failed delivery until a later job of its retry chain
succeeded. The original counts every failure forever, so a family that failed once never returned to
``healthy``; here a governed retry that worked clears the alert it caused.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from cavra_contracts.health import DONE_STATES, MAX_LISTED

from .domain import HealthFacts

FACTS_SQL = """
SELECT
    (SELECT count(*) FROM worker_runs WHERE family = $1) AS run_count,
    lr.run_id, lr.generated_at AS run_at, lr.selected_retry_count, lr.approval_pending_count,
    lr.schedule_enabled AS run_schedule_enabled,
    (SELECT enabled FROM worker_schedules WHERE family = $1) AS schedule_enabled,
    (SELECT count(*) FROM retry_plans WHERE family = $1) AS retry_plan_count,
    lp.retry_plan_id, lp.generated_at AS plan_at, lp.retryable_count,
    ex.total AS execution_count, ex.failed AS failed_execution_count,
    ex.delivered AS delivered_execution_count,
    (SELECT count(*) FROM delivery_records r LEFT JOIN delivery_jobs j ON j.job_id = r.job_id
     WHERE r.source = $2 AND NOT r.success AND NOT EXISTS (
         SELECT 1 FROM delivery_jobs later_job
         JOIN delivery_records later ON later.job_id = later_job.job_id AND later.success
         WHERE later_job.origin_job_id = COALESCE(j.origin_job_id, r.job_id)
           AND later.created_at >= r.created_at)) AS connector_failure_count
FROM (SELECT 1) AS one
LEFT JOIN LATERAL (
    SELECT run_id, generated_at, selected_retry_count, approval_pending_count, schedule_enabled
    FROM worker_runs WHERE family = $1 ORDER BY generated_at DESC, run_id DESC LIMIT 1
) AS lr ON true
LEFT JOIN LATERAL (
    SELECT retry_plan_id, generated_at, retryable_count
    FROM retry_plans WHERE family = $1 ORDER BY generated_at DESC, retry_plan_id DESC LIMIT 1
) AS lp ON true
CROSS JOIN LATERAL (
    SELECT count(*) AS total,
           count(*) FILTER (WHERE e.execution_status IN ('failed', 'skipped') AND NOT EXISTS (
               SELECT 1 FROM retry_executions later
               WHERE later.family = e.family AND later.origin_job_id = e.origin_job_id
                 AND later.provider = e.provider AND later.execution_status = 'delivered'
                 AND later.executed_at >= e.executed_at)) AS failed,
           count(*) FILTER (WHERE e.execution_status = 'delivered') AS delivered
    FROM retry_executions e WHERE e.family = $1
) AS ex
"""

FAILED_DELIVERIES_SQL = """
SELECT record_id, job_id, created_at, document->'failed_providers' AS failed_providers,
       document->'status_codes' AS status_codes
FROM delivery_records WHERE source = $1 AND NOT success
ORDER BY created_at DESC, record_id LIMIT $2
"""

LATEST_RUNS_SQL = """
SELECT run_id, generated_at, dry_run, scheduled, retry_plan_id, retryable_count, selected_retry_count,
       approval_pending_count
FROM worker_runs WHERE family = $1 ORDER BY generated_at DESC, run_id DESC LIMIT $2
"""


async def facts(conn: asyncpg.Connection, family: str, source: str) -> HealthFacts:
    """What the stored records of ``family`` (deliveries: ``source``) say, as aggregates (run it in a
    repeatable-read transaction for one snapshot)."""
    row = await conn.fetchrow(FACTS_SQL, family, source)
    failed = await conn.fetch(FAILED_DELIVERIES_SQL, source, MAX_LISTED)
    runs = await conn.fetch(LATEST_RUNS_SQL, family, MAX_LISTED)
    return HealthFacts(
        run_count=int(row["run_count"]),
        latest_run_id=row["run_id"],
        latest_run_at=row["run_at"],
        selected_retry_count=int(row["selected_retry_count"] or 0),
        pending_count=int(row["approval_pending_count"] or 0),
        latest_run_schedule_enabled=row["run_schedule_enabled"],
        schedule_enabled=row["schedule_enabled"],
        retry_plan_count=int(row["retry_plan_count"]),
        latest_retry_plan_id=row["retry_plan_id"],
        latest_retry_plan_at=row["plan_at"],
        retryable_count=int(row["retryable_count"] or 0),
        execution_record_count=int(row["execution_count"]),
        failed_execution_count=int(row["failed_execution_count"]),
        delivered_execution_count=int(row["delivered_execution_count"]),
        connector_failure_count=int(row["connector_failure_count"]),
        failed_deliveries=[
            {
                "record_id": r["record_id"],
                "job_id": r["job_id"],
                "created_at": r["created_at"].isoformat(),
                "failed_providers": _json(r["failed_providers"]) or [],
                "status_codes": _json(r["status_codes"]) or [],
            }
            for r in failed
        ],
        latest_runs=[{**dict(r), "generated_at": r["generated_at"].isoformat()} for r in runs],
    )


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


async def lock_family(conn: asyncpg.Connection, family: str) -> None:
    """Serialise alert plans of one family (inside the caller's transaction): two deliveries at the
    same moment cannot both miss each other's alert and send it twice."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('cavra-health-alert:' || $1))", family)


async def recently_alerted(
    conn: asyncpg.Connection, family: str, health_id: str, since: datetime
) -> dict[str, datetime]:
    """Providers an alert about ``health_id`` was sent to since ``since``, with the latest time."""
    rows = await conn.fetch(
        """SELECT provider, max(generated_at) AS last_at
           FROM health_alert_plans, unnest(selected_providers) AS provider
           WHERE family = $1 AND health_id = $2 AND generated_at >= $3 AND job_id IS NOT NULL
           GROUP BY provider""",
        family,
        health_id,
        since,
    )
    return {row["provider"]: row["last_at"] for row in rows}


async def plan_exists(conn: asyncpg.Connection, plan_id: str) -> bool:
    return await conn.fetchval("SELECT 1 FROM health_alert_plans WHERE plan_id = $1", plan_id) is not None


async def insert_plan(conn: asyncpg.Connection, row: Mapping[str, Any]) -> None:
    await conn.execute(
        """INSERT INTO health_alert_plans (plan_id, family, health_id, job_id, trigger, generated_at,
               generated_by, alert_level, requested_provider, eligible_providers, selected_providers,
               suppressed_providers, forced, health, record)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,
                   $14::text::jsonb, $15::text::jsonb)""",
        row["plan_id"],
        row["family"],
        row["health_id"],
        row["job_id"],
        row["trigger"],
        row["generated_at"],
        row["generated_by"],
        row["alert_level"],
        row["requested_provider"],
        list(row["eligible_providers"]),
        list(row["selected_providers"]),
        list(row["suppressed_providers"]),
        row["forced"],
        json.dumps(row["health"]),
        json.dumps(row["record"]),
    )


async def plans_of(conn: asyncpg.Connection, family: str, health_id: str) -> list[asyncpg.Record]:
    """The alert plans about ``health_id``, newest first."""
    return list(
        await conn.fetch(
            """SELECT plan_id, eligible_providers, selected_providers, suppressed_providers, generated_at
               FROM health_alert_plans WHERE family = $1 AND health_id = $2
               ORDER BY generated_at DESC, plan_id DESC""",
            family,
            health_id,
        )
    )


async def ack_exists(conn: asyncpg.Connection, acknowledgement_id: str) -> bool:
    found = await conn.fetchval(
        "SELECT 1 FROM health_alert_acks WHERE acknowledgement_id = $1", acknowledgement_id
    )
    return found is not None


async def insert_ack(
    conn: asyncpg.Connection, family: str, ack: Mapping[str, Any], record: Mapping[str, Any], at: datetime
) -> None:
    await conn.execute(
        """INSERT INTO health_alert_acks (acknowledgement_id, family, health_id, plan_id, provider,
               acknowledgement_state, acknowledged_by, acknowledged_at, record)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::text::jsonb)""",
        ack["acknowledgement_id"],
        family,
        ack["health_id"],
        ack["plan_id"],
        ack["provider"],
        ack["acknowledgement_state"],
        ack["acknowledged_by"],
        at,
        json.dumps(record),
    )


# Every history item: (kind, created_at, health_id, providers, state, suppressed, document). Alert
# deliveries are the delivery records of the alert family's source whose job (or the first job of
# its retry chain) is a plan's job.
HISTORY_ITEMS = """
WITH items AS (
    SELECT p.record->>'metadata_kind' AS kind, p.generated_at AS created_at, p.health_id,
           p.eligible_providers || p.suppressed_providers AS providers, ''::text AS state,
           cardinality(p.suppressed_providers) > 0 AS suppressed, p.record AS document
    FROM health_alert_plans p WHERE p.family = $1
    UNION ALL
    SELECT a.record->>'metadata_kind', a.acknowledged_at, a.health_id, ARRAY[a.provider],
           a.acknowledgement_state, false, a.record
    FROM health_alert_acks a WHERE a.family = $1
    UNION ALL
    SELECT r.document->>'metadata_kind', r.created_at, p.health_id,
           ARRAY(SELECT jsonb_array_elements_text(r.document->'providers')), '', false,
           r.document || jsonb_build_object('health_id', p.health_id, 'plan_id', p.plan_id)
    FROM delivery_records r
    LEFT JOIN delivery_jobs j ON j.job_id = r.job_id
    JOIN health_alert_plans p ON p.job_id = coalesce(j.origin_job_id, r.job_id)
    WHERE r.source = $2 AND p.family = $1
),
filtered AS (
    SELECT * FROM items
    WHERE ($3 = '' OR health_id = $3) AND ($4 = '' OR $4 = ANY(providers)) AND ($5 = '' OR kind = $5)
      AND ($6 = '' OR state = $6) AND ($7::boolean IS NULL OR suppressed = $7)
)
"""

HISTORY_SQL = (
    HISTORY_ITEMS
    + """
SELECT (SELECT count(*) FROM filtered) AS total,
       coalesce((SELECT jsonb_agg(document ORDER BY created_at DESC)
                 FROM (SELECT document, created_at FROM filtered
                       ORDER BY created_at DESC LIMIT $8 OFFSET $9) AS page), '[]'::jsonb) AS items
"""
)


async def history(
    conn: asyncpg.Connection,
    family: str,
    source: str,
    *,
    health_id: str = "",
    provider: str = "",
    metadata_kind: str = "",
    acknowledgement_state: str = "",
    suppressed: bool | None = None,
    limit: int,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """One page of the family's alert history, newest first, and how many items match."""
    row = await conn.fetchrow(
        HISTORY_SQL,
        family,
        source,
        health_id,
        provider,
        metadata_kind,
        acknowledgement_state,
        suppressed,
        limit,
        offset,
    )
    return list(_json(row["items"])), int(row["total"])


DASHBOARD_SQL = """
SELECT
    (SELECT count(*) FROM health_alert_plans WHERE family = $1) AS plan_count,
    (SELECT coalesce(sum(cardinality(suppressed_providers)), 0) FROM health_alert_plans WHERE family = $1)
        AS suppressed_provider_count,
    (SELECT count(*) FROM health_alert_acks WHERE family = $1) AS acknowledgement_count,
    (SELECT count(*) FROM delivery_records WHERE source = $2) AS delivery_count,
    (SELECT count(*) FROM delivery_records WHERE source = $2 AND NOT success) AS failed_delivery_count
"""

# Required providers of every plan about a health_id, without a latest acknowledgement that clears it.
OUTSTANDING_SQL = """
WITH required AS (
    SELECT p.health_id, provider, max(p.generated_at) AS alerted_at, (array_agg(p.plan_id ORDER BY
           p.generated_at DESC))[1] AS plan_id
    FROM health_alert_plans p, unnest(p.selected_providers) AS provider
    WHERE p.family = $1 GROUP BY p.health_id, provider
),
latest_ack AS (
    SELECT DISTINCT ON (health_id, provider) health_id, provider, acknowledgement_state
    FROM health_alert_acks WHERE family = $1
    ORDER BY health_id, provider, acknowledged_at DESC, acknowledgement_id DESC
)
SELECT r.health_id, r.provider, r.plan_id, r.alerted_at,
       coalesce(a.acknowledgement_state, 'outstanding') AS acknowledgement_state,
       count(*) OVER () AS total
FROM required r LEFT JOIN latest_ack a USING (health_id, provider)
WHERE a.acknowledgement_state IS NULL OR NOT (a.acknowledgement_state = ANY($2::text[]))
ORDER BY r.alerted_at DESC, r.health_id, r.provider
LIMIT $3
"""


async def dashboard_counts(conn: asyncpg.Connection, family: str, source: str) -> dict[str, int]:
    row = await conn.fetchrow(DASHBOARD_SQL, family, source)
    return {key: int(value) for key, value in dict(row).items()}


async def outstanding(conn: asyncpg.Connection, family: str, limit: int) -> tuple[list[dict[str, Any]], int]:
    """Required providers not acknowledged (latest state not acknowledged/resolved), newest alert first."""
    rows = await conn.fetch(OUTSTANDING_SQL, family, sorted(DONE_STATES), limit)
    total = int(rows[0]["total"]) if rows else 0
    items = [
        {
            "health_id": r["health_id"],
            "provider": r["provider"],
            "plan_id": r["plan_id"],
            "alerted_at": r["alerted_at"].isoformat(),
            "acknowledgement_state": r["acknowledgement_state"],
        }
        for r in rows
    ]
    return items, total


# --- the timer ---------------------------------------------------------------------------------


async def ensure_checks(conn: asyncpg.Connection, families: Sequence[str], due_at: datetime) -> None:
    """A check row per monitored family (first due at ``due_at``); existing rows are kept."""
    await conn.execute(
        """INSERT INTO worker_health_checks (family, due_at)
           SELECT unnest($1::text[]), $2 ON CONFLICT (family) DO NOTHING""",
        list(families),
        due_at,
    )


async def due_checks(conn: asyncpg.Connection, now: datetime, limit: int) -> list[asyncpg.Record]:
    """Checks due by ``now``, locked; other replicas skip them."""
    return list(
        await conn.fetch(
            """SELECT family, due_at FROM worker_health_checks WHERE due_at <= $1
               ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED""",
            now,
            limit,
        )
    )


async def check_ran(
    conn: asyncpg.Connection,
    family: str,
    *,
    due_at: datetime,
    now: datetime,
    health_id: str,
    plan_id: str | None,
) -> None:
    await conn.execute(
        """UPDATE worker_health_checks SET due_at = $2, last_checked_at = $3, last_health_id = $4,
               last_plan_id = coalesce($5, last_plan_id)
           WHERE family = $1""",
        family,
        due_at,
        now,
        health_id,
        plan_id,
    )
