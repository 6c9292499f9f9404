"""Benchmark the escalation service and print the figures.

Starts the test servers (embedded NATS + PostgreSQL unless ``CAVRA_NATS_URL`` / ``CAVRA_DATABASE_URL``
are set) and runs the escalation service and the gateway in this process with a controllable clock:

1. Escalation plan over 100,000 outstanding routes (1,000 schedules x 100 routes, loaded straight into
   the service's table): the service's part (the SLO keys, then one statement that judges, stores
   in pages, counts and digests every route inside the database; the plan row; one transaction)
   and ``POST .../escalation-plan`` end to end (command -> service -> event -> query of the first
   500 routes). Target < 1 s.
2. SLO breach to DeliverMessageV1 on the stream: plans tracked, the clock moved past one route's
   breach at a time; the time until the command is in CAVRA_COMMANDS (timer tick + transaction +
   outbox relay + PubAck), with the default tick (1 s) and a 0.1 s tick.
3. SLO breach to the escalation's request at a local webhook sink, through the delivery service
   (default tick). Target < 5 s.

Loopback only; every loop is bounded. Run: ``.venv/bin/python bench/bench_escalation.py``.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import nats
from harness import cpu_seconds, fresh_database

from cavra_contracts.deliveries import DeliverMessageV1
from cavra_contracts.envelope import make_envelope
from cavra_contracts.notifications import NotificationPlannedV1
from cavra_escalation import planning
from cavra_runtime.db import create_pool
from tests.support.escalations import OPERATOR, planned
from tests.support.harness import FakeClock, gateway_client, running_service
from tests.support.servers import session_servers
from tests.support.sink import Sink

SCHEDULES = 1000
ROUTES_PER_SCHEDULE = 100
PLAN_RUNS = 3
BREACHES = 20


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of a local process (the embedded PostgreSQL's backend); NaN when not local."""
    return cpu_seconds(pid, missing=float("nan"))


def breaching_plans(prefix: str, start: datetime, **changes: Any) -> list[NotificationPlannedV1]:
    """BREACHES one-route plans generated at ``start``; plan i breaches 30 + 5 i minutes later, so each
    clock move breaches one route."""
    return [
        planned(
            f"{prefix}-{i}",
            now=start,
            owners=("owner",),
            routing_policy={"owner_routes": {"owner": {"acknowledgement_minutes": 30 + 5 * i}}},
            **changes,
        )
        for i in range(BREACHES)
    ]


