"""SQL of connector recovery: failure aggregates over ``deliveries``, playbooks and closures, the recovery
report's aggregates over ``retry_executions`` and the recovery rows, escalation plans, their delivery
requests and acknowledgements. ``$n`` parameters only; every aggregate is computed in PostgreSQL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import asyncpg

FAILED_STATUSES = ("failed", "permanent_failure", "quarantined")
"""Delivery rows that count as a connector failure (the partial index of 0009 covers them)."""


async def failures(conn: asyncpg.Connection, since: datetime, min_count: int) -> list[asyncpg.Record]:
    """Per provider (normalised) with at least ``min_count`` failed deliveries since ``since``."""
    return list(
        await conn.fetch(
            """
            SELECT lower(replace(btrim(provider), '-', '_')) AS provider,
                   count(*) AS failure_count,
                   max(coalesce(completed_at, created_at)) AS latest_failure_at,
                   coalesce(array_agg(DISTINCT status_code::text ORDER BY status_code::text)
                            FILTER (WHERE status_code IS NOT NULL), '{}') AS status_codes
              FROM deliveries
             WHERE status IN ('failed', 'permanent_failure', 'quarantined') AND created_at >= $1
             GROUP BY 1
            HAVING count(*) >= $2
             ORDER BY 1
            """,
            since,
            min_count,
        )
    )


async def insert_playbook(conn: asyncpg.Connection, playbook: Mapping[str, Any], at: datetime) -> None:
    await conn.execute(
        """
        INSERT INTO recovery_playbooks (playbook_id, generated_at, generated_by, alert_level, lookback_hours,
                                        min_failure_count, provider_count, failure_count, document)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        """,
        playbook["playbook_id"],
        at,
        playbook["generated_by"],
        playbook["alert_level"],
        playbook["lookback_hours"],
        playbook["min_failure_count"],
        playbook["provider_count"],
        playbook["failure_count"],
        dict(playbook),
    )
    entries = playbook["provider_playbooks"]
    if entries:
        await conn.executemany(
            """
            INSERT INTO recovery_playbook_providers (playbook_id, provider, category, failure_count,
                                                     latest_failure_at, generated_at)
            VALUES ($1, $2, $3, $4, $5::text::timestamptz, $6)
            """,
            [
                (
                    playbook["playbook_id"],
                    e["provider"],
                    e["category"],
                    e["failure_count"],
                    e["latest_failure_at"],
                    at,
                )
                for e in entries
            ],
        )


async def playbook_has(conn: asyncpg.Connection, playbook_id: str, provider: str) -> tuple[bool, bool]:
    """(the playbook exists, it lists ``provider``)."""
    row = await conn.fetchrow(
        """
        SELECT EXISTS (SELECT 1 FROM recovery_playbooks WHERE playbook_id = $1) AS playbook,
               EXISTS (SELECT 1 FROM recovery_playbook_providers WHERE playbook_id = $1 AND provider = $2)
                   AS provider
        """,
        playbook_id,
        provider,
    )
    assert row is not None
    return bool(row["playbook"]), bool(row["provider"])


async def insert_closure(conn: asyncpg.Connection, closure: Mapping[str, Any], at: datetime) -> None:
    await conn.execute(
        """
        INSERT INTO recovery_closures (closure_id, playbook_id, provider, closure_state, closed_by, closed_at,
                                       closure_hash, document)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        """,
        closure["closure_id"],
        closure["playbook_id"],
        closure["provider"],
        closure["closure_state"],
        closure["closed_by"],
        at,
        closure["closure_hash"],
        dict(closure),
    )


async def playbooks_page(
    conn: asyncpg.Connection, limit: int, offset: int, playbook_id: str = ""
) -> tuple[list[dict[str, Any]], int]:
    """Playbooks newest first (or the one ``playbook_id``), each provider with its latest closure
    (``open`` when none)."""
    total = int(
        await conn.fetchval(
            "SELECT count(*) FROM recovery_playbooks WHERE $1::text = '' OR playbook_id = $1", playbook_id
        )
        or 0
    )
    rows = await conn.fetch(
        """
        SELECT b.document,
               coalesce((SELECT jsonb_object_agg(p.provider, jsonb_build_object(
                                    'closure_state', coalesce(c.closure_state, 'open'),
                                    'closure_id', c.closure_id,
                                    'closed_at', c.closed_at))
                           FROM recovery_playbook_providers p
                           LEFT JOIN LATERAL (
                                SELECT closure_state, closure_id, closed_at FROM recovery_closures c
                                 WHERE c.playbook_id = p.playbook_id AND c.provider = p.provider
                                 ORDER BY closed_at DESC, closure_id DESC LIMIT 1) c ON true
                          WHERE p.playbook_id = b.playbook_id), '{}'::jsonb) AS closures
          FROM recovery_playbooks b
         WHERE $3::text = '' OR b.playbook_id = $3
         ORDER BY b.generated_at DESC, b.playbook_id DESC
         LIMIT $1 OFFSET $2
        """,
        limit,
        offset,
        playbook_id,
    )
    return [{"document": r["document"], "closures": r["closures"]} for r in rows], total


# --- the recovery report -----------------------------------------------------------------------------

_REPORT = """
WITH last_closure AS (
    SELECT DISTINCT ON (playbook_id, provider) playbook_id, provider, closure_id, closure_state, closed_at
      FROM recovery_closures
     WHERE closed_at <= $1
     ORDER BY playbook_id, provider, closed_at DESC, closure_id DESC
), latest AS (
    SELECT p.playbook_id, p.provider, p.category, p.failure_count, p.generated_at,
           c.closure_id, c.closure_state, c.closed_at,
           floor(extract(epoch FROM ($1::timestamptz - p.generated_at)) / 60)::int AS age_minutes,
           coalesce(c.closure_state IN ('resolved', 'mitigated'), false) AS closed
      FROM recovery_playbook_providers p
      LEFT JOIN last_closure c USING (playbook_id, provider)
     WHERE p.generated_at <= $1
), classified AS MATERIALIZED (
    SELECT *, (NOT closed AND age_minutes > $2) AS breached FROM latest
), executions AS MATERIALIZED (
    -- one pass over the execution records: per provider and status, with the window's share
    SELECT provider, execution_status, count(*) AS n, max(executed_at) AS latest_execution_at,
           count(*) FILTER (WHERE ($6::timestamptz IS NULL OR executed_at >= $6)
                              AND ($7::timestamptz IS NULL OR executed_at < $7)) AS in_window
      FROM retry_executions
     WHERE ($3::text IS NULL OR family = $3) AND executed_at <= $1
     GROUP BY provider, execution_status
), closures AS MATERIALIZED (
    SELECT c.provider, c.closure_state, c.closed_at, p.generated_at,
           ($6::timestamptz IS NULL OR c.closed_at >= $6) AND ($7::timestamptz IS NULL OR c.closed_at < $7)
               AS in_window
      FROM recovery_closures c
      JOIN recovery_playbook_providers p USING (playbook_id, provider)
     WHERE c.closed_at <= $1 AND p.generated_at <= $1
)
SELECT
  (SELECT coalesce(jsonb_agg(to_jsonb(r) ORDER BY r.breached DESC, r.generated_at DESC,
                             r.playbook_id, r.provider), '[]')
     FROM (SELECT * FROM classified
            ORDER BY breached DESC, generated_at DESC, playbook_id, provider LIMIT $4) r)
     AS rows,
  (SELECT coalesce(jsonb_agg(to_jsonb(r) ORDER BY r.breached DESC, r.failure_count DESC, r.age_minutes DESC,
                             r.playbook_id, r.provider), '[]')
     FROM (SELECT * FROM classified WHERE NOT closed
            ORDER BY breached DESC, failure_count DESC, age_minutes DESC, playbook_id, provider LIMIT $5) r)
     AS candidates,
  (SELECT jsonb_build_object(
             'rows', count(*), 'closed', count(*) FILTER (WHERE closed),
             'open', count(*) FILTER (WHERE NOT closed), 'breached', count(*) FILTER (WHERE breached),
             'state_counts', (SELECT coalesce(jsonb_object_agg(s, n), '{}') FROM (
                  SELECT coalesce(closure_state, 'open') AS s, count(*) AS n FROM classified GROUP BY 1) x))
     FROM classified) AS row_totals,
  (SELECT coalesce(jsonb_agg(to_jsonb(x) ORDER BY x.provider), '[]') FROM (
      SELECT provider,
             sum(ex) AS execution_count, sum(delivered) AS delivered, sum(failed) AS failed,
             sum(skipped) AS skipped, max(latest_execution_at) AS latest_execution_at,
             sum(playbooks) AS playbooks, sum(closure_count) AS closure_count,
             max(latest_closure_at) AS latest_closure_at, sum(open) AS open, sum(breached) AS breached
        FROM (
          SELECT provider, sum(n) AS ex,
                 coalesce(sum(n) FILTER (WHERE execution_status = 'delivered'), 0) AS delivered,
                 coalesce(sum(n) FILTER (WHERE execution_status = 'failed'), 0) AS failed,
                 coalesce(sum(n) FILTER (WHERE execution_status = 'skipped'), 0) AS skipped,
                 max(latest_execution_at) AS latest_execution_at,
                 0 AS playbooks, 0 AS closure_count, NULL::timestamptz AS latest_closure_at,
                 0 AS open, 0 AS breached
            FROM executions GROUP BY provider
          UNION ALL
          SELECT provider, 0, 0, 0, 0, NULL, count(*), 0, NULL,
                 count(*) FILTER (WHERE NOT closed), count(*) FILTER (WHERE breached)
            FROM classified GROUP BY provider
          UNION ALL
          SELECT provider, 0, 0, 0, 0, NULL, 0, count(*), max(closed_at), 0, 0
            FROM closures GROUP BY provider) parts
       GROUP BY provider) x) AS providers,
  (SELECT coalesce(jsonb_object_agg(execution_status, n), '{}') FROM (
      SELECT execution_status, sum(n) AS n FROM executions GROUP BY 1) x) AS execution_status_counts,
  (SELECT jsonb_build_object(
      'closure_count', count(*),
      'closure_minutes_median', percentile_cont(0.5) WITHIN GROUP (
          ORDER BY extract(epoch FROM (closed_at - generated_at)) / 60)
          FILTER (WHERE closure_state IN ('resolved', 'mitigated')),
      'closure_minutes_p90', percentile_cont(0.9) WITHIN GROUP (
          ORDER BY extract(epoch FROM (closed_at - generated_at)) / 60)
          FILTER (WHERE closure_state IN ('resolved', 'mitigated')),
      'closure_state_counts', (SELECT coalesce(jsonb_object_agg(closure_state, n), '{}') FROM (
          SELECT closure_state, count(*) AS n FROM closures WHERE in_window GROUP BY 1) s))
     FROM closures WHERE in_window) AS closure_statistics,
  (SELECT jsonb_build_object(
      'execution_count', coalesce(sum(in_window), 0),
      'execution_status_counts', (SELECT coalesce(jsonb_object_agg(execution_status, n), '{}') FROM (
          SELECT execution_status, sum(in_window) AS n FROM executions
           GROUP BY 1 HAVING sum(in_window) > 0) s))
     FROM executions) AS execution_statistics,
  (SELECT jsonb_build_object('playbook_provider_count', count(*),
                             'open_count', count(*) FILTER (WHERE NOT closed),
                             'breached_count', count(*) FILTER (WHERE breached))
     FROM classified
    WHERE ($6::timestamptz IS NULL OR generated_at >= $6) AND ($7::timestamptz IS NULL OR generated_at < $7))
     AS row_statistics
