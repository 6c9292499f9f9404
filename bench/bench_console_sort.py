"""Benchmark the console's sorted, paged lists with 1,000,000 stored rows each: p50/p95 per endpoint x
sort x filter x page (first page, offset 10,000), over HTTP (gateway -> NATS -> service -> PostgreSQL).

Loads straight into the three services' tables with ``INSERT ... SELECT generate_series`` (no INSERT
loops): BENCH_ROWS (1,000,000) notification history items (8 kinds, 6 states, 2,000 schedules, one
provider each), as many route decisions of the router's route history (2,000 plans of 500 routes,
200 owners, 4 providers, 3 in 10 suppressed over 3 categories) and as many routes of the current
plans in the acknowledgement service (2,000 schedules, every state, one in 4 acknowledged).

Then the reporting, router and acknowledgement services and the gateway run in this process on
embedded NATS + PostgreSQL (fsync off) and each case is BENCH_REQUESTS (15) sequential GETs after 2
unmeasured ones. It also times ``count(*)`` of the filters alone (what a list's ``total`` costs).
The run stops measuring after BENCH_SECONDS (300) and says so; a case stops after 4 s (n= samples).
The lists are asked with `with_total=false` (the count is timed apart); BENCH_LOADED=1 reuses the
data of the servers named by CAVRA_DATABASE_URL / CAVRA_NATS_URL.

Loopback only; bounded. Run: ``.venv/bin/python bench/bench_console_sort.py``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from harness import percentile

import cavra_acknowledgement
import cavra_reporting
import cavra_router
from cavra_contracts.sorting import HistorySort, RouteHistorySort, RouteStatesSort, allowed
from cavra_runtime.migrate import migrate
from tests.support.harness import gateway_client, running_service
from tests.support.servers import session_servers

ROWS = int(os.environ.get("BENCH_ROWS", "1000000"))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "15"))
WARMUP = 2
SECONDS = float(os.environ.get("BENCH_SECONDS", "300"))
CASE_SECONDS = 4.0
"""A case stops after this long (a slow case then has fewer samples, printed as n=)."""
LOADED = os.environ.get("BENCH_LOADED") == "1"
"""The servers of CAVRA_DATABASE_URL / CAVRA_NATS_URL hold a previous run's data: skip the load."""
DEEP_OFFSET = 10_000
LIMIT = 50
NP = "/runtime/go-pilot/rollback-drill-notifications"

HISTORY_LOAD = f"""
INSERT INTO reporting.history_items (item_id, metadata_kind, created_at, seq, ordinal, schedule_id,
    plan_id, acknowledgement_state, source_key, alert_level, document)
SELECT 'item-' || n,
       (ARRAY['go-backend-rollback-drill-notification-plan', 'go-backend-rollback-drill-notification-ack',
              'go-backend-rollback-drill-notification-escalation', 'connector-delivery',
              'go-backend-rollback-drill-acknowledgement-audit-package',
              'go-backend-rollback-drill-acknowledgement-audit-delivery',
              'go-backend-rollback-drill-acknowledgement-audit-retry-plan',
              'go-backend-rollback-drill-notification-escalation-plan'])[1 + n % 8],
       timestamptz '2026-01-01 00:00:00+00' + n * interval '1 second', n, 0,
       'bench-' || lpad((n % 2000)::text, 5, '0'), 'gordn-' || (n / 500),
       (ARRAY['', 'outstanding', 'acknowledged', 'resolved', 'escalated', 'dismissed'])[1 + n % 6],
       CASE WHEN n % 8 = 3 THEN 'go_backend_rollback_drill_notification' ELSE '' END,
       (ARRAY['healthy', 'warning', 'critical'])[1 + n % 3],
       jsonb_build_object('session_id', 'item-' || n, 'schema_version', 'cavra.evidence.metadata.v1',
                          'product', 'CAVRA', 'notes', repeat('x', 200))
FROM generate_series(1, {ROWS}) AS n;
INSERT INTO reporting.item_providers (item_id, provider, created_at, seq, ordinal)
SELECT item_id, (ARRAY['slack', 'teams', 'webhook', 'jira'])[1 + seq % 4], created_at, seq, ordinal
FROM reporting.history_items;
"""

