"""Benchmark the reporting read models with 1,000,000 stored routes; print dashboard and history p95.

Seeds through the service's own event-applying code in bulk: each event's ``domain`` change, then
``repository.apply`` in one transaction per event, as the consumer does, without NATS in between.
BENCH_PLANS (2,000) plans of BENCH_ROUTES_PER_PLAN (500) deliverable routes on as many schedules,
each plan's delivery record (one in 20 failed), acknowledgements of one route in five (bulk events of
100, every state), and an automatic escalation of one route of every other plan with its job
delivery. Two processes of two appliers each seed at once, on distinct schedules.

Then the reporting service and the gateway run in this process on embedded NATS + PostgreSQL (fsync
off), and each figure is BENCH_REQUESTS (200) sequential GETs over HTTP (gateway -> NATS query ->
reporting -> PostgreSQL): the dashboard, the first history page, a page filtered by provider, one
filtered by schedule and kind, a deep offset page (offset 100,000) and the keyset page at that depth.

Loopback only; bounded. Run: ``.venv/bin/python bench/bench_reporting.py``.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from harness import percentile

from cavra_contracts.acknowledgements import AcknowledgementsRecordedV1, AcknowledgementV1
from cavra_contracts.deliveries import ESCALATION_SOURCE, MessageDeliveredV1
from cavra_contracts.escalations import RouteEscalatedV1
from cavra_contracts.notifications import (
    NotificationDeliveredV1,
    NotificationPlannedV1,
    RouteDeliveryV1,
)
from cavra_contracts.reporting import NotificationDashboardQueryV1, NotificationHistoryQueryV1
from cavra_reporting import (
    MIGRATIONS,
    SERVICE,
    handlers,
)
from cavra_reporting import repository as repo
from cavra_reporting.domain import Change, EventPosition
from cavra_reporting.handlers import CHANGES
from cavra_runtime.db import create_pool
from cavra_runtime.migrate import migrate
from tests.support import reporting_events as ev
from tests.support.harness import gateway_client, running_service
from tests.support.servers import session_servers

PLANS = int(os.environ.get("BENCH_PLANS", "2000"))
ROUTES_PER_PLAN = int(os.environ.get("BENCH_ROUTES_PER_PLAN", "500"))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "200"))
WARMUP = 10
"""Unmeasured requests before each figure (connections, caches)."""
PROCESSES = 2
APPLIERS = 2
ACK_BATCH = 100
ACK_STATES = ("acknowledged", "resolved", "escalated", "dismissed")
BASE = "/runtime/go-pilot/rollback-drill-notifications"
PROVIDERS = ("slack", "teams")


def template() -> NotificationPlannedV1:
    owners = tuple(f"team-{n:03d}" for n in range(ROUTES_PER_PLAN // len(PROVIDERS)))
    return ev.plan("bench", "gordn-bench", 0, owners=owners, providers=PROVIDERS)


def plan_number(base: NotificationPlannedV1, n: int) -> NotificationPlannedV1:
    """Plan ``n`` on schedule ``bench-<n>``: the template's routes under ids of their own."""
    plan_id = f"gordn-{n:016x}"
    decisions = [
        d.model_copy(update={"route_id": f"gordroute-{n:08x}{i:08x}", "schedule_id": f"bench-{n:05d}"})
        for i, d in enumerate(base.plan.route_decisions)
    ]
    generated_at = (ev.T0 + timedelta(minutes=n)).isoformat()
    plan = base.plan.model_copy(
        update={
            "plan_id": plan_id,
            "schedule_id": f"bench-{n:05d}",
            "generated_at": generated_at,
            "route_decisions": decisions,
        }
    )
    return base.model_copy(update={"plan": plan})


def delivery_of(planned: NotificationPlannedV1, n: int) -> NotificationDeliveredV1:
    failed = n % 20 == 0
    deliveries = [
        RouteDeliveryV1.model_construct(
            delivery_id=f"{d.route_id}:hook",
            route_id=d.route_id,
            route_key=d.route_key,
            plan_id=planned.plan.plan_id,
            provider=d.provider,
            owner=d.owner,
            connector=f"{d.provider}-hook",
            connector_type="webhook",
            target_host="hooks.example.test",
            outcome="failed" if failed and d.provider == "slack" else "delivered",
            idempotency_key=d.route_id,
            attempt_count=1,
            status_code=500 if failed and d.provider == "slack" else 200,
            external_ref=None,
            deduplicated=False,
            attempts=[],
            completed_at=None,
        )
        for d in planned.plan.route_decisions
    ]
    return NotificationDeliveredV1.model_construct(
        event_type="cavra.go_backend.rollback_drill.notification",
        plan_id=planned.plan.plan_id,
        schedule_id=planned.plan.schedule_id,
        alert_level=planned.plan.alert_level,
        success=not failed,
        record_id=f"rcd-{planned.plan.plan_id}",
        connector_delivery_source="go_backend_rollback_drill_notification",
        deliveries=deliveries,
    )


