"""Benchmark notification delivery through the running system into a local sink; print the figures.

Starts ``cavra up`` (embedded NATS + PostgreSQL, every service as its own process) in a temporary
$CAVRA_HOME on free loopback ports, with three webhook connectors pointing at an HTTP sink in this
process. Each schedule has 20 owners x 3 providers = 60 routes, 2 owners silenced by a maintenance
window (the Alertmanager comparison: 20 owners, 2 silenced), so 54 deliverable routes per plan.

1. Throughput: healthy schedules are created, then a burst of plan commands (force) goes straight
   onto JetStream; prints routes delivered per second (first plan to last sink arrival),
   plan-to-sink latency, and the CPU seconds each process used.
2. Latency at a fixed rate: on-demand deliveries at ~200 routes/s for a bounded time; prints
   plan-to-sink p50/p95/p99.
3. Peak RSS (VmHWM) of every process.

BENCH_SCHEDULES (150) sets the burst size, BENCH_DELIVERY_REPLICAS (2) the delivery processes.
BENCH_PROFILE=<dir> also profiles the burst: ``py-spy record --format raw`` of every delivery and
router process (py-spy must be installed in the venv) and PostgreSQL's statements per route
(pg_stat_statements, preloaded into the embedded cluster before ``cavra up`` starts it); the
files land in <dir>, and ``bench/profile_summary.py`` prints the top frames of a raw profile.

Loopback only; every loop is bounded. Run: ``.venv/bin/python bench/bench_delivery.py``.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import nats
from harness import (
    admin_headers,
    api_base,
    cpu_by_name,
    cpu_seconds,
    memory_mb,
    nats_url,
    percentile,
    process_name,
    process_table,
    start_system,
    stop_system,
    system_env,
    system_home,
)

from cavra_contracts.envelope import make_envelope
from cavra_contracts.notifications import DeliveryOptions, PlanNotificationV1
from tests.support.sink import Sink

SCHEDULES = int(os.environ.get("BENCH_SCHEDULES", "150"))
REPLICAS = os.environ.get("BENCH_DELIVERY_REPLICAS", "2")
PROFILE_DIR = Path(os.environ["BENCH_PROFILE"]) if os.environ.get("BENCH_PROFILE") else None
PROFILED = ("cavra_delivery", "cavra_router")
OWNERS = 20
SILENCED = 2
PROVIDERS = ("hook_a", "hook_b", "hook_c")
RATE_ROUTES_PER_SECOND = 200
RATE_SECONDS = 10.0
DELIVERABLE = (OWNERS - SILENCED) * len(PROVIDERS)


def quantiles(values: list[float]) -> str:
    return " ".join(f"p{q} {percentile(values, q):.0f} ms" for q in (50, 95, 99))


def peak_rss_mb(pid: int) -> float:
    return memory_mb(pid, "VmHWM")


def processes(root: int, home: Path) -> dict[int, str]:
    """Children of ``cavra up`` plus the PostgreSQL postmaster and its backends (started by pg_ctl)."""
    found: dict[int, str] = {}
    postmaster = int((home / "postgres" / "postmaster.pid").read_text().split()[0])
    for pid, parent, cmd in process_table():
        if parent == root:
            found[pid] = process_name(cmd)
        elif pid == postmaster or parent == postmaster:
            found[pid] = (
                "postgres" if pid == postmaster else f"postgres: {cmd.split(':', 1)[-1].strip()[:40]}"
            )
    return found


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has been busy (every core, every tenant) since boot."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    """This bench process (load generator + sink)."""
    return cpu_seconds(os.getpid())


def cpu_by_service(pids: dict[int, str]) -> dict[str, float]:
    """CPU seconds per process name, every PostgreSQL process under ``postgres``."""
    return cpu_by_name(
        {pid: "postgres" if name.startswith("postgres") else name for pid, name in pids.items()}
    )


def schedule(index: int, next_due: str) -> dict[str, object]:
    owners = [f"team-{n:02d}" for n in range(OWNERS)]
    return {
        "schema_version": "cavra.go-backend-rollback-drill-schedule.v1",
        "interval_days": 30,
        "next_due_at": next_due,
        "owners": owners,
        "notification_providers": list(PROVIDERS),
        "maintenance_windows": [
            {
                "window_id": "freeze",
                "start_at": "2020-01-01T00:00:00Z",
                "end_at": "2100-01-01T00:00:00Z",
                "owners": owners[:SILENCED],
            }
        ],
        "runbook_ref": "docs/runbook.md",
    }


async def plan_times(api: httpx.AsyncClient, plan_ids: set[str]) -> dict[str, float]:
    times = {}
    for plan_id in plan_ids:
        body = (await api.get(f"/runtime/go-pilot/rollback-drill-notifications/plans/{plan_id}")).json()
        times[plan_id] = datetime.fromisoformat(body["plan"]["generated_at"]).timestamp()
    return times


async def latencies(api: httpx.AsyncClient, sink: Sink, keys: list[str]) -> list[float]:
    plans = await plan_times(api, {key.split(":", 1)[0] for key in keys})
    return [(sink.arrivals[key] - plans[key.split(":", 1)[0]]) * 1000 for key in keys]


async def wait_for(sink: Sink, total: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while len(sink.ids) < total and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


async def create_schedules(api: httpx.AsyncClient) -> float:
    """Healthy schedules (due in 60 days): nothing is planned until the bench asks."""
    due = (datetime.now(UTC) + timedelta(days=60)).isoformat()
    started = time.monotonic()
    for index in range(SCHEDULES):
        response = await api.put(
            f"/runtime/go-pilot/rollback-drill-schedules/load-{index:04d}", json=schedule(index, due)
        )
        assert response.status_code in (200, 201, 202), response.text
    return time.monotonic() - started


async def throughput(
    api: httpx.AsyncClient, sink: Sink, nats_url: str, on_arrived: Callable[[], Awaitable[None]]
) -> None:
    """A burst of plan commands straight onto JetStream; routes/s from first plan to last arrival.

    ``on_arrived`` runs once every route has arrived, before the bench's own plan queries
    (so CPU readings and profiles taken there hold the burst only)."""
    expected = SCHEDULES * DELIVERABLE
    earlier = set(sink.ids)
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    for index in range(SCHEDULES):
        command = PlanNotificationV1(
            schedule_id=f"load-{index:04d}",
            force=True,
            generated_by="bench",
            delivery=DeliveryOptions(retries=0),
        )
        envelope = make_envelope(command, producer="bench")
        await js.publish(envelope.type, envelope.to_json(), headers=envelope.nats_headers())
    await nc.close()
    await wait_for(sink, len(earlier) + expected, 300)
    await on_arrived()
    keys = [key for key in sink.arrivals if key not in earlier]
    plans = await plan_times(api, {key.split(":", 1)[0] for key in keys})
    first_plan = min(plans.values())
    last_arrival = max(sink.arrivals[key] for key in keys)
    rate = len(keys) / (last_arrival - first_plan)
    lat = [(sink.arrivals[k] - plans[k.split(":", 1)[0]]) * 1000 for k in keys]
    print(
        f"  plans generated over {max(plans.values()) - first_plan:.1f}s; "
        f"routes arrived over {last_arrival - min(sink.arrivals[key] for key in keys):.1f}s"
    )
    print(
        f"throughput: {len(keys)}/{expected} routes from a burst of {SCHEDULES} plans: "
        f"{rate:.0f} routes/s (first plan -> last sink arrival)"
    )
    print(
        f"  plan-to-sink under that load: {quantiles(lat)}; re-sends {sum(sink.ids[key] - 1 for key in keys)}"
    )


async def fixed_rate(api: httpx.AsyncClient, sink: Sink) -> None:
    before = set(sink.ids)
    interval = DELIVERABLE / RATE_ROUTES_PER_SECOND
    count = int(RATE_SECONDS / interval)
    tasks = []
    started = time.monotonic()
    for index in range(count):
        await asyncio.sleep(max(0.0, started + index * interval - time.monotonic()))
        tasks.append(
            asyncio.create_task(
                api.post(
                    "/runtime/go-pilot/rollback-drill-notifications/deliver",
                    json={"schedule_id": f"load-{index % SCHEDULES:04d}", "force": True, "retries": 0},
                )
            )
        )
    answers = await asyncio.gather(*tasks)
    codes = sorted({a.status_code for a in answers})
    await wait_for(sink, len(before) + count * DELIVERABLE, 120)
    keys = [k for k in sink.arrivals if k not in before]
    lat = await latencies(api, sink, keys)
    print(
        f"fixed rate ~{RATE_ROUTES_PER_SECOND} routes/s for {RATE_SECONDS:.0f}s "
        f"({count} plans, HTTP {codes}): "
        f"{len(keys)} routes, plan-to-sink {quantiles(lat)}"
    )


def preload_pg_stat_statements(home: Path, port: int) -> None:
    """Create the cluster ``cavra up`` will start, with pg_stat_statements preloaded."""
    from cavra_runtime.embedded import EmbeddedPostgres

    cluster = EmbeddedPostgres(home / "postgres", port=port)
    cluster.start()
    cluster.stop()
    with (home / "postgres" / "postgresql.conf").open("a") as conf:
        conf.write("shared_preload_libraries = 'pg_stat_statements'\npg_stat_statements.track = 'all'\n")


async def reset_statements(database_url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        await conn.execute("SELECT pg_stat_statements_reset()")
    finally:
        await conn.close()


async def report_statements(database_url: str, routes: int, out: Path) -> None:
    """Statements per route and exec time per route (server-side only), busiest first."""
    import asyncpg

    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT calls, total_exec_time, rows, wal_bytes, query FROM pg_stat_statements "
            "WHERE query NOT LIKE '%pg_stat_statements%' ORDER BY calls DESC"
        )
    finally:
        await conn.close()
    lines = [f"{'calls/route':>11} {'exec us/route':>13} {'WAL B/route':>11} {'rows/call':>9}  query"]
    for row in rows:
        query = " ".join(row["query"].split())[:150]
        lines.append(
            f"{row['calls'] / routes:11.3f} {row['total_exec_time'] * 1000 / routes:13.1f} "
            f"{int(row['wal_bytes']) / routes:11.0f} {row['rows'] / max(1, row['calls']):9.1f}  {query}"
        )
    total_calls = sum(r["calls"] for r in rows)
    total_ms = sum(r["total_exec_time"] for r in rows)
    total_wal = sum(int(r["wal_bytes"]) for r in rows)
    lines.append(
        f"total: {total_calls / routes:.2f} statements/route, {total_ms * 1000 / routes:.0f} us exec/route "
        f"(lock waits included), {total_wal / routes:.0f} WAL bytes/route"
    )
    out.write_text("\n".join(lines) + "\n")
    print("  PostgreSQL statements during the burst (top 12 by calls):")
    for line in [*lines[:13], lines[-1]]:
        print("    " + line)


def start_profilers(pids: dict[int, str], out: Path) -> list[subprocess.Popen[bytes]]:
    py_spy = Path(sys.executable).parent / "py-spy"
    profilers = []
    for pid, name in sorted(pids.items()):
        if name in PROFILED:
            target = out / f"{name}-{pid}.txt"
            profilers.append(
                subprocess.Popen(
                    [
                        str(py_spy),
                        "record",
                        "--pid",
                        str(pid),
                        "--format",
                        "raw",
                        "--rate",
                        "200",
                        "--function",
                        "--nonblocking",
                        "--duration",
                        "300",
                        "--output",
                        str(target),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=(out / f"py-spy-{pid}.log").open("ab"),
                )
            )
    return profilers


def stop_profilers(profilers: list[subprocess.Popen[bytes]]) -> None:
    for profiler in profilers:
        profiler.send_signal(signal.SIGINT)
    for profiler in profilers:
        try:
            profiler.wait(30)
        except subprocess.TimeoutExpired:
            profiler.kill()
            profiler.wait()


async def main() -> None:
    with system_home("cavra-bench-delivery-") as home:
        await run(home)


async def run(home: Path) -> None:
    """Every figure, with connectors pointing at a sink in this process."""
    async with Sink() as sink:
        config = home / "connectors.json"
        config.write_text(
            json.dumps({"connectors": {p: {"type": "webhook", "url": f"{sink.url}/{p}"} for p in PROVIDERS}})
        )
        env = system_env(
            home,
            CAVRA_CONNECTOR_CONFIG=str(config),
            CAVRA_DELIVERY_WAIT_SECONDS="30",
            CAVRA_DELIVERY_REPLICAS=REPLICAS,
        )
        pg_port = int(env["CAVRA_EMBEDDED_PG_PORT"])
        if PROFILE_DIR:
            PROFILE_DIR.mkdir(parents=True, exist_ok=True)
            preload_pg_stat_statements(home, pg_port)
        # In a thread: the sink answers on this loop while the system starts.
        up, _ = await asyncio.to_thread(start_system, home, env)
        try:
            async with httpx.AsyncClient(
                base_url=api_base(env), timeout=60, headers=admin_headers(env)
            ) as api:
                created = await create_schedules(api)
                print(f"{REPLICAS} delivery replica(s); {SCHEDULES} schedules created in {created:.1f}s")
                await fixed_rate(api, sink)
                await asyncio.sleep(2)
                pids = processes(up.pid, home)
                database_url = f"postgresql://postgres@127.0.0.1:{pg_port}/cavra"
                profilers = []
                if PROFILE_DIR:
                    await reset_statements(database_url)
                    profilers = start_profilers(pids, PROFILE_DIR)
                before = cpu_by_service(pids)
                before_machine, before_own, started = (
                    machine_busy_seconds(),
                    own_cpu_seconds(),
                    time.monotonic(),
                )
                after: dict[str, float] = {}
                noise: dict[str, float] = {}

                async def arrived() -> None:
                    after.update(cpu_by_service(processes(up.pid, home) | pids))
                    noise["machine"] = machine_busy_seconds() - before_machine
                    noise["own"] = own_cpu_seconds() - before_own
                    noise["wall"] = time.monotonic() - started
                    if PROFILE_DIR:
                        stop_profilers(profilers)
                        await report_statements(database_url, SCHEDULES * DELIVERABLE, PROFILE_DIR / "pg.txt")

                await throughput(api, sink, nats_url(env), arrived)
                used = {name: after.get(name, 0.0) - before.get(name, 0.0) for name in after}
                routes = SCHEDULES * DELIVERABLE
                print(
                    "  CPU seconds during the throughput run: "
                    + ", ".join(
                        f"{n} {v:.1f}" for n, v in sorted(used.items(), key=lambda i: -i[1]) if v > 0.05
                    )
                )
                print(
                    "  CPU us per route: "
                    + ", ".join(
                        f"{n} {v * 1e6 / routes:.0f}"
                        for n, v in sorted(used.items(), key=lambda i: -i[1])
                        if v > 0.05
                    )
                    + f"; total {sum(used.values()) * 1e6 / routes:.0f}"
                )
                others = noise["machine"] - sum(used.values()) - noise["own"]
                print(
                    f"  machine busy {noise['machine'] / noise['wall']:.2f} of {os.cpu_count()} cores over "
                    f"{noise['wall']:.1f}s; bench + sink {noise['own']:.1f}s CPU; "
                    f"other tenants {others:.1f}s CPU"
                )
            for pid, name in sorted(processes(up.pid, home).items(), key=lambda item: item[1]):
                if not name.startswith("postgres: "):
                    print(f"peak RSS {name:<16} {peak_rss_mb(pid):7.1f} MB")
            backends = [
                peak_rss_mb(p) for p, n in processes(up.pid, home).items() if n.startswith("postgres: ")
            ]
            print(
                f"peak RSS postgres backends: {len(backends)} processes, "
                f"max {max(backends, default=0):.1f} MB each"
            )
            print(f"peak RSS bench + sink     {peak_rss_mb(os.getpid()):7.1f} MB")
        finally:
            stop_system(up)


if __name__ == "__main__":
    asyncio.run(main())