"""

_TRENDS = """
SELECT to_char(c.closed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS date, c.provider, c.closure_state,
       count(*) AS n
  FROM recovery_closures c
  JOIN recovery_playbook_providers p USING (playbook_id, provider)
 WHERE c.closed_at <= $1 AND p.generated_at <= $1
   AND c.closed_at > $1 - make_interval(days => $2)
 GROUP BY 1, 2, 3
"""

_LATEST_EXECUTIONS = """
SELECT execution_id, family, provider, execution_status, executed_at, delivery_success, approval_id, run_id
  FROM retry_executions
 WHERE ($1::text IS NULL OR family = $1) AND executed_at <= $2
 ORDER BY executed_at DESC, execution_id DESC
 LIMIT $3
"""


async def report_aggregates(
    conn: asyncpg.Connection,
    *,
    now: datetime,
    slo_minutes: int,
    family: str | None,
    row_limit: int,
    candidate_limit: int,
    window_start: datetime | None,
    window_end: datetime | None,
) -> dict[str, Any]:
    """Every aggregate of the report in one statement (one snapshot); JSON columns decoded by the pool."""
    row = await conn.fetchrow(
        _REPORT, now, slo_minutes, family, row_limit, candidate_limit, window_start, window_end
    )
    assert row is not None
    return dict(row)


async def trend_counts(conn: asyncpg.Connection, now: datetime, days: int) -> list[asyncpg.Record]:
    """Closures per (UTC day, provider, state) within the last ``days`` days before ``now``."""
    return list(await conn.fetch(_TRENDS, now, days))


async def latest_executions(
    conn: asyncpg.Connection, family: str | None, now: datetime, limit: int
) -> list[asyncpg.Record]:
    return list(await conn.fetch(_LATEST_EXECUTIONS, family, now, limit))


# --- recovery escalation plans -------------------------------------------------------------------------


async def insert_plan(conn: asyncpg.Connection, plan: Mapping[str, Any], at: datetime) -> None:
    await conn.execute(
        """
        INSERT INTO recovery_escalation_plans (plan_id, generated_at, generated_by, alert_level,
                                               recovery_report_id, selected_providers, document)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        """,
        plan["plan_id"],
        at,
        plan["generated_by"],
        plan["alert_level"],
        plan["recovery_report_id"],
        list(plan["selected_providers"]),
        dict(plan),
    )


async def plan_by_id(conn: asyncpg.Connection, plan_id: str) -> dict[str, Any] | None:
    document = await conn.fetchval(
        "SELECT document FROM recovery_escalation_plans WHERE plan_id = $1", plan_id
    )
    return dict(document) if document is not None else None


async def latest_plan(conn: asyncpg.Connection) -> dict[str, Any] | None:
    document = await conn.fetchval(
        "SELECT document FROM recovery_escalation_plans ORDER BY generated_at DESC, plan_id DESC LIMIT 1"
    )
    return dict(document) if document is not None else None


async def plans_page(conn: asyncpg.Connection, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    total = int(await conn.fetchval("SELECT count(*) FROM recovery_escalation_plans") or 0)
    rows = await conn.fetch(
        """
        SELECT document FROM recovery_escalation_plans
         ORDER BY generated_at DESC, plan_id DESC LIMIT $1 OFFSET $2
        """,
        limit,
        offset,
    )
    return [dict(r["document"]) for r in rows], total


async def insert_delivery(
    conn: asyncpg.Connection, job_id: str, plan_id: str, providers: Sequence[str], at: datetime, by: str
) -> bool:
    """False when this job was requested before (same plan and providers): nothing is sent twice."""
    status = await conn.execute(
        """
        INSERT INTO recovery_escalation_deliveries (job_id, plan_id, providers, requested_at, requested_by)
        VALUES ($1, $2, $3, $4, $5) ON CONFLICT (job_id) DO NOTHING
        """,
        job_id,
        plan_id,
        list(providers),
        at,
        by,
    )
    return bool(status.endswith(" 1"))


async def deliveries_of(conn: asyncpg.Connection, plan_id: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """
        SELECT d.job_id, d.providers, d.requested_at, d.requested_by, r.success, r.record_id
          FROM recovery_escalation_deliveries d
          LEFT JOIN delivery_records r ON r.job_id = d.job_id
         WHERE d.plan_id = $1 ORDER BY d.requested_at DESC
        """,
        plan_id,
    )
    return [dict(r) for r in rows]


async def insert_ack(conn: asyncpg.Connection, ack: Mapping[str, Any], at: datetime) -> None:
    await conn.execute(
        """
        INSERT INTO recovery_escalation_acks (acknowledgement_id, plan_id, provider, acknowledgement_state,
                                              acknowledged_by, acknowledged_at, document)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        """,
        ack["acknowledgement_id"],
        ack["plan_id"],
        ack["provider"],
        ack["acknowledgement_state"],
        ack["acknowledged_by"],
        at,
        dict(ack),
    )


async def acks_of(conn: asyncpg.Connection, plan_id: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT document FROM recovery_escalation_acks WHERE plan_id = $1 ORDER BY acknowledged_at DESC",
        plan_id,
    )
    return [dict(r["document"]) for r in rows]