async def load_routes(database_url: str, clock: FakeClock) -> None:
    """100,000 outstanding routes of 1,000 current plans, generated 45 minutes ago (SLO 30 or 60)."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            """INSERT INTO escalation.routes (route_id, plan_id, schedule_id, position, provider, owner,
                   escalation_owner, escalation_providers, acknowledgement_minutes, generated_at,
                   generated_micros, breach_due_at, ack_state, line_head)
               SELECT 'gordroute-' || lpad(to_hex(s * 1000 + r), 16, '0'),
                      'gordn-' || lpad(to_hex(s), 16, '0'),
                      's-' || lpad(s::text, 4, '0'), r, (ARRAY['slack', 'teams', 'webhook'])[1 + r % 3],
                      'owner-' || (r / 3), 'lead-' || (r / 30), '{}', CASE WHEN r % 2 = 0 THEN 30 ELSE 60 END,
                      $1::timestamptz - interval '45 minutes',
                      (extract(epoch FROM $1::timestamptz - interval '45 minutes') * 1000000)::bigint,
                      $1::timestamptz + interval '1 day',
                      CASE WHEN r % 10 = 0 THEN 'acknowledged' ELSE 'outstanding' END,
                      concat_ws(E'\t', 's-' || lpad(s::text, 4, '0'), 'gordn-' || lpad(to_hex(s), 16, '0'),
                                'gordroute-' || lpad(to_hex(s * 1000 + r), 16, '0'),
                                (ARRAY['slack', 'teams', 'webhook'])[1 + r % 3], 'owner-' || (r / 3))
               FROM generate_series(1, $2::int) AS s, generate_series(1, $3::int) AS r""",
            clock(),
            SCHEDULES,
            ROUTES_PER_SCHEDULE,
        )
        await conn.execute("ANALYZE escalation.routes")
    finally:
        await conn.close()


async def plan_figures(nats_url: str, server_url: str) -> None:
    clock = FakeClock()
    database_url = await fresh_database(server_url, "cavra_bench_escalation_plan")
    async with running_service("escalation", nats_url, database_url, clock=clock):
        await load_routes(database_url, clock)
        pool = await create_pool(database_url, schema="escalation", application="bench")
        service_times = []
        backend_cpu = []
        try:
            for run in range(PLAN_RUNS):
                clock.advance(seconds=7)
                async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
                    backend = await conn.fetchval("SELECT pg_backend_pid()")
                    cpu_before = process_cpu_seconds(backend)
                    started = time.perf_counter()
                    generated = await planning.generate(
                        conn,
                        {"acknowledgement_minutes": 40},
                        generated_by=f"bench-{run}",
                        actor=OPERATOR,
                        now=clock(),
                    )
                    service_times.append(time.perf_counter() - started)
                    backend_cpu.append(process_cpu_seconds(backend) - cpu_before)
                event = generated.event
        finally:
            await pool.close()
        print(
            f"escalation plan, service ({event.route_count:,} routes, "
            f"{event.outstanding_count:,} outstanding, "
            f"{event.breached_count:,} breached): "
            + ", ".join(f"{t * 1000:.0f} ms" for t in service_times)
            + f" (median {statistics.median(service_times) * 1000:.0f} ms; PostgreSQL backend CPU "
            + ", ".join(f"{t * 1000:.0f} ms" for t in backend_cpu)
            + ")"
        )
        async with gateway_client(nats_url, database_url, services=("escalation",)) as api:
            api_times = []
            for run in range(PLAN_RUNS):
                clock.advance(seconds=7)
                started = time.perf_counter()
                answer = await api.post(
                    "/runtime/go-pilot/rollback-drill-notifications/escalation-plan",
                    json={"policy": {"acknowledgement_minutes": 40}, "generated_by": f"api-{run}"},
                    timeout=30,
                )
                api_times.append(time.perf_counter() - started)
                assert answer.status_code == 200, answer.text
                assert answer.json()["plan"]["route_count"] == SCHEDULES * ROUTES_PER_SCHEDULE
        print(
            "escalation plan, POST end to end (first 500 routes in the answer): "
            + ", ".join(f"{t * 1000:.0f} ms" for t in api_times)
            + f" (median {statistics.median(api_times) * 1000:.0f} ms)"
        )


async def tracked_routes(database_url: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM escalation.routes"))
    finally:
        await conn.close()


async def breach_figures(nats_url: str, server_url: str, tick: float) -> None:
    clock = FakeClock()
    start = clock()
    database_url = await fresh_database(server_url, f"cavra_bench_escalation_breach_{int(tick * 1000)}")
    plans = breaching_plans("breach", start)
    nc = await nats.connect(nats_url)
    arrived: dict[str, float] = {}

    async def on_command(msg: nats.aio.msg.Msg) -> None:
        arrived.setdefault((msg.headers or {}).get("Nats-Msg-Id", ""), time.perf_counter())

    await nc.subscribe(DeliverMessageV1.MESSAGE.subject, cb=on_command)
    latencies = []
    try:
        async with running_service(
            "escalation", nats_url, database_url, clock=clock, escalation_tick_seconds=tick
        ) as service:
            for plan in plans:
                await service.bus.publish(make_envelope(plan, producer="bench"))
            deadline = time.monotonic() + 30
            while await tracked_routes(database_url) < BREACHES and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            await asyncio.sleep(tick * 1.5)  # out of phase with the timer like a real breach
            for index, plan in enumerate(plans):
                (route,) = plan.plan.deliverable()
                expected = f"deliver:escalation-{route.route_id}"
                clock.now = start + timedelta(minutes=30 + 5 * index)
                started = time.perf_counter()
                wait_until = started + 10
                while expected not in arrived and time.perf_counter() < wait_until:
                    await asyncio.sleep(0.001)
                latencies.append(arrived.get(expected, float("inf")) - started)
                await asyncio.sleep(random.uniform(0, tick))  # breaches fall anywhere in the tick
    finally:
        await nc.close()
    print(
        f"SLO breach -> DeliverMessageV1 on CAVRA_COMMANDS (tick {tick:g} s, {len(latencies)} breaches): "
        f"p50 {statistics.median(latencies) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms "
        f"(the tick bounds the wait: a breach is seen at the next pass)"
    )


async def sink_figures(nats_url: str, server_url: str, tmp: Path, tick: float) -> None:
    """Breach -> the escalation's HTTP request at a webhook sink, through the delivery service."""
    clock = FakeClock()
    start = clock()
    database_url = await fresh_database(server_url, f"cavra_bench_escalation_sink_{int(tick * 1000)}")
    plans = breaching_plans("sink", start, providers=("webhook",))
    latencies = []
    async with Sink() as sink:
        config = tmp / "connectors.json"
        config.write_text(json.dumps({"connectors": {"webhook": {"type": "webhook", "url": sink.url}}}))
        async with (
            running_service("delivery", nats_url, database_url, connector_config=str(config)),
            running_service(
                "escalation", nats_url, database_url, clock=clock, escalation_tick_seconds=tick
            ) as service,
        ):
            for plan in plans:
                await service.bus.publish(make_envelope(plan, producer="bench"))
            deadline = time.monotonic() + 30
            while len(sink.arrivals) < BREACHES and time.monotonic() < deadline:
                await asyncio.sleep(0.05)  # every plan's own notification delivered
            for index in range(BREACHES):
                seen = len(sink.arrivals)
                clock.now = start + timedelta(minutes=30 + 5 * index)
                started = time.time()
                wait_until = time.monotonic() + 10
                while len(sink.arrivals) == seen and time.monotonic() < wait_until:
                    await asyncio.sleep(0.001)
                newest = max(sink.arrivals.values()) if len(sink.arrivals) > seen else float("inf")
                latencies.append(newest - started)
                await asyncio.sleep(random.uniform(0, tick))
    print(
        f"SLO breach -> escalation at the webhook sink (tick {tick:g} s, {len(latencies)} breaches): "
        f"p50 {statistics.median(latencies) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms (target < 5 s)"
    )


async def main() -> None:
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    with (
        tempfile.TemporaryDirectory(prefix="cavra-bench-escalation-") as root,
        session_servers(Path(root)) as servers,
    ):
        await plan_figures(servers.nats_url, servers.database_url)
        for tick in (1.0, 0.1):
            await breach_figures(servers.nats_url, servers.database_url, tick)
        await sink_figures(servers.nats_url, servers.database_url, Path(root), 1.0)
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    asyncio.run(main())
