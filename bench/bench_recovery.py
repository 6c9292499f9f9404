"""Benchmark the recovery SLO report and print the figures.

Starts the test servers (embedded NATS + PostgreSQL unless ``CAVRA_NATS_URL`` / ``CAVRA_DATABASE_URL``
are set), seeds 100,000 retry execution records and 10,000 connector recovery playbooks (two providers
each, most of them closed, some reopened) with plain SQL (:func:`seed_recovery`, which the executive
report bench reuses), then times the recovery report:

1. the delivery service's query handler alone (``RecoveryReportQueryV1``: every aggregate in one
   statement, the trends, the latest executions; then the escalation plan it implies);
2. the same query over NATS request/reply to the delivery service running in this process;
3. the executive report built on it, over HTTP (gateway -> reporting -> delivery), as JSON and as PDF.

p50 / p95 over RUNS runs each. Loopback only; every loop is bounded.
Run: ``.venv/bin/python bench/bench_recovery.py``.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from harness import fresh_database, percentile  # (importing harness puts the repository root on sys.path)

from cavra_contracts.envelope import make_envelope
from cavra_contracts.recovery import RecoveryReportQueryV1
from cavra_delivery import MIGRATIONS
from cavra_delivery.recovery.handlers import RecoveryDeps
from cavra_delivery.recovery.queries import recovery_report
from cavra_runtime.bus import Bus
from cavra_runtime.db import create_pool
from cavra_runtime.migrate import migrate
from tests.support.harness import FakeClock, gateway_client, running_service
from tests.support.servers import session_servers

AD = "/runtime/go-pilot/rollback-drill-notifications/acknowledgements/audit-delivery"
EXECUTIONS = 100_000
PLAYBOOKS = 10_000
RUNS = 7
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


async def seed_recovery(
    conn: asyncpg.Connection,
    *,
    now: datetime = NOW,
    executions: int = EXECUTIONS,
    playbooks: int = PLAYBOOKS,
    schema: str = "delivery",
) -> None:
    """Seed ``executions`` retry execution records and ``playbooks`` playbooks (two providers each,
    generated over the 30 days before ``now``; about 60 % of the rows closed, 5 % reopened after a
    resolution, the rest open or breached) into the delivery schema ``schema`` (migrated)."""
    providers = ["webhook", "slack", "teams", "jira", "servicenow", "siem"]
    await conn.execute(
        f"""
        INSERT INTO {schema}.recovery_playbooks (playbook_id, generated_at, generated_by, alert_level,
                    lookback_hours, min_failure_count, provider_count, failure_count, document)
        SELECT 'gordackrecovery-' || lpad(to_hex(p), 16, '0'),
               $1::timestamptz - make_interval(mins => (p * 4) % 43200),
               'bench', 'critical', 24, 2, 2, 2 + p % 7,
               jsonb_build_object('playbook_id', 'gordackrecovery-' || lpad(to_hex(p), 16, '0'),
                                  'generated_at', $1::timestamptz - make_interval(mins => (p * 4) % 43200),
                                  'generated_by', 'bench', 'alert_level', 'critical', 'provider_count', 2,
                                  'failure_count', 2 + p % 7, 'provider_playbooks', '[]'::jsonb)
          FROM generate_series(1, $2::int) AS p
        """,
        now,
        playbooks,
    )
    await conn.execute(
        f"""
        INSERT INTO {schema}.recovery_playbook_providers (playbook_id, provider, category, failure_count,
                    latest_failure_at, generated_at)
        SELECT b.playbook_id, ($2::text[])[1 + (n + k) % 6], 'webhook', 1 + n % 5,
               b.generated_at, b.generated_at
          FROM (SELECT playbook_id, generated_at, row_number() OVER (ORDER BY playbook_id) AS n
                  FROM {schema}.recovery_playbooks) b,
               generate_series(0, 1) AS k
         WHERE b.generated_at <= $1
        """,
        now,
        providers,
    )
    await conn.execute(
        f"""
        INSERT INTO {schema}.recovery_closures (closure_id, playbook_id, provider, closure_state, closed_by,
                    closed_at, closure_hash, document)
        SELECT 'gordackrecoveryclosure-' || md5(p.playbook_id || p.provider || s.step),
               p.playbook_id, p.provider, s.state, 'bench',
               p.generated_at + make_interval(mins => 30 + (h % 600) + s.step * 60),
               md5(p.playbook_id || p.provider || s.step), '{{}}'::jsonb
          FROM (SELECT *, abs(hashtext(playbook_id || provider)) AS h
                  FROM {schema}.recovery_playbook_providers) p
          CROSS JOIN LATERAL (VALUES (0, CASE WHEN p.h % 10 < 6 THEN 'resolved' ELSE 'deferred' END),
                                     (1, 'reopened')) AS s(step, state)
         WHERE (s.step = 0 AND p.h % 10 < 8) OR (s.step = 1 AND p.h % 20 = 0)
        """
    )
    await conn.execute(
        f"""
        INSERT INTO {schema}.retry_executions (execution_id, family, run_id, retry_plan_id, origin_job_id,
                    provider, attempt, digest, execution_status, executed_at, executed_by, completed_at,
                    delivery_success, approval_id, document)
        SELECT 'gordackretryexec-' || lpad(to_hex(e), 16, '0'),
               (ARRAY['audit', 'recovery_escalation', 'executive_report', 'notification'])[1 + e % 4],
               'gordackworker-' || (e / 25), 'gordackretry-' || (e / 25), 'job-' || e,
               ($3::text[])[1 + e % 6], 1 + e % 3, md5(e::text),
               (ARRAY['delivered', 'delivered', 'delivered', 'failed', 'skipped', 'delivered'])
                   [1 + (e / 7) % 6],
               $1::timestamptz - make_interval(secs => (e * 26) % 2592000),
               'bench', $1::timestamptz - make_interval(secs => (e * 26) % 2592000 - 2),
               (e / 7) % 6 NOT IN (3, 4), 'approval-' || (e / 25), '{{}}'::jsonb
          FROM generate_series(1, $2::int) AS e
        """,
        now,
        executions,
        providers,
    )
    await conn.execute(f"ANALYZE {schema}.recovery_playbooks")
    await conn.execute(f"ANALYZE {schema}.recovery_playbook_providers")
    await conn.execute(f"ANALYZE {schema}.recovery_closures")
    await conn.execute(f"ANALYZE {schema}.retry_executions")


async def timed(label: str, call: Callable[[], Awaitable[Any]]) -> Any:
    latencies = []
    result = None
    for _ in range(RUNS):
        started = time.perf_counter()
        result = await call()
        latencies.append(time.perf_counter() - started)
    p95 = percentile(latencies, 95)
    print(f"{label}: p50 {statistics.median(latencies) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms ({RUNS} runs)")
    return result


async def executive_over_http(nats_url: str, database_url: str) -> None:
    """3. The executive report over HTTP, as a reader gets it: gateway -> reporting service -> the
    delivery service's recovery report (this period and the previous one) -> composed; then the same
    report as a PDF (HTML + SVG charts through WeasyPrint). The delivery service is running."""
    path = f"{AD}/recovery-executive-report"
    async with (
        running_service("reporting", nats_url, database_url, clock=FakeClock(NOW)),
        gateway_client(nats_url, database_url) as client,
    ):
        await asyncio.sleep(0.5)

        async def report_as(format_: str) -> Any:
            response = await client.get(path, params={"format": format_}, timeout=60)
            assert response.status_code == 200, response.text
            return response

        answer = await timed("executive report JSON over HTTP", lambda: report_as("json"))
        summary = answer.json()["report"]["executive_summary"]
        print(
            f"  status {summary['status']}, {summary['execution_count']:,} executions, "
            f"{len(answer.content) / 1024:.0f} KiB"
        )
        pdf = await timed("executive report PDF over HTTP", lambda: report_as("pdf"))
        print(f"  {len(pdf.content) / 1024:.0f} KiB PDF")


async def main() -> None:
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    with (
        tempfile.TemporaryDirectory(prefix="cavra-bench-recovery-") as root,
        session_servers(Path(root)) as servers,
    ):
        database_url = await fresh_database(servers.database_url, "cavra_bench_recovery")
        conn = await asyncpg.connect(database_url)
        try:
            await migrate(conn, "delivery", MIGRATIONS)
            started = time.perf_counter()
            await seed_recovery(conn)
            rows = await conn.fetchval("SELECT count(*) FROM delivery.recovery_playbook_providers")
            closures = await conn.fetchval("SELECT count(*) FROM delivery.recovery_closures")
            print(
                f"seeded {EXECUTIONS:,} execution records, {PLAYBOOKS:,} playbooks ({rows:,} recovery rows, "
                f"{closures:,} closures) in {time.perf_counter() - started:.1f} s"
            )
        finally:
            await conn.close()

        pool = await create_pool(database_url, schema="delivery", application="bench")
        try:
            deps = RecoveryDeps(pool=pool, clock=lambda: NOW, routable=lambda: [], policy_providers=[])
            query = RecoveryReportQueryV1(recovery_slo_minutes=240, at=NOW)
            reply = await timed(
                "recovery report, the query handler alone", lambda: recovery_report(query, deps)
            )
            report = reply.result["report"]
            print(
                f"  {report['recovery_playbook_provider_count']:,} rows: "
                f"{report['recovery_open_count']:,} open, "
                f"{report['recovery_slo_breached_count']:,} breached; "
                f"{report['execution_count']:,} executions; "
                f"median closure {reply.result['statistics']['closure_minutes_median']} min; "
                f"reply {len(json.dumps(reply.result)) / 1024:.0f} KiB"
            )
            windowed = RecoveryReportQueryV1(
                at=NOW, window_start=datetime(2026, 10, 25, tzinfo=UTC), window_end=NOW, family="audit"
            )
            await timed(
                "recovery report, one family, a 7-day window", lambda: recovery_report(windowed, deps)
            )
        finally:
            await pool.close()

        async with running_service("delivery", servers.nats_url, database_url, clock=FakeClock(NOW)):
            bus = await Bus.connect(servers.nats_url, name="bench-recovery")
            try:
                await asyncio.sleep(0.5)  # the service subscribes to its queries once its task runs

                async def over_nats() -> Any:
                    return await bus.request(make_envelope(query, producer="bench"), timeout=30)

                await timed("recovery report over NATS request/reply", over_nats)
            finally:
                await bus.close()
            await executive_over_http(servers.nats_url, database_url)
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    asyncio.run(main())
