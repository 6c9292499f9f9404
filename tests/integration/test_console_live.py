"""The console's live feed end to end: real NATS, the real reporting service on the real PostgreSQL,
the gateway served by uvicorn on loopback and read as a browser's EventSource reads it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from cavra_contracts.envelope import Envelope
from cavra_contracts.subjects import EVENT_STREAM
from cavra_gateway.app import create_app
from cavra_gateway.console.live import LiveFeed
from cavra_gateway.server import GatewayServer
from cavra_gateway.settings import GatewaySettings
from cavra_runtime.bus import Bus
from tests.support import reporting_events as events
from tests.support.console import session_cookie
from tests.support.harness import ADMIN_TOKEN, eventually, running_service

pytestmark = pytest.mark.integration

HISTORY = "/runtime/go-pilot/rollback-drill-notifications"


@dataclass
class Gateway:
    app: FastAPI
    base_url: str
    server: uvicorn.Server
    task: asyncio.Task[None]
    signed_in: dict[str, str]
    """The Cookie header of a console session (the stream needs one)."""

    @property
    def feed(self) -> LiveFeed:
        feed: LiveFeed = self.app.state.live
        return feed


@contextlib.asynccontextmanager
async def served_gateway(nats_url: str, database_url: str, **overrides: Any) -> AsyncIterator[Gateway]:
    settings = GatewaySettings(
        nats_url=nats_url, database_url=database_url, bootstrap_admin_token=ADMIN_TOKEN, **overrides
    )
    app = create_app(settings)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False)
    server = GatewayServer(config, app)
    task = asyncio.create_task(server.serve())
    await eventually(lambda: _started(server, task), timeout=15, what="the gateway to listen")
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        base_url = f"http://127.0.0.1:{port}"
        yield Gateway(app, base_url, server, task, await session_cookie(base_url, ADMIN_TOKEN))
    finally:
        server.should_exit = True
        # Open live streams must not hold the shutdown: GatewayServer ends them first.
        await asyncio.wait_for(asyncio.shield(task), timeout=20)


async def _started(server: uvicorn.Server, task: asyncio.Task[None]) -> bool:
    if task.done():
        task.result()  # raise the start failure
    return bool(server.started)


@dataclass
class Stream:
    """One EventSource-like reader: every SSE message and comment as it arrives."""

    changes: list[dict[str, Any]] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    retry: int | None = None
    status: int | None = None
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    received_at: list[float] = field(default_factory=list)

    async def read(self, client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> None:
        try:
            async with client.stream("GET", url, headers=headers) as response:
                self.status = response.status_code
                if response.status_code != 200:
                    return
                assert response.headers["content-type"].startswith("text/event-stream")
                event: dict[str, str] = {}
                async for line in response.aiter_lines():
                    if line == "":
                        self._dispatch(event)
                        event = {}
                    elif line.startswith(":"):
                        self.comments.append(line[1:].strip())
                        self.arrived.set()
                    else:
                        name, _, value = line.partition(":")
                        event[name] = value.removeprefix(" ")
        finally:
            self.ended.set()

    def _dispatch(self, event: dict[str, str]) -> None:
        if "retry" in event:
            self.retry = int(event["retry"])
        if event.get("event") == "change":
            self.changes.append(json.loads(event["data"]))
            self.received_at.append(time.monotonic())
        self.arrived.set()

    def of(self, topic: str) -> list[dict[str, Any]]:
        return [c for c in self.changes if c["topic"] == topic]

    def ids(self, topic: str) -> set[str]:
        return {i for c in self.of(topic) for i in c["record_ids"]}


@contextlib.asynccontextmanager
async def open_stream(gateway: Gateway) -> AsyncIterator[Stream]:
    stream = Stream()
    async with httpx.AsyncClient(timeout=httpx.Timeout(10, read=60)) as client:
        task = asyncio.create_task(
            stream.read(client, f"{gateway.base_url}/console/events", gateway.signed_in)
        )
        try:
            await asyncio.wait_for(stream.arrived.wait(), timeout=10)  # the retry hint: the stream is open
            yield stream
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def publish(nats_url: str, envelopes: list[Envelope]) -> list[int]:
    bus = await Bus.connect(nats_url, name="console-live-test")
    try:
        return [(await bus.publish(item)).sequence for item in envelopes]
    finally:
        await bus.close()


async def history_total(gateway: Gateway, schedule_id: str) -> int:
    async with httpx.AsyncClient(base_url=gateway.base_url, timeout=10) as client:
        answer = await client.get(
            HISTORY, params={"schedule_id": schedule_id}, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        )
    assert answer.status_code == 200, answer.text
    return int(answer.json()["total"])


async def test_a_change_is_pushed_only_once_reporting_applied_it(nats_url: str, database_url: str) -> None:
    planned = events.plan("sched-live", "gordn-live1", 0, providers=("slack", "teams"))
    route = events.route(planned, "slack")
    async with served_gateway(nats_url, database_url, console_live_max_wait_seconds=30) as gateway:
        async with running_service("reporting", nats_url, database_url):
            await eventually(
                lambda: _consumer_exists(nats_url), timeout=15, what="the reporting consumer to exist"
            )
        # Reporting is stopped: its consumer is there but applies nothing, so the change must wait.
        async with open_stream(gateway) as stream:
            assert stream.retry == 3000
            stored = [events.envelope(planned, 0, "router"), events.envelope(events.delivered(planned), 1)]
            seqs = await publish(nats_url, stored)
            await asyncio.sleep(1.0)
            assert stream.changes == [], "pushed before the reporting service applied it"
            async with running_service("reporting", nats_url, database_url):
                await eventually(lambda: _has(stream, "delivery"), timeout=15, what="the delivery change")
                assert await history_total(gateway, "sched-live") == 2, "pushed before the read model had it"
                await eventually(lambda: _has(stream, "route"), timeout=5, what="the route change")
        delivery = stream.of("delivery")[0]
        assert delivery["kind"] == "rollback_drill_notification"
        assert {f"{route}:hook", route, "gordn-live1"} <= set(delivery["record_ids"])
        assert delivery["seq"] == seqs[1] and delivery["resync"] is False
        assert delivery["stored_at"].startswith("20")
        assert {"gordn-live1", route} <= stream.ids("route")
        text = json.dumps(stream.changes)
        assert "slack-hook" not in text and "127.0.0.1" not in text, "payload data in the stream"


async def _consumer_exists(nats_url: str) -> bool:
    bus = await Bus.connect(nats_url, name="console-live-probe")
    try:
        return await bus.consumer_progress(EVENT_STREAM, "reporting-events") is not None
    finally:
        await bus.close()


async def _has(stream: Stream, topic: str) -> bool:
    return bool(stream.of(topic))


async def test_without_a_reporting_consumer_changes_go_out_at_once(nats_url: str, database_url: str) -> None:
    planned = events.plan("sched-live", "gordn-live2", 0, providers=("slack",))
    async with served_gateway(nats_url, database_url) as gateway, open_stream(gateway) as stream:
        started = time.monotonic()
        await publish(nats_url, [events.envelope(planned, 0, "router")])
        await eventually(lambda: _has(stream, "route"), timeout=5, what="the route change")
        assert stream.received_at[0] - started < 1.0


async def test_a_burst_of_a_thousand_acks_becomes_a_few_messages(nats_url: str, database_url: str) -> None:
    planned = events.plan("sched-burst", "gordn-burst", 0, providers=("slack",))
    acks = [
        events.envelope(events.acks(planned, "acknowledged", ["slack"], 1 + n / 100, bulk_id=f"b{n}"), 1)
        for n in range(1000)
    ]
    async with (
        running_service("reporting", nats_url, database_url),
        served_gateway(nats_url, database_url) as gateway,
        open_stream(gateway) as stream,
    ):
        await eventually(lambda: _consumer_exists(nats_url), timeout=15, what="the reporting consumer")
        await publish(nats_url, [events.envelope(planned, 0, "router")])
        await eventually(lambda: _has(stream, "route"), timeout=10, what="the plan's change")
        bus = await Bus.connect(nats_url, name="console-live-burst")
        started = time.monotonic()
        try:
            items = [(e.type, e.to_json(), e.nats_headers()) for e in acks]
            assert all(result is None for result in await bus.publish_stored(items))
        finally:
            await bus.close()
        await eventually(
            lambda: _resynced(stream, "acknowledgement"), timeout=20, what="a resync of acknowledgements"
        )
        await asyncio.sleep(1.0)  # the rest of the burst, if it were sent one by one
        elapsed = time.monotonic() - started
        messages = stream.of("acknowledgement")
        # At most one message per coalescing window (0.1 s) while the burst drains, plus the follow-up.
        assert 1 <= len(messages) <= min(50, elapsed / 0.1 + 2), f"{len(messages)} messages in {elapsed:.1f}s"
        assert all(len(m["record_ids"]) <= 200 for m in messages)


async def _resynced(stream: Stream, topic: str) -> bool:
    return any(m["resync"] for m in stream.of(topic))


async def test_heartbeats_keep_an_idle_stream_open(nats_url: str, database_url: str) -> None:
    async with (
        served_gateway(nats_url, database_url, console_live_heartbeat_seconds=0.2) as gateway,
        open_stream(gateway) as stream,
    ):
        await asyncio.sleep(1.0)
        assert stream.comments.count("heartbeat") >= 3
        assert stream.changes == []


async def test_the_stream_needs_the_session(nats_url: str, database_url: str) -> None:
    async with served_gateway(nats_url, database_url) as gateway:
        async with httpx.AsyncClient(base_url=gateway.base_url, timeout=5) as client:
            assert (await client.get("/console/events")).status_code == 401
        assert gateway.feed.client_count == 0


async def test_clients_are_capped_and_a_disconnect_frees_the_slot(nats_url: str, database_url: str) -> None:
    async with served_gateway(nats_url, database_url, console_live_max_clients=2) as gateway:
        async with open_stream(gateway), open_stream(gateway) as second:
            async with httpx.AsyncClient(base_url=gateway.base_url, timeout=5) as client:
                refused = await client.get("/console/events", headers=gateway.signed_in)
            assert refused.status_code == 503
            assert "limit of 2" in refused.text
            assert refused.headers["retry-after"]
            assert second.status == 200
        await eventually(_slots_free(gateway), timeout=5, what="both slots to be given back")
        async with open_stream(gateway) as third:
            assert third.status == 200


def _slots_free(gateway: Gateway) -> Any:
    async def check() -> bool:
        return gateway.feed.client_count == 0

    return check


async def test_stopping_the_gateway_ends_open_streams(nats_url: str, database_url: str) -> None:
    async with served_gateway(nats_url, database_url) as gateway, open_stream(gateway) as stream:
        assert gateway.feed.client_count == 1
        gateway.server.should_exit = True  # what SIGTERM does
        await asyncio.wait_for(stream.ended.wait(), timeout=5)
        await asyncio.wait_for(asyncio.shield(gateway.task), timeout=5)
        assert gateway.feed.client_count == 0


async def test_a_stopping_feed_refuses_new_streams(nats_url: str, database_url: str) -> None:
    async with served_gateway(nats_url, database_url) as gateway, open_stream(gateway) as stream:
        gateway.feed.end_streams()
        await asyncio.wait_for(stream.ended.wait(), timeout=5)
        async with httpx.AsyncClient(base_url=gateway.base_url, timeout=5) as client:
            assert (await client.get("/console/events", headers=gateway.signed_in)).status_code == 503
