"""The console's live feed: stored events pushed to every open page over server-sent events.

One ordered JetStream consumer per gateway reads every new event; ``live_topics`` names what it
changed. A change is held until the reporting service applied it (its durable consumer's ack floor
passed the event, probed at most every ``console_live_probe_seconds`` for all waiting changes at once,
never longer than ``console_live_max_wait_seconds``), so the row a page re-fetches already shows it.
Changes of one topic are merged for ``console_live_coalesce_seconds``; past ``console_live_max_ids``
ids a message says ``resync``. Each client has a bounded queue: one that falls behind loses its
backlog and gets a resync of the topics it missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import anyio
import structlog
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.sse import EventSourceResponse, format_sse_event
from starlette.types import Receive, Scope, Send

from cavra_contracts.subjects import EVENT_STREAM
from cavra_gateway.console.live_topics import Change, Topic
from cavra_gateway.console.live_topics import change_of as console_change
from cavra_gateway.settings import GatewaySettings
from cavra_runtime.bus import Bus, ConsumerProgress, Stored

log = structlog.get_logger()

EVENTS_SUBJECT = "cavra.evt.>"
HEARTBEAT = b": heartbeat\n\n"
LATE_GIVE_UP_SECONDS = 60.0
"""How long a change pushed before the reporting service applied it waits for its follow-up resync."""


def subject_matches(pattern: str, subject: str) -> bool:
    """NATS subject matching: ``*`` is one token, a final ``>`` one or more."""
    wanted, given = pattern.split("."), subject.split(".")
    for index, token in enumerate(wanted):
        if token == ">":
            return len(given) > index
        if index >= len(given) or (token != "*" and token != given[index]):
            return False
    return len(wanted) == len(given)


def applied(change: Change, progress: ConsumerProgress | None) -> bool:
    """Whether the read model already reflects ``change`` (None: no reporting consumer to wait for)."""
    if progress is None or progress.caught_up or change.sequence <= progress.ack_floor:
        return True
    return not any(subject_matches(pattern, change.subject) for pattern in progress.filter_subjects)


@dataclass
class TopicBatch:
    """The changes of one topic merged into one message."""

    topic: Topic
    max_ids: int
    ids: dict[str, None] = field(default_factory=dict)
    resync: bool = False
    kind: str = ""
    sequence: int = 0
    stored_at: datetime | None = None

    def add(self, change: Change) -> None:
        self.kind = change.kind
        self.sequence = max(self.sequence, change.sequence)
        self.stored_at = change.stored_at if self.stored_at is None else max(self.stored_at, change.stored_at)
        if change.resync:
            self.resync = True
        if not self.resync:
            self.ids.update(dict.fromkeys(change.record_ids))
            if len(self.ids) > self.max_ids:
                self.resync = True
        if self.resync:
            self.ids.clear()

    def message(self) -> bytes:
        return change_message(
            self.topic,
            self.kind,
            list(self.ids),
            self.resync,
            self.stored_at or datetime.now(UTC),
            self.sequence,
        )


def change_message(
    topic: str, kind: str, record_ids: list[str], resync: bool, stored_at: datetime, sequence: int
) -> bytes:
    """One ``event: change`` SSE message (design.md's format)."""
    data = {
        "topic": topic,
        "kind": kind,
        "record_ids": record_ids,
        "resync": resync,
        "stored_at": stored_at.isoformat(),
        "seq": sequence,
    }
    return format_sse_event(event="change", data_str=json.dumps(data, separators=(",", ":")))


class LiveClient:
    """One open stream: a bounded queue of messages; ``None`` ends the stream."""

    def __init__(self, capacity: int) -> None:
        self.queue: asyncio.Queue[tuple[str, bytes] | None] = asyncio.Queue(capacity)
        self.resyncs = 0

    def offer(self, topic: str, message: bytes, sequence: int) -> None:
        try:
            self.queue.put_nowait((topic, message))
        except asyncio.QueueFull:
            missed = {topic} | {item[0] for item in self._drain() if item is not None}
            self.resyncs += 1
            log.info("console_live.client_behind", resyncs=self.resyncs, topics=len(missed))
            now = datetime.now(UTC)
            for name in sorted(missed):
                self.queue.put_nowait((name, change_message(name, "resync", [], True, now, sequence)))

    def end(self) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(None)
            return
        self._drain()
        self.queue.put_nowait(None)

    def _drain(self) -> list[tuple[str, bytes] | None]:
        items = []
        while not self.queue.empty():
            items.append(self.queue.get_nowait())
        return items


class LiveFeed:
    """The gateway's one JetStream follower and its SSE clients (``app.state.live``)."""

    def __init__(
        self, bus: Bus, settings: GatewaySettings, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._bus = bus
        self._settings = settings
        self._clock = clock
        self._waiting: deque[tuple[float, Change]] = deque()
        self._wake = asyncio.Event()
        self._batches: dict[Topic, TopicBatch] = {}
        self._flush_handle: asyncio.TimerHandle | None = None
        self._last_flush = float("-inf")
        self._late: dict[Topic, tuple[float, Change]] = {}
        self._clients: set[LiveClient] = set()
        self._closing = False
        self._gate_task: asyncio.Task[None] | None = None
        self._unsubscribe: Callable[[], Any] | None = None

    async def start(self) -> None:
        self._gate_task = asyncio.create_task(self._gate(), name="console-live-gate")
        self._unsubscribe = await self._bus.follow(EVENTS_SUBJECT, self._on_stored)

    async def close(self) -> None:
        """End every stream, stop following the stream and the gate."""
        self.end_streams()
        if self._unsubscribe is not None:
            with contextlib.suppress(Exception):
                await self._unsubscribe()
        if self._flush_handle is not None:
            self._flush_handle.cancel()
        if self._gate_task is not None:
            self._gate_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._gate_task

    def end_streams(self) -> None:
        """Refuse new streams and end the open ones (a server shutting down waits for them)."""
        self._closing = True
        for client in list(self._clients):
            client.end()

    # --- clients ---------------------------------------------------------------------------------

    @property
    def client_count(self) -> int:
        return len(self._clients)

    def join(self) -> LiveClient:
        """A new client; ``HTTPException(503)`` at ``console_live_max_clients`` or while stopping."""
        if self._closing:
            raise HTTPException(503, "the gateway is stopping", headers={"Retry-After": "5"})
        if len(self._clients) >= self._settings.console_live_max_clients:
            raise HTTPException(
                503,
                f"live updates are at their limit of {self._settings.console_live_max_clients} streams; "
                "the page polls instead",
                headers={"Retry-After": "30"},
            )
        client = LiveClient(self._settings.console_live_client_queue)
        self._clients.add(client)
        return client

    def leave(self, client: LiveClient) -> None:
        self._clients.discard(client)

    async def stream(self, client: LiveClient) -> AsyncIterator[bytes]:
        """The client's SSE body: the retry hint, then its messages, a heartbeat comment when idle."""
        yield format_sse_event(retry=self._settings.console_live_retry_ms, comment="live")
        heartbeat = self._settings.console_live_heartbeat_seconds
        # One pending get across heartbeats: cancelling a get that just received would lose a message.
        getting: asyncio.Task[tuple[str, bytes] | None] = asyncio.ensure_future(client.queue.get())
        try:
            while True:
                done, _ = await asyncio.wait({getting}, timeout=heartbeat)
                if not done:
                    yield HEARTBEAT
                    continue
                item = getting.result()
                if item is None:
                    return
                yield item[1]
                getting = asyncio.ensure_future(client.queue.get())
        finally:
            getting.cancel()

    # --- events -> changes -> messages -----------------------------------------------------------

    async def _on_stored(self, stored: Stored) -> None:
        if not self._clients:  # nobody to tell: no decoding, no probes (a page loads fresh data)
            return
        change = console_change(stored.subject, stored.data, stored.sequence, stored.stored_at)
        if change is None:
            return
        if len(self._waiting) >= self._settings.console_live_max_waiting:
            self._publish([self._waiting.popleft()[1]])
        self._waiting.append((self._clock(), change))
        self._wake.set()

    async def _gate(self) -> None:
        """Release waiting changes once the reporting service applied them (or waited too long)."""
        settings = self._settings
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._waiting or self._late:
                try:
                    progress = await self._bus.consumer_progress(
                        EVENT_STREAM, settings.console_live_reporting_consumer
                    )
                    known = True
                except Exception as exc:  # NATS trouble: only the wait bound releases changes
                    log.warning("console_live.probe_failed", error_class=type(exc).__name__)
                    progress, known = None, False
                self._release(progress, known)
                if self._waiting or self._late:
                    await asyncio.sleep(settings.console_live_probe_seconds)

    def _release(self, progress: ConsumerProgress | None, known: bool) -> None:
        now = self._clock()
        oldest_allowed = now - self._settings.console_live_max_wait_seconds
        ready: list[Change] = []
        kept: deque[tuple[float, Change]] = deque()
        for arrived, change in self._waiting:
            if known and applied(change, progress):
                ready.append(change)
            elif arrived <= oldest_allowed:
                ready.append(change)
                self._late[change.topic] = (now, change)  # pushed unapplied: resync once applied
            else:
                kept.append((arrived, change))
        self._waiting = kept
        for topic, (since, change) in list(self._late.items()):
            if (known and applied(change, progress)) or since < now - LATE_GIVE_UP_SECONDS:
                del self._late[topic]
                ready.append(replace(change, kind="caught_up", record_ids=(), resync=True))
        self._publish(ready)

    def _publish(self, changes: list[Change]) -> None:
        for change in changes:
            batch = self._batches.setdefault(
                change.topic, TopicBatch(change.topic, self._settings.console_live_max_ids)
            )
            batch.add(change)
        if not self._batches or self._flush_handle is not None:
            return
        # The first change after a quiet window goes out at once; what follows within the window
        # waits for its end, so a burst is one message per topic and window.
        due = self._last_flush + self._settings.console_live_coalesce_seconds - self._clock()
        if due <= 0:
            self._flush()
        else:
            self._flush_handle = asyncio.get_running_loop().call_later(due, self._flush)

    def _flush(self) -> None:
        self._flush_handle = None
        self._last_flush = self._clock()
        batches, self._batches = self._batches, {}
        for batch in batches.values():
            message = batch.message()
            for client in self._clients:
                client.offer(batch.topic, message, batch.sequence)


class LiveResponse(EventSourceResponse):
    """A client's stream that ends as soon as the client goes away (the disconnect is listened for,
    not only noticed at the next write), and always gives its slot back."""

    def __init__(self, feed: LiveFeed, client: LiveClient) -> None:
        super().__init__(
            feed.stream(client), headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        )
        self._feed = feed
        self._client = client

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with anyio.create_task_group() as group:

                async def stream_then_stop() -> None:
                    await self.stream_response(send)
                    group.cancel_scope.cancel()

                group.start_soon(stream_then_stop)
                await self.listen_for_disconnect(receive)
                group.cancel_scope.cancel()
        except OSError:
            pass  # the client went away mid-write
        finally:
            self._feed.leave(self._client)


def live_router(session_dependency: Callable[..., Any]) -> APIRouter:
    """``GET /console/events`` for the signed-in console session ``session_dependency`` resolves."""
    router = APIRouter(prefix="/console", tags=["console"])

    @router.get(
        "/events",
        include_in_schema=False,  # an endless stream: no place in the OpenAPI fuzzing
        dependencies=[Depends(session_dependency)],
    )
    async def events(request: Request) -> LiveResponse:
        feed: LiveFeed = request.app.state.live
        return LiveResponse(feed, feed.join())

    return router