ROUTE_HISTORY_LOAD = f"""
INSERT INTO router.route_decisions (plan_id, route_key, route_id, schedule_id, alert_level, owner,
    escalation_owner, provider, action, category, reason, acknowledgement_minutes, owner_available,
    owner_availability_reason, next_due_at, created_at)
SELECT 'gordn-' || (n / 500), 'k' || n, 'gordroute-' || md5(n::text),
       'bench-' || lpad((n / 500)::text, 5, '0'),
       'warning', 'owner-' || (n % 200), 'escalation-' || (n % 50),
       (ARRAY['slack', 'teams', 'webhook', 'jira'])[1 + n % 4],
       CASE WHEN n % 10 < 3 THEN 'suppress' ELSE 'deliver' END,
       CASE WHEN n % 10 < 3
            THEN (ARRAY['maintenance_window', 'owner_calendar', 'healthy_schedule'])[1 + n % 3]
            ELSE 'deliver' END,
       'bench', 60, true, '', '2026-02-01T00:00:00Z',
       timestamptz '2026-01-01 00:00:00+00' + (n / 500) * interval '1 minute'
FROM generate_series(1, {ROWS}) AS n;
"""

ROUTE_STATES_LOAD = f"""
INSERT INTO acknowledgement.plans (plan_id, schedule_id, generated_at, alert_level, stream_sequence)
SELECT 'gordn-' || s, 'bench-' || lpad(s::text, 5, '0'),
       now() - (s % 300) * interval '1 minute', 'warning', s
FROM generate_series(0, {ROWS} / 500) AS s;
INSERT INTO acknowledgement.latest_plans (schedule_id, plan_id, generated_at, stream_sequence)
SELECT schedule_id, plan_id, generated_at, stream_sequence FROM acknowledgement.plans;
INSERT INTO acknowledgement.routes (route_id, plan_id, schedule_id, provider, owner, escalation_owner,
    acknowledgement_minutes, route_created_at, state, acknowledged_at)
SELECT 'gordroute-' || md5(n::text), 'gordn-' || (n / 500), 'bench-' || lpad((n / 500)::text, 5, '0'),
       (ARRAY['slack', 'teams', 'webhook', 'jira'])[1 + n % 4], 'owner-' || (n % 200),
       'escalation-' || (n % 50), 60, now() - ((n / 500) % 300) * interval '1 minute',
       (ARRAY['outstanding', 'outstanding', 'acknowledged', 'escalated', 'resolved', 'dismissed'])[1 + n % 6],
       CASE WHEN n % 6 IN (0, 1) THEN NULL ELSE now() - (n % 1000) * interval '1 second' END
FROM generate_series(1, {ROWS}) AS n;
"""

ENDPOINTS: list[tuple[str, str, list[str], list[dict[str, Any]]]] = [
    (
        "history",
        NP,
        allowed(HistorySort),
        [
            {},
            {"provider": "teams"},
            {"metadata_kind": "go-backend-rollback-drill-notification-ack"},
            {"acknowledgement_state": "acknowledged"},
            {"connector_delivery_source": "go_backend_rollback_drill_notification"},
        ],
    ),
    (
        "routing",
        f"{NP}/routes",
        allowed(RouteHistorySort),
        [
            {},
            {"owner": "owner-7"},
            {"provider": "teams"},
            {"action": "suppress"},
            {"category": "owner_calendar"},
        ],
    ),
    (
        "states",
        f"{NP}/acknowledgements/routes",
        allowed(RouteStatesSort),
        [{}, {"owner": "owner-7"}, {"provider": "teams"}, {"state": "outstanding"}],
    ),
]

COUNTS = [
    ("history total (counters)", "reporting", "SELECT value FROM counters WHERE name = 'items'"),
    ("routing count(*)", "router", "SELECT count(*) FROM route_decisions"),
    (
        "routing count(*) owner",
        "router",
        "SELECT count(*) FROM route_decisions WHERE lower(owner) LIKE '%owner-7%'",
    ),
    ("routing count(*) provider", "router", "SELECT count(*) FROM route_decisions WHERE provider = 'teams'"),
    (
        "states count(*)",
        "acknowledgement",
        "SELECT count(*) FROM latest_plans l JOIN routes r ON r.plan_id = l.plan_id",
    ),
    (
        "states count(*) state",
        "acknowledgement",
        "SELECT count(*) FROM latest_plans l JOIN routes r ON r.plan_id = l.plan_id "
        "WHERE r.state = 'outstanding'",
    ),
]


