"""Benchmark retries and print the figures.

Starts the test servers (embedded NATS + PostgreSQL unless ``CAVRA_NATS_URL`` / ``CAVRA_DATABASE_URL``
are set), lets the delivery service migrate a fresh database, then seeds 100,000 failed deliveries of
the executive report family (100,000 stored jobs, one failed webhook delivery each, loaded straight
into the service's tables) and times, in this process against PostgreSQL:

1. The retry plan: one INSERT ... SELECT that groups the failed deliveries by chain and provider,
   decides retry / wait / suppress and stores every decision, plus the plan row. Target < 1 s. Then
   ``POST .../delivery-retry-plan`` end to end (gateway -> command -> service -> event -> answer).
2. A live worker run selecting 25 (the family has no gate): its embedded fresh plan, the selection,
   25 execution rows, 25 ExecuteRetryV1 commands in the outbox and the run row, in one transaction.
   Shown whole and without the embedded plan (the part the 25 add). Target < 200 ms for the latter.

Loopback only; every loop is bounded. Run: ``.venv/bin/python bench/bench_retries.py``.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg
from harness import fresh_database  # (importing harness puts the repository root on sys.path)

from cavra_contracts.actors import ActorV1
from cavra_contracts.families import FAMILY_SPECS
from cavra_contracts.retries import RetryPolicyV1, WorkerScheduleV1, hash_id
from cavra_delivery.retries import workers
from cavra_gateway.routes.retries import FAMILY_PATHS
from cavra_runtime.db import create_pool
from tests.support.harness import FakeClock, gateway_client, running_service
from tests.support.servers import session_servers

FAILED = 100_000
RUNS = 3
SPEC = FAMILY_SPECS["executive_report"]
ACTOR = ActorV1(actor="bench", role="operator", method="api_token")
PLAN_PATH = FAMILY_PATHS["executive_report"][0]
POLICY = RetryPolicyV1(allow_immediate_retry=True, retry_delay_minutes=0, max_retry_attempts=3)


async def seed(database_url: str, clock: FakeClock) -> None:
    """FAILED stored jobs of the family, each with one failed webhook delivery 2 hours ago."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            """INSERT INTO delivery.delivery_jobs (job_id, source, origin_job_id, attempt, message_type,
                   message, payload_hash, ids, created_at)
               SELECT 'gordackexecsched-' || lpad(to_hex(i), 16, '0'), $1,
                      'gordackexecsched-' || lpad(to_hex(i), 16, '0'), 0,
                      'cavra.drillops.delivery.deliver-message.v1', '{}'::jsonb,
                      md5(i::text) || md5(i::text), jsonb_build_object('run_id', 'gordackexecsched-' || i),
                      $2::timestamptz - interval '2 hours'
               FROM generate_series(1, $3::int) AS i""",
            SPEC.source,
            clock(),
            FAILED,
        )
        await conn.execute(
            """INSERT INTO delivery.deliveries (delivery_id, job_id, source, plan_id, route_key, schedule_id,
                   provider, owner, connector, connector_type, status, attempt_count, status_code, attempts,
                   completed_at)
               SELECT 'gordackexecsched-' || lpad(to_hex(i), 16, '0') || ':report:webhook',
                      'gordackexecsched-' || lpad(to_hex(i), 16, '0'), $1, '', 'report', '', 'webhook',
                      'release-governance', 'webhook', 'webhook', 'failed', 1,
                      (ARRAY[500, 502, 503])[1 + i % 3], '[]'::jsonb, $2::timestamptz - interval '2 hours'
               FROM generate_series(1, $3::int) AS i""",
            SPEC.source,
            clock(),
            FAILED,
        )
        await conn.execute("ANALYZE delivery.deliveries")
        await conn.execute("ANALYZE delivery.delivery_jobs")
    finally:
        await conn.close()


async def api_figures(nats_url: str, database_url: str, clock: FakeClock) -> list[float]:
    """POST .../delivery-retry-plan end to end: command -> delivery service -> event -> answer."""
    times: list[float] = []
    immediate = {"allow_immediate_retry": True, "retry_delay_minutes": 0}
    async with (
        running_service("delivery", nats_url, database_url, clock=clock, retry_tick_seconds=3600),
        gateway_client(nats_url, database_url, services=("delivery",), command_wait_seconds=30) as api,
    ):
        for _ in range(RUNS):
            clock.advance(seconds=7)
            started = time.perf_counter()
            answer = await api.post(PLAN_PATH, json={"retry_policy": immediate}, timeout=60)
            times.append(time.perf_counter() - started)
            assert answer.status_code == 200, answer.text
            assert answer.json()["plan"]["decision_count"] == FAILED
    return times


async def figures(server_url: str, nats_url: str) -> None:
    clock = FakeClock()
    database_url = await fresh_database(server_url, "cavra_bench_retries")
    async with running_service("delivery", nats_url, database_url, clock=clock, retry_tick_seconds=3600):
        pass  # migrated; the timed work runs without the service (its commands stay in the outbox)
    await seed(database_url, clock)
    pool = await create_pool(database_url, schema="delivery", application="bench")
    embedded_plan_seconds: list[float] = []
    timed = workers.generate_plan

    async def generate_plan_timed(*args: Any, **kwargs: Any) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            return await timed(*args, **kwargs)
        finally:
            embedded_plan_seconds.append(time.perf_counter() - started)

    workers.generate_plan = generate_plan_timed  # type: ignore[assignment]  # times the embedded plan
    plan_times: list[float] = []
    run_times: list[float] = []
    select_times: list[float] = []
    try:
        for run in range(RUNS):
            clock.advance(seconds=7)
            async with pool.acquire() as conn, conn.transaction():
                started = time.perf_counter()
                plan = await timed(
                    conn, SPEC, POLICY, retry_plan_id=f"bench-plan-{run}", generated_by="bench", now=clock()
                )
                plan_times.append(time.perf_counter() - started)
            assert plan["retryable_count"] == FAILED, plan["retryable_count"]
        api_times = await api_figures(nats_url, database_url, clock)
        for run in range(RUNS):
            clock.advance(seconds=7)
            request = workers.RunRequest(
                spec=SPEC,
                run_id=hash_id(SPEC.worker_run_prefix, {"bench": run}),
                dry_run=False,
                policy=POLICY,
                schedule=WorkerScheduleV1(),
                max_retry_deliveries=25,
                scheduled=False,
                generated_by="bench",
                actor=ACTOR,
            )
            async with pool.acquire() as conn, conn.transaction():
                started = time.perf_counter()
                document, embedded, results = await workers.run_worker(conn, request, clock, None)
                run_times.append(time.perf_counter() - started)
                select_times.append(run_times[-1] - embedded_plan_seconds[-1])
            assert document["summary"]["selected_retry_count"] == 25, document["summary"]
            assert all(r["execution_record"]["execution_status"] == "pending" for r in results)
        async with pool.acquire() as conn:
            executions = await conn.fetchval("SELECT count(*) FROM retry_executions")
    finally:
        await pool.close()
    print(
        f"retry plan over {FAILED:,} failed deliveries (one statement): "
        + ", ".join(f"{t * 1000:.0f} ms" for t in plan_times)
        + f" (median {statistics.median(plan_times) * 1000:.0f} ms; target < 1 s)"
    )
    print(
        "retry plan, POST end to end (first 100 decisions in the answer): "
        + ", ".join(f"{t * 1000:.0f} ms" for t in api_times)
        + f" (median {statistics.median(api_times) * 1000:.0f} ms)"
    )
    print(
        "live worker run selecting 25 (embedded fresh plan included): "
        + ", ".join(f"{t * 1000:.0f} ms" for t in run_times)
        + f" (median {statistics.median(run_times) * 1000:.0f} ms)"
    )
    print(
        "  of which selection + 25 executions + outbox + run row (the run minus its embedded plan): "
        + ", ".join(f"{t * 1000:.0f} ms" for t in select_times)
        + f" (median {statistics.median(select_times) * 1000:.0f} ms; target < 200 ms)"
        + f"; {executions} executions"
    )


async def main() -> None:
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    with (
        tempfile.TemporaryDirectory(prefix="cavra-bench-retries-") as root,
        session_servers(Path(root)) as servers,
    ):
        await figures(servers.database_url, servers.nats_url)
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    asyncio.run(main())
