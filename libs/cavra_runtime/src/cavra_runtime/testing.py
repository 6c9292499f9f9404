"""In-memory fakes of the runtime's adapters, for handler tests that need no servers.

* :class:`InMemoryBus` stands in for :class:`cavra_runtime.bus.Bus`: JetStream-like streams with
  de-duplication by message id, durable consumers shared by every "replica" that runs them, the
  same :class:`~cavra_runtime.dispatch.Dispatcher` (so decoding, retries and rejections behave
  exactly as on NATS), request/reply and plain subscriptions.
* :class:`FakeClock` is a clock that moves only when the test says so.

Both pass the same contract tests as the real adapters (``tests/contract``). Delays of naks are
honoured in real time (scaled by ``delay_scale``), so a test of retries stays fast and bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cavra_contracts.base import Contract
from cavra_contracts.envelope import Envelope, make_envelope
from cavra_contracts.failures import rejection_subject
from cavra_contracts.queries import QueryReplyV1
from cavra_contracts.subjects import DEAD_LETTER_STREAM, STREAMS, StreamSpec, dead_letter_subject
from cavra_runtime.bus import ConsumerSpec, Published, QueryHandler
from cavra_runtime.dispatch import Ack, Dispatcher, Handler, Inbound, Nak

DEFAULT_MAX_PAYLOAD = 1024 * 1024


class FakeClock:
    """A clock that only moves when the test says so."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class PayloadTooLarge(Exception):
    """Mirrors the NATS client's MaxPayloadError: the message is larger than the server accepts."""


@dataclass(frozen=True)
class StoredMessage:
    """One message in an in-memory stream."""

    sequence: int
    subject: str
    data: bytes
    headers: Mapping[str, str]

    def envelope(self) -> Envelope:
        return Envelope.from_json(self.data)


def _matches(pattern: str, subject: str) -> bool:
    """NATS wildcards: ``*`` one token, ``>`` the rest."""
    wanted, tokens = pattern.split("."), subject.split(".")
    for index, part in enumerate(wanted):
        if part == ">":
            return len(tokens) > index
        if index >= len(tokens) or (part != "*" and not fnmatch.fnmatchcase(tokens[index], part)):
            return False
    return len(tokens) == len(wanted)


@dataclass
class _Stream:
    spec: StreamSpec
    messages: list[StoredMessage] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)


@dataclass
class _Durable:
    """A durable consumer's cursor and redeliveries, shared by every replica running it."""

    next_index: int = 0
    redeliveries: list[tuple[float, StoredMessage, int]] = field(default_factory=list)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    in_flight: int = 0


