"""Benchmark acknowledgement POSTs end to end through the running system; print the figures.

Starts ``cavra up`` (embedded NATS + PostgreSQL, every service as its own process, the gateway under
uvicorn) in a temporary $CAVRA_HOME on free loopback ports. BENCH_SCHEDULES plans (each OWNERS owners
on slack) are published onto CAVRA_EVENTS as the router publishes them; once the acknowledgement
service tracks every route, BENCH_CLIENTS concurrent HTTP clients POST
``.../{schedule_id}/acknowledgements`` (one owner each: one route per ack) for BENCH_SECONDS.
Each answer is the recorded acknowledgement (gateway -> JetStream -> acknowledgement service ->
PostgreSQL + outbox -> JetStream -> gateway), so a 201 is a committed ack.

Prints acks/s, p50/p95/p99 latency, non-201 answers and the CPU seconds each process used.
Target (issue 7): >= 1,000 acks/s on 2 cores. Loopback only; bounded.
Run: ``.venv/bin/python bench/bench_acknowledgements.py``.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from datetime import UTC, datetime

import httpx
import uvloop
from harness import (
    admin_headers,
    api_base,
    cpu_by_name,
    descendants,
    nats_url,
    percentile,
    process_name,
    start_system,
    stop_system,
    system_env,
    system_home,
)

from cavra_contracts.envelope import Envelope, make_envelope
from cavra_runtime.bus import Bus
from tests.support.acks import plan_event

SCHEDULES = int(os.environ.get("BENCH_SCHEDULES", "200"))
OWNERS = int(os.environ.get("BENCH_OWNERS", "10"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "64"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "20"))
REPLICAS = os.environ.get("BENCH_ACKNOWLEDGEMENT_REPLICAS", "1")
NATS_SYNC = os.environ.get("BENCH_NATS_SYNC", "always")
NP = "/runtime/go-pilot/rollback-drill-notifications"


def label(cmd: str) -> str:
    if " -m " not in cmd and "postgres" in cmd:
        return "postgres"
    return process_name(cmd)


def cpu_by_label(pids: dict[int, str]) -> dict[str, float]:
    return cpu_by_name({pid: label(cmd) for pid, cmd in pids.items()})


async def publish_plans(nats_url: str) -> None:
    bus = await Bus.connect(nats_url, name="bench-router")
    now = datetime.now(UTC)
    owners = tuple(f"team-{i}" for i in range(OWNERS))
    try:
        for index in range(SCHEDULES):
            planned = plan_event(f"bench-{index:04d}", f"gordn-{index:016x}", now, owners=owners)
            await bus.publish(make_envelope(planned, producer="router"))
    finally:
        await bus.close()


async def wait_tracked(api: httpx.AsyncClient) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        response = await api.get(f"{NP}/acknowledgements/routes", params={"limit": 0})
        if response.status_code == 200 and response.json()["total"] >= SCHEDULES * OWNERS:
            return
        await asyncio.sleep(0.2)
    raise SystemExit("the acknowledgement service did not track every plan in time")


class Connection:
    """One keep-alive HTTP/1.1 connection: far cheaper per request than a general client, so the
    figures measure the system, not the load generator (which shares the machine)."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.head = f"Host: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        request = f"POST {path} HTTP/1.1\r\n{self.head}Content-Length: {len(body)}\r\n\r\n".encode() + body
        self.writer.write(request)
        status_line = await self.reader.readline()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return int(status_line.split()[1])

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def load(port: int, token: str) -> tuple[list[float], dict[int, int], float]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    stop_at = time.monotonic() + SECONDS

    async def client(number: int) -> None:
        connection = Connection(port, token)
        index = number
        try:
            while time.monotonic() < stop_at:
                schedule, owner = index % SCHEDULES, (index // SCHEDULES) % OWNERS
                index += CLIENTS
                body = json.dumps({"provider": "slack", "owner": f"team-{owner}"}).encode()
                started = time.perf_counter()
                try:
                    status = await connection.post(f"{NP}/bench-{schedule:04d}/acknowledgements", body)
                except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
                    status = 0
                    connection.close()
                    connection = Connection(port, token)
                if status == 201:
                    latencies.append((time.perf_counter() - started) * 1000)
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            connection.close()

    began = time.monotonic()
    await asyncio.gather(*(client(n) for n in range(CLIENTS)))
    return latencies, statuses, time.monotonic() - began


class Stages:
    """When each command and its outcome event went over the bus (core NATS sees JetStream publishes)."""

    def __init__(self) -> None:
        self.commands: dict[str, float] = {}
        self.outcomes: dict[str, float] = {}

    async def watch(self, nats_url: str) -> Bus:
        bus = await Bus.connect(nats_url, name="bench-watch")

        async def command(envelope: Envelope) -> None:
            self.commands[envelope.message_id] = time.perf_counter()

        async def outcome(envelope: Envelope) -> None:
            if envelope.causation_id:
                self.outcomes[envelope.causation_id] = time.perf_counter()

        await bus.listen("cavra.cmd.acknowledgement.>", command)
        await bus.listen("cavra.evt.acknowledgement.>", outcome)
        return bus

    def service_ms(self) -> list[float]:
        return [(self.outcomes[k] - t) * 1000 for k, t in self.commands.items() if k in self.outcomes]


async def workload(env: dict[str, str], pids: dict[int, str]) -> None:
    await publish_plans(env["CAVRA_NATS_URL"])
    stages = Stages()
    watcher = await stages.watch(env["CAVRA_NATS_URL"])
    async with httpx.AsyncClient(base_url=api_base(env), headers=admin_headers(env), timeout=30) as api:
        await wait_tracked(api)
        await asyncio.sleep(2)  # let the delivery service finish with the plans (no connectors)
        before = cpu_by_label(pids)
        latencies, statuses, elapsed = await load(
            int(env["CAVRA_API_PORT"]), env["CAVRA_BOOTSTRAP_ADMIN_TOKEN"]
        )
        after = cpu_by_label(pids)
    print(
        f"acknowledgement POST, {CLIENTS} clients for {elapsed:.1f}s "
        f"({SCHEDULES} schedules x {OWNERS} owners, acknowledgement replicas {REPLICAS}, "
        f"NATS sync {NATS_SYNC}): "
        f"{len(latencies) / elapsed:.0f} acks/s; p50 {percentile(latencies, 50):.1f} ms, "
        f"p95 {percentile(latencies, 95):.1f} ms, p99 {percentile(latencies, 99):.1f} ms"
    )
    print(f"answers: {dict(sorted(statuses.items()))}")
    inside = stages.service_ms()
    await watcher.close()
    print(
        f"command -> outcome event on the bus (acknowledgement service, PostgreSQL, outbox): "
        f"p50 {percentile(inside, 50):.1f} ms, p99 {percentile(inside, 99):.1f} ms over {len(inside)}"
    )
    used = {name: after.get(name, 0.0) - before.get(name, 0.0) for name in after}
    print(
        "CPU seconds during the load: "
        + ", ".join(f"{name} {seconds:.1f}" for name, seconds in sorted(used.items()) if seconds >= 0.05)
    )
    print(f"bench client CPU seconds (this process, all phases): {time.process_time():.1f}")
    print(f"load average at the end (other work on this machine counts): {os.getloadavg()[0]:.2f}")


def main() -> None:
    with system_home("cavra-bench-ack-") as home:
        env = system_env(home, CAVRA_ACKNOWLEDGEMENT_REPLICAS=REPLICAS, CAVRA_NATS_SYNC=NATS_SYNC)
        process, _ = start_system(home, env)
        try:
            pids = descendants(process.pid)
            uvloop.run(workload(env | {"CAVRA_NATS_URL": nats_url(env)}, pids))
        finally:
            stop_system(process)


if __name__ == "__main__":
    main()