def acks_of(planned: NotificationPlannedV1, n: int) -> list[AcknowledgementsRecordedV1]:
    """Acknowledgements of one route in five, in events of ACK_BATCH."""
    chosen = planned.plan.route_decisions[::5]
    events = []
    for start in range(0, len(chosen), ACK_BATCH):
        state = ACK_STATES[(n + start) % len(ACK_STATES)]
        records = [
            AcknowledgementV1.model_construct(
                schema_version="cavra.go-backend-pilot.rollback-drill-notification-ack.v1",
                product="CAVRA",
                acknowledgement_id=f"gordack-{d.route_id}",
                route_id=d.route_id,
                schedule_id=planned.plan.schedule_id,
                plan_id=planned.plan.plan_id,
                provider=d.provider,
                owner=d.owner,
                acknowledged_by="release-manager",
                acknowledgement_state=state,
                previous_state="outstanding",
                acknowledged_at=(ev.T0 + timedelta(minutes=n, seconds=30)).isoformat(),
                external_ref="CHG-1",
                notes="",
                mode="bulk",
                actor=ev.OPERATOR,
            )
            for d in chosen[start : start + ACK_BATCH]
        ]
        events.append(
            AcknowledgementsRecordedV1.model_construct(
                bulk_id=f"gordbulkack-{n}-{start}",
                mode="bulk",
                acknowledgement_state=state,
                acknowledgement_count=len(records),
                acknowledgements=records,
                actor=ev.OPERATOR,
            )
        )
    return events


def escalated(planned: NotificationPlannedV1, n: int) -> tuple[RouteEscalatedV1, MessageDeliveredV1]:
    """The automatic escalation of the plan's second route, and its job delivery."""
    decision = planned.plan.route_decisions[1]
    job_id = f"esc-{decision.route_id}"
    moment = (ev.T0 + timedelta(minutes=n, seconds=40)).isoformat()
    event = RouteEscalatedV1(
        escalation_id=f"gordescalation-{decision.route_id}",
        kind="escalation",
        route_id=decision.route_id,
        plan_id=planned.plan.plan_id,
        schedule_id=planned.plan.schedule_id,
        provider=decision.provider,
        owner=decision.owner,
        escalation_owner="platform-lead",
        providers=["pagerduty"],
        job_id=job_id,
        acknowledgement_minutes=30,
        age_minutes=30.0,
        due_at=moment,
        escalated_at=moment,
    )
    delivery = RouteDeliveryV1.model_construct(
        delivery_id=f"{job_id}:pager",
        route_id=decision.route_id,
        route_key="",
        plan_id=planned.plan.plan_id,
        provider="pagerduty",
        owner="platform-lead",
        connector="pager-hook",
        connector_type="webhook",
        target_host="hooks.example.test",
        outcome="delivered",
        idempotency_key=job_id,
        attempt_count=1,
        status_code=202,
        external_ref=None,
        deduplicated=False,
        attempts=[],
        completed_at=None,
    )
    job = MessageDeliveredV1.model_construct(
        job_id=job_id,
        source=ESCALATION_SOURCE,
        kind="rollback_drill_escalation",
        success=True,
        record_id=f"rcd-{job_id}",
        deliveries=[delivery],
    )
    return event, job


async def seed_share(database_url: str, process: int) -> tuple[int, int]:
    """Apply the events of every PROCESSES-th plan from ``process`` on, APPLIERS at a time."""
    base = template()
    pool = await create_pool(database_url, schema=SERVICE, application="bench-reporting", max_size=APPLIERS)
    events = routes = 0

    async def applied(contract: Any, sequence: int, minute: float) -> None:
        nonlocal events
        at = EventPosition(sequence, ev.T0 + timedelta(minutes=minute))
        change: Change = CHANGES[type(contract)](contract, at)
        async with pool.acquire() as conn, conn.transaction():
            await repo.apply(conn, change, at)
        events += 1

    async def applier(first: int) -> None:
        nonlocal routes
        for n in range(first, PLANS, PROCESSES * APPLIERS):
            planned = plan_number(base, n)
            sequence = n * 16  # the plan's events sit together in the stream, in this order
            await applied(planned, sequence, n)
            await applied(delivery_of(planned, n), sequence + 1, n + 0.2)
            for k, acks in enumerate(acks_of(planned, n)):
                await applied(acks, sequence + 2 + k, n + 0.5)
            if n % 2 == 0:
                escalation, job = escalated(planned, n)
                await applied(escalation, sequence + 14, n + 0.7)
                await applied(job, sequence + 15, n + 0.8)
            routes += len(planned.plan.route_decisions)
            if process == 0 and n % 400 == 0:
                print(f"  seeded ~{routes * PROCESSES:>9,} routes", flush=True)

    try:
        await asyncio.gather(*(applier(process + PROCESSES * a) for a in range(APPLIERS)))
    finally:
        await pool.close()
    return events, routes