class InMemoryBus:
    """The bus without a server; every method mirrors :class:`cavra_runtime.bus.Bus`."""

    def __init__(
        self,
        service: str = "test",
        *,
        streams: Sequence[StreamSpec] = STREAMS,
        max_payload: int = DEFAULT_MAX_PAYLOAD,
        delay_scale: float = 0.01,
    ) -> None:
        self.service = service
        self._max_payload = max_payload
        self.delay_scale = delay_scale
        self._streams = {spec.name: _Stream(spec) for spec in streams}
        self._durables: dict[str, _Durable] = {}
        self._servers: dict[str, QueryHandler] = {}
        self._listeners: list[tuple[str, Callable[[Envelope], Awaitable[None]]]] = []
        self._connected = True

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def max_payload(self) -> int:
        return self._max_payload

    # --- inspection (tests) ----------------------------------------------------------------

    def messages(self, stream: str, subject: str | None = None) -> list[StoredMessage]:
        """Everything stored in ``stream`` (optionally on one subject), in order."""
        return [m for m in self._streams[stream].messages if subject is None or m.subject == subject]

    # --- the Bus surface -------------------------------------------------------------------

    async def ensure_streams(self, streams: Sequence[StreamSpec] = STREAMS) -> None:
        for spec in streams:
            self._streams.setdefault(spec.name, _Stream(spec))

    async def close(self) -> None:
        self._connected = False

    async def publish(self, envelope: Envelope) -> Published:
        [result] = await self._store([(envelope.type, envelope.to_json(), envelope.nats_headers())])
        if isinstance(result, BaseException):
            raise result
        return result

    async def publish_stored(
        self, items: Sequence[tuple[str, bytes, dict[str, str]]], *, timeout: float = 10.0
    ) -> list[BaseException | None]:
        return [r if isinstance(r, BaseException) else None for r in await self._store(items)]

    async def _store(
        self, items: Sequence[tuple[str, bytes, Mapping[str, str]]]
    ) -> list[Published | BaseException]:
        results: list[Published | BaseException] = []
        for subject, data, headers in items:
            size = len(data) + sum(len(k) + len(v) for k, v in headers.items())
            stream = self._stream_for(subject)
            if size > self._max_payload:
                results.append(PayloadTooLarge(f"maximum payload exceeded: {size} > {self.max_payload}"))
                continue
            if stream is None:
                results.append(LookupError(f"no stream holds {subject}"))
                continue
            message_id = headers.get("Nats-Msg-Id", "")
            if message_id and message_id in stream.ids:
                results.append(Published(sequence=0, duplicate=True))
                continue
            stream.ids.add(message_id)
            stored = StoredMessage(len(stream.messages) + 1, subject, bytes(data), dict(headers))
            stream.messages.append(stored)
            results.append(Published(sequence=stored.sequence, duplicate=False))
            for durable in self._durables.values():
                durable.wake.set()
            await self._notify(stored)
        return results

    def _stream_for(self, subject: str) -> _Stream | None:
        for stream in self._streams.values():
            if any(_matches(pattern, subject) for pattern in stream.spec.subjects):
                return stream
        return None

    async def _notify(self, stored: StoredMessage) -> None:
        for pattern, callback in list(self._listeners):
            if _matches(pattern, stored.subject):
                with contextlib.suppress(Exception):
                    await callback(stored.envelope())

    async def request(self, envelope: Envelope, *, timeout: float = 5.0) -> QueryReplyV1:
        handler = self._servers.get(envelope.type)
        if handler is None:
            raise TimeoutError(f"no reply on {envelope.type}")
        return await asyncio.wait_for(handler(Envelope.from_json(envelope.to_json())), timeout)

    async def serve(self, subject: str, handler: QueryHandler, *, queue: str, concurrency: int = 32) -> None:
        self._servers[subject] = handler

    async def listen(self, subject: str, callback: Callable[[Envelope], Awaitable[None]]) -> None:
        self._listeners.append((subject, callback))

    async def run_consumer(
        self, spec: ConsumerSpec, handlers: Mapping[type[Contract], Handler], stop: asyncio.Event
    ) -> None:
        """Deliver the consumer's messages in stream order, ``spec.max_ack_pending`` at a time."""
        dispatcher = Dispatcher(spec.durable, handlers, spec.retry)
        durable = self._durables.setdefault(spec.durable, _Durable())
        stream = self._streams[spec.stream]
        loop = asyncio.get_running_loop()
        tasks: set[asyncio.Task[None]] = set()
        limit = max(1, min(spec.concurrency, spec.max_ack_pending))

        def next_delivery() -> tuple[StoredMessage, int] | None:
            due = [r for r in durable.redeliveries if r[0] <= loop.time()]
            if due:
                durable.redeliveries.remove(due[0])
                return due[0][1], due[0][2]
            while durable.next_index < len(stream.messages):
                candidate = stream.messages[durable.next_index]
                durable.next_index += 1
                if any(_matches(s, candidate.subject) for s in dispatcher.subjects):
                    return candidate, 1
            return None

        async def settle(message: StoredMessage, delivered: int) -> None:
            try:
                inbound = Inbound(message.subject, message.data, delivered, message.sequence)
                settlement = await dispatcher.dispatch(inbound)
                if isinstance(settlement, Nak):
                    due = loop.time() + settlement.delay * self.delay_scale
                    durable.redeliveries.append((due, message, delivered + 1))
                elif not isinstance(settlement, Ack):
                    cause = settlement.envelope
                    event = make_envelope(
                        settlement.event(spec.durable, inbound),
                        producer=self.service,
                        cause=cause,
                        message_id=f"rejected:{spec.durable}:{message.sequence}",
                    )
                    await self._store(
                        [(rejection_subject(self.service), event.to_json(), event.nats_headers())]
                    )
                    headers = dict(message.headers) | {
                        "Nats-Msg-Id": f"dlq:{spec.durable}:{message.sequence}",
                        "Cavra-Dlq-Reason": settlement.reason,
                        "Cavra-Dlq-Error": settlement.error[:300],
                    }
                    if DEAD_LETTER_STREAM in self._streams:
                        await self._store([(dead_letter_subject(spec.durable), message.data, headers)])
            finally:
                durable.in_flight -= 1
                durable.wake.set()

        while not stop.is_set():
            delivery = next_delivery() if durable.in_flight < limit else None
            if delivery is None:
                durable.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(durable.wake.wait(), timeout=0.01)
                continue
            durable.in_flight += 1
            task = asyncio.create_task(settle(*delivery))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
