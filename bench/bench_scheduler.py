"""Benchmark the walking skeleton through the running system and print the figures.

Starts ``cavra up`` in a temporary $CAVRA_HOME on free loopback ports (embedded NATS and
PostgreSQL, every service as its own process), then measures:

* cold start (initdb, migrations, streams) and warm restart to a green /readyz;
* PUT /rollback-drill-schedules latency (command -> JetStream -> scheduler -> outbox -> event);
* GET /rollback-drill-schedule throughput and latency (request/reply query) at 16 in flight;
* drill-run commands applied per second (published straight to JetStream, counted by events);
* timer: schedules re-evaluated per second when many become due at once;
* idle RSS of every process.

Loopback only; every loop is bounded. Run: ``make bench`` (or ``.venv/bin/python bench/bench_scheduler.py``).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import httpx
import nats
from harness import (
    admin_headers,
    api_base,
    descendants,
    memory_mb,
    nats_url,
    percentile,
    process_name,
    start_system,
    stop_system,
    system_env,
    system_home,
)

from cavra_contracts.envelope import make_envelope
from cavra_contracts.scheduler import DrillRunRecordedV1, RecordDrillRunV1
from cavra_contracts.schedules import DrillRunV1

SCHEDULES = 300
DRILLS = 2000
QUERY_SECONDS = 5.0
DUE_SCHEDULES = 1000


def schedule_body(index: int, next_due: datetime) -> dict[str, object]:
    return {
        "schema_version": "cavra.go-backend-rollback-drill-schedule.v1",
        "interval_days": 30,
        "next_due_at": next_due.isoformat(),
        "owners": [f"team-{index % 20}"],
        "notification_providers": ["slack", "teams"],
        "runbook_ref": "docs/runbook.md",
    }


async def bench_puts(api: httpx.AsyncClient) -> list[float]:
    latencies = []
    due = datetime.now(UTC) + timedelta(days=60)
    for index in range(SCHEDULES):
        started = time.perf_counter()
        response = await api.put(
            f"/runtime/go-pilot/rollback-drill-schedules/bench-{index:05d}", json=schedule_body(index, due)
        )
        latencies.append((time.perf_counter() - started) * 1000)
        assert response.status_code in (200, 201), response.text
    return latencies


async def bench_queries(api: httpx.AsyncClient) -> tuple[int, list[float]]:
    latencies: list[float] = []
    deadline = time.monotonic() + QUERY_SECONDS

    async def worker(index: int) -> None:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            response = await api.get(
                "/runtime/go-pilot/rollback-drill-schedule",
                params={"schedule_id": f"bench-{index % SCHEDULES:05d}"},
            )
            latencies.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200

    await asyncio.gather(*(worker(i) for i in range(16)))
    return len(latencies), latencies


async def bench_drills(nats_url: str) -> float:
    nc = await nats.connect(nats_url)
    js = nc.jetstream(publish_async_max_pending=2000)
    seen = 0
    done = asyncio.Event()

    async def count(_: object) -> None:
        nonlocal seen
        seen += 1
        if seen >= DRILLS:
            done.set()

    await nc.subscribe(DrillRunRecordedV1.MESSAGE.subject, cb=count)
    started = time.perf_counter()
    executed = datetime.now(UTC).isoformat()
    for index in range(DRILLS):
        drill = DrillRunV1.model_validate(
            {
                "drill_id": f"bench-drill-{index:06d}",
                "executed_at": executed,
                "status": "pass",
                "schedule_id": f"bench-{index % SCHEDULES:05d}",
            }
        )
        envelope = make_envelope(RecordDrillRunV1(drill=drill), producer="bench")
        await js.publish_async(envelope.type, envelope.to_json(), headers=envelope.nats_headers())
    await js.publish_async_completed()
    await asyncio.wait_for(done.wait(), timeout=300)
    elapsed = time.perf_counter() - started
    await nc.close()
    return DRILLS / elapsed


async def bench_timer(api: httpx.AsyncClient, nats_url: str) -> float:
    """Many schedules cross their due-soon boundary within the same second; time the re-evaluation."""
    boundary = datetime.now(UTC) + timedelta(days=14, seconds=20)
    for index in range(DUE_SCHEDULES):
        response = await api.put(
            f"/runtime/go-pilot/rollback-drill-schedules/due-{index:05d}", json=schedule_body(index, boundary)
        )
        assert response.status_code in (200, 201)
    nc = await nats.connect(nats_url)
    changed = 0
    first_at = last_at = 0.0

    async def on_change(msg: nats.aio.msg.Msg) -> None:
        nonlocal changed, first_at, last_at
        if b'"timer"' in msg.data:
            changed += 1
            now = time.perf_counter()
            first_at = first_at or now
            last_at = now

    await nc.subscribe("cavra.evt.scheduler.schedule_evaluated.v1", cb=on_change)
    deadline = time.monotonic() + 90
    while changed < DUE_SCHEDULES and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    await nc.close()
    if changed < DUE_SCHEDULES:
        return float("nan")
    return DUE_SCHEDULES / max(last_at - first_at, 1e-3)


async def workload(env: dict[str, str]) -> None:
    async with httpx.AsyncClient(base_url=api_base(env), timeout=30, headers=admin_headers(env)) as api:
        puts = await bench_puts(api)
        print(
            f"PUT schedule (command->event), {SCHEDULES} sequential: p50 {percentile(puts, 50):.1f} ms, "
            f"p95 {percentile(puts, 95):.1f} ms, p99 {percentile(puts, 99):.1f} ms"
        )
        count, gets = await bench_queries(api)
        print(
            f"GET schedule report, 16 in flight for {QUERY_SECONDS:.0f}s: {count / QUERY_SECONDS:.0f} req/s, "
            f"p50 {percentile(gets, 50):.1f} ms, p99 {percentile(gets, 99):.1f} ms"
        )
        rate = await bench_drills(env["CAVRA_NATS_URL"])
        print(
            f"drill-run commands applied (JetStream -> scheduler -> PostgreSQL -> event): {rate:.0f}/s "
            f"over {DRILLS}"
        )
        timer_rate = await bench_timer(api, env["CAVRA_NATS_URL"])
        print(
            f"timer re-evaluations ({DUE_SCHEDULES} schedules crossing due-soon together): {timer_rate:.0f}/s"
        )


def main() -> None:
    with system_home("cavra-bench-") as home:
        env = system_env(home)
        process, cold = start_system(home, env)
        print(f"cold start to ready (initdb, migrations, streams, all processes): {cold:.2f} s")
        stop_system(process)
        process, warm = start_system(home, env)
        print(f"warm restart to ready: {warm:.2f} s")
        time.sleep(2)
        for pid, cmd in sorted(descendants(process.pid).items()):
            print(f"idle RSS {process_name(cmd):<18} {memory_mb(pid):6.1f} MB")
        print(f"idle RSS {'cavra up':<18} {memory_mb(process.pid):6.1f} MB")
        asyncio.run(workload(env | {"CAVRA_NATS_URL": nats_url(env)}))
        for pid, cmd in sorted(descendants(process.pid).items()):
            if " -m " in cmd:
                print(f"RSS after load {cmd.split(' -m ')[-1]:<14} {memory_mb(pid):6.1f} MB")
        stop_system(process)


if __name__ == "__main__":
    main()