def _seed_process(database_url: str, process: int) -> tuple[int, int]:
    return asyncio.run(seed_share(database_url, process))


async def seed(database_url: str) -> tuple[int, float]:
    """Seed with PROCESSES processes (both cores run Python); returns (events, seconds)."""
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn, SERVICE, MIGRATIONS)
    finally:
        await conn.close()
    started = time.monotonic()
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(PROCESSES, mp_context=multiprocessing.get_context("spawn")) as pool:
        shares = await asyncio.gather(
            *(loop.run_in_executor(pool, _seed_process, database_url, p) for p in range(PROCESSES))
        )
    return sum(events for events, _ in shares), time.monotonic() - started


async def timed(api: httpx.AsyncClient, path: str, params: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    response = await api.get(f"{BASE}{path}", params=params)
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return elapsed, body


def cases(deep_cursor: str) -> list[tuple[str, str, dict[str, Any]]]:
    ack_kind = "go-backend-rollback-drill-notification-ack"
    return [
        ("dashboard", "/dashboard", {}),
        ("history, first page (50)", "", {"limit": 50}),
        ("history, provider=teams", "", {"provider": "teams", "limit": 50}),
        (
            "history, schedule + kind",
            "",
            {"schedule_id": f"bench-{PLANS // 2:05d}", "metadata_kind": ack_kind},
        ),
        ("history, provider + kind", "", {"provider": "slack", "metadata_kind": ack_kind}),
        (
            "history, 3 filters",
            "",
            {"provider": "slack", "metadata_kind": ack_kind, "acknowledgement_state": "resolved"},
        ),
        ("history, offset 100,000", "", {"limit": 50, "offset": 100_000}),
        ("history, keyset at 100,050", "", {"limit": 50, "cursor": deep_cursor}),
    ]


def report(label: str, latencies: list[float], extra: str = "") -> None:
    p50, p95, p99 = (percentile(latencies, q) for q in (50, 95, 99))
    print(f"  {label:<30} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  p99 {p99:6.1f} ms{extra}")


async def measure_service(database_url: str, deep_cursor: str) -> None:
    """The query handlers alone (PostgreSQL and the reply model, no NATS or HTTP)."""
    pool = await create_pool(database_url, schema=SERVICE, application="bench-reporting", max_size=2)
    deps = handlers.Deps(pool=pool)
    try:
        for label, path, params in cases(deep_cursor):
            latencies = []
            for attempt in range(WARMUP + REQUESTS):
                started = time.perf_counter()
                if path == "/dashboard":
                    reply = await handlers.dashboard(NotificationDashboardQueryV1(), deps)
                else:
                    reply = await handlers.history(NotificationHistoryQueryV1(**params), deps)
                if attempt >= WARMUP:
                    latencies.append((time.perf_counter() - started) * 1000)
                assert reply.ok, reply.error
            report(label, latencies)
    finally:
        await pool.close()


async def measure(nats_url: str, database_url: str) -> None:
    async with (
        running_service("reporting", nats_url, database_url),
        gateway_client(nats_url, database_url, services=("reporting",)) as api,
    ):
        _, deep = await timed(api, "", {"limit": 50, "offset": 100_000})
        print(f"over HTTP (gateway -> NATS -> reporting -> PostgreSQL), {REQUESTS} sequential GETs each:")
        for label, path, params in cases(deep["next"] or ""):
            latencies = []
            for attempt in range(WARMUP + REQUESTS):
                elapsed, body = await timed(api, path, params)
                if attempt >= WARMUP:
                    latencies.append(elapsed)
            if path == "/dashboard":
                outstanding = body["outstanding_acknowledgement_count"]
                extra = f"  (plans {body['plan_count']:,}, outstanding {outstanding:,})"
            else:
                extra = f"  (total {body['total']:,}, {len(body['items'])} items)"
            report(label, latencies, extra)
    print(f"the query handlers alone (PostgreSQL + reply model), {REQUESTS} calls each:")
    await measure_service(database_url, deep["next"] or "")


async def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="cavra-bench-reporting-"))
    try:
        with session_servers(root) as servers:
            print(f"seeding {PLANS * ROUTES_PER_PLAN:,} routes ({PLANS:,} plans x {ROUTES_PER_PLAN}) ...")
            events, seconds = await seed(servers.database_url)
            conn = await asyncpg.connect(servers.database_url)
            try:
                rows = await conn.fetchval("SELECT count(*) FROM reporting.routes")
                items = await conn.fetchval("SELECT count(*) FROM reporting.history_items")
                size = await conn.fetchval("SELECT pg_size_pretty(pg_database_size(current_database()))")
                await conn.execute("VACUUM ANALYZE")
            finally:
                await conn.close()
            print(
                f"seeded {rows:,} routes, {items:,} history items, {events:,} events in {seconds:.0f}s "
                f"({events / seconds:.0f} events/s, {PROCESSES} processes x {APPLIERS} appliers); "
                f"database {size}"
            )
            await measure(servers.nats_url, servers.database_url)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