async def load(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        for package in (cavra_reporting, cavra_router, cavra_acknowledgement):
            await migrate(conn, package.SERVICE, package.MIGRATIONS)
        for label, sql in (
            ("history", HISTORY_LOAD),
            ("route history", ROUTE_HISTORY_LOAD),
            ("route states", ROUTE_STATES_LOAD),
        ):
            started = time.monotonic()
            await conn.execute(sql)
            print(f"loaded {label}: {ROWS:,} rows in {time.monotonic() - started:.0f}s", flush=True)
        await conn.execute("VACUUM ANALYZE")
        size = await conn.fetchval("SELECT pg_size_pretty(pg_database_size(current_database()))")
        print(f"database {size}")
    finally:
        await conn.close()


async def measure_counts(database_url: str) -> None:
    print(f"what a total costs, {REQUESTS} runs each:")
    for label, schema, sql in COUNTS:
        conn = await asyncpg.connect(database_url, server_settings={"search_path": schema})
        try:
            latencies = []
            for attempt in range(WARMUP + REQUESTS):
                started = time.perf_counter()
                await conn.fetchval(sql)
                if attempt >= WARMUP:
                    latencies.append((time.perf_counter() - started) * 1000)
        finally:
            await conn.close()
        report(label, latencies)


def report(label: str, latencies: list[float], extra: str = "") -> None:
    p50, p95 = (percentile(latencies, q) for q in (50, 95))
    print(f"  {label:<64} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms{extra}", flush=True)


async def measure(nats_url: str, database_url: str, deadline: float) -> list[tuple[str, float]]:
    """p95 of every case; the cases over 300 ms."""
    slow: list[tuple[str, float]] = []
    async with (
        running_service("reporting", nats_url, database_url),
        running_service("router", nats_url, database_url),
        running_service("acknowledgement", nats_url, database_url),
        gateway_client(
            nats_url,
            database_url,
            query_timeout_seconds=10,
            services=("reporting", "router", "acknowledgement"),
        ) as api,
    ):
        print(f"over HTTP, {REQUESTS} sequential GETs each (limit {LIMIT}):")
        for name, path, sorts, filters in ENDPOINTS:
            for sort in sorts:
                for where in filters:
                    for offset in (0, DEEP_OFFSET):
                        if time.monotonic() > deadline:
                            print(f"  stopped: BENCH_SECONDS ({SECONDS:.0f}) reached")
                            return slow
                        params = {
                            **where,
                            "sort": sort,
                            "limit": LIMIT,
                            "offset": offset,
                            "with_total": "false",
                        }
                        if name == "history":
                            del params["with_total"]  # its total is a counter
                        latencies = await timed(api, path, params)
                        label = f"{name} sort={sort} {_describe(where)} offset={offset}"
                        report(label, latencies, f"  n={len(latencies)}")
                        p95 = percentile(latencies, 95)
                        if p95 >= 300:
                            slow.append((label, p95))
    return slow


async def timed(api: httpx.AsyncClient, path: str, params: dict[str, Any]) -> list[float]:
    latencies = []
    stop = time.monotonic() + CASE_SECONDS
    for attempt in range(WARMUP + REQUESTS):
        started = time.perf_counter()
        response = await api.get(path, params=params)
        elapsed = (time.perf_counter() - started) * 1000
        assert response.status_code == 200, response.text
        if attempt >= WARMUP:
            latencies.append(elapsed)
            if time.monotonic() > stop:
                break
    return latencies


def _describe(where: dict[str, Any]) -> str:
    return ",".join(f"{k}={v[:24]}" for k, v in where.items()) or "no filter"


async def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="cavra-bench-console-sort-"))
    try:
        with session_servers(root) as servers:
            if not LOADED:
                await load(servers.database_url)
            await measure_counts(servers.database_url)
            deadline = time.monotonic() + SECONDS
            slow = await measure(servers.nats_url, servers.database_url, deadline)
            print(f"cases with p95 >= 300 ms: {len(slow)}")
            for label, p95 in slow:
                print(f"  {label}: p95 {p95:.0f} ms")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
