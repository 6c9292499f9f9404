"""Benchmark the console's live feed: event stored (PubAck) -> SSE ``change`` message received.

The reporting service and the gateway (served by uvicorn on loopback, the live feed on) run in this
process on the test servers (embedded NATS + PostgreSQL unless CAVRA_NATS_URL / CAVRA_DATABASE_URL
say otherwise); an httpx client reads GET /console/events as a browser's EventSource does.

1. BENCH_LIVE_EVENTS (300) events, one at a time (the next once the previous one's message came):
   deliveries, acknowledgements and escalations of BENCH_LIVE_EVENTS / 3 plans stored beforehand.
   BENCH_LIVE_GAP_MS (150) apart. Each is held until the reporting service acked it, so the figure
   includes applying it.
2. A burst of BENCH_LIVE_BURST (1,000) acknowledgement events published at once: how many messages
   reach the client and when the last one came after the last PubAck.

Loopback only; bounded. Run: ``.venv/bin/python bench/bench_console_live.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from harness import fresh_database, percentile

from cavra_contracts.envelope import Envelope
from cavra_contracts.subjects import EVENT_STREAM
from cavra_gateway.app import create_app
from cavra_gateway.server import GatewayServer
from cavra_gateway.settings import GatewaySettings
from cavra_runtime.bus import Bus
from cavra_runtime.logging import configure_logging
from tests.support import reporting_events as ev
from tests.support.console import session_cookie
from tests.support.harness import ADMIN_TOKEN, running_service
from tests.support.servers import session_servers

EVENTS = int(os.environ.get("BENCH_LIVE_EVENTS", "300"))
BURST = int(os.environ.get("BENCH_LIVE_BURST", "1000"))
GAP_SECONDS = float(os.environ.get("BENCH_LIVE_GAP_MS", "150")) / 1000
"""Pause between two measured events: a person's pace, past the coalescing window (back to back,
each message waits for the window the previous one opened)."""
WAIT_SECONDS = 10.0
"""Longest the bench waits for any one message before it gives up."""


@contextlib.asynccontextmanager
async def served_gateway(nats_url: str, database_url: str) -> AsyncIterator[str]:
    settings = GatewaySettings(
        nats_url=nats_url,
        database_url=database_url,
        services=("reporting",),
        bootstrap_admin_token=ADMIN_TOKEN,
    )
    app: FastAPI = create_app(settings)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False)
    server = GatewayServer(config, app)
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 30
    while not server.started:
        if task.done() or time.monotonic() > deadline:
            raise SystemExit("the gateway did not start")
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=15)


class Reader:
    """Every ``change`` message of one stream with the time it arrived."""

    def __init__(self) -> None:
        self.messages: list[tuple[float, dict[str, Any]]] = []
        self.arrived = asyncio.Event()
        self.open = asyncio.Event()

    async def read(self, url: str) -> None:
        async with (
            httpx.AsyncClient(timeout=httpx.Timeout(10, read=120)) as client,
            client.stream(
                "GET", f"{url}/console/events", headers=await session_cookie(url, ADMIN_TOKEN)
            ) as response,
        ):
            response.raise_for_status()
            self.open.set()
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    self.messages.append((time.monotonic(), json.loads(line[6:])))
                    self.arrived.set()

    async def message_with(self, seq: int) -> float:
        """When the message carrying stream sequence ``seq`` (or a later one) arrived."""
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            for at, message in reversed(self.messages):
                if message["seq"] >= seq:
                    return at
            self.arrived.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                raise SystemExit(f"no message for stream sequence {seq} within {WAIT_SECONDS}s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), left)


def measured_events(plans: int) -> tuple[list[Envelope], list[Envelope]]:
    """The plans to store first, then per plan its delivery, an acknowledgement, an escalation."""
    setup: list[Envelope] = []
    measured: list[Envelope] = []
    for n in range(plans):
        planned = ev.plan(f"sched-live-{n}", f"gordn-live-{n}", n, providers=("slack", "teams"))
        escalation, _job = ev.escalated(planned, "teams", n + 40)
        setup.append(ev.envelope(planned, n, "router"))
        measured += [
            ev.envelope(ev.delivered(planned), n + 1, "delivery"),
            ev.envelope(ev.acks(planned, "acknowledged", ["slack"], n + 10, bulk_id=f"l{n}"), n + 10),
            ev.envelope(escalation, n + 40, "escalation"),
        ]
    return setup, measured


async def measure(nats_url: str, database_url: str) -> None:
    setup, measured = measured_events(max(1, EVENTS // 3))
    async with (
        running_service("reporting", nats_url, database_url),
        served_gateway(nats_url, database_url) as url,
    ):
        reader = Reader()
        reading = asyncio.create_task(reader.read(url))
        await asyncio.wait_for(reader.open.wait(), WAIT_SECONDS)
        bus = await Bus.connect(nats_url, name="bench-console-live")
        try:
            for envelope in setup:
                last = (await bus.publish(envelope)).sequence
            await reader.message_with(last)
            latencies: list[float] = []
            for envelope in measured:
                stored = await bus.publish(envelope)
                stored_at = time.monotonic()
                latencies.append(await reader.message_with(stored.sequence) - stored_at)
                await asyncio.sleep(GAP_SECONDS)
            report("event stored -> SSE message", latencies)
            await burst(bus, reader)
            backlog = await bus.consumer_backlog(EVENT_STREAM, "reporting-events")
            print(f"reporting backlog at the end: {backlog}")
        finally:
            await bus.close()
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
                await reading


async def burst(bus: Bus, reader: Reader) -> None:
    planned = ev.plan("sched-burst", "gordn-burst", 0, providers=("slack",))
    await bus.publish(ev.envelope(planned, 0, "router"))
    acks = [
        ev.envelope(ev.acks(planned, "acknowledged", ["slack"], 1, bulk_id=f"b{n}"), 1) for n in range(BURST)
    ]
    before = len(reader.messages)
    started = time.monotonic()
    results = await bus.publish_stored([(e.type, e.to_json(), e.nats_headers()) for e in acks])
    stored_at = time.monotonic()
    failed = sum(1 for r in results if r is not None)
    info = await bus.js.stream_info(EVENT_STREAM)
    last_seen = await reader.message_with(int(info.state.last_seq))
    deadline = time.monotonic() + 120
    while await bus.consumer_backlog(EVENT_STREAM, "reporting-events") and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    applied_at = time.monotonic()
    await asyncio.sleep(1.0)  # the follow-up resync of changes pushed before they were applied
    messages = [(at, m) for at, m in reader.messages[before:] if m["topic"] == "acknowledgement"]
    print(
        f"burst of {BURST:,} acknowledgement events ({failed} not stored) published in "
        f"{stored_at - started:.2f}s: {len(messages)} SSE messages "
        f"({sum(1 for _, m in messages if m['resync'])} resync); the newest event's message came "
        f"{1000 * (last_seen - stored_at):.0f} ms after the last PubAck; reporting applied the burst "
        f"{applied_at - stored_at:.1f}s after it, the last message came "
        f"{1000 * (messages[-1][0] - applied_at):+.0f} ms from then"
    )


def report(label: str, latencies: list[float]) -> None:
    ms = [1000 * x for x in latencies]
    print(
        f"{label}: n={len(ms)} p50={percentile(ms, 50):.0f} ms p95={percentile(ms, 95):.0f} ms "
        f"max={max(ms):.0f} ms (target p95 < 1000 ms, browser render not included)"
    )


async def main() -> None:
    configure_logging("bench", "warning")
    root = Path(tempfile.mkdtemp(prefix="cavra-bench-console-live-"))
    try:
        with session_servers(root) as servers:
            database_url = await fresh_database(servers.database_url, "bench_console_live")
            defaults = GatewaySettings(nats_url=servers.nats_url, database_url=database_url)
            print(
                f"live feed: coalesce {defaults.console_live_coalesce_seconds * 1000:.0f} ms, probe every "
                f"{defaults.console_live_probe_seconds * 1000:.0f} ms, max wait "
                f"{defaults.console_live_max_wait_seconds:.1f} s; python {sys.version.split()[0]}"
            )
            await measure(servers.nats_url, database_url)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
