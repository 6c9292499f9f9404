"""The message bus: every ``nats`` import of the project lives in this module.

Delivery guarantees this module gives its callers:

* ``publish`` returns only once JetStream has stored the message (PubAck); ``Nats-Msg-Id``
  = ``message_id``, so a republish inside the duplicate window is dropped by the server.
* ``run_consumer`` pulls from a durable consumer, decodes each message into its contract and
  acks it only after its handler returned, i.e. after the handler's database transaction
  committed (see :mod:`cavra_runtime.dispatch` for the retry rules). A message the dispatcher
  rejects is announced with ``MessageRejectedV1`` on ``cavra.evt.<service>.message_rejected.v1``,
  copied to ``cavra.dlq.<durable>`` and terminated, so the consumer keeps going. A handler's
  ``Message.heartbeat`` sends ``in_progress`` (JetStream restarts the message's ack wait).
* ``serve`` answers queries on core NATS through a queue group shared by all replicas.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import nats
import nats.errors
import structlog
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    KeyValueConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import BadRequestError, KeyNotFoundError, KeyWrongLastSequenceError, NotFoundError
from nats.js.kv import KV_DEL, KV_PURGE, KeyValue
from pydantic import ValidationError

from cavra_contracts.base import Contract
from cavra_contracts.envelope import Envelope, make_envelope
from cavra_contracts.failures import rejection_subject
from cavra_contracts.queries import QueryReplyV1
from cavra_contracts.subjects import STREAMS, StreamSpec, dead_letter_subject
from cavra_runtime.dispatch import Ack, Dispatcher, Handler, Inbound, Nak, Reject, RetryPolicy
from cavra_runtime.failures import is_transient, register_transient

log = structlog.get_logger()

DAY = 86_400.0
PUBACK_TIMEOUT_SECONDS = 10.0
"""The longest any publish waits for JetStream's PubAck."""

register_transient(
    nats.errors.ConnectionClosedError,
    nats.errors.NoServersError,
    nats.errors.NoRespondersError,
    nats.errors.TimeoutError,
    nats.errors.StaleConnectionError,
    nats.errors.OutboundBufferLimitError,
    nats.errors.FlushTimeoutError,
)


@dataclass(frozen=True)
class Published:
    """Where JetStream stored a message; ``duplicate`` when its id was already stored."""

    sequence: int
    duplicate: bool


QueryHandler = Callable[[Envelope], Awaitable[QueryReplyV1]]


@dataclass(frozen=True)
class Stored:
    """A message as JetStream stored it: where, when, and its raw body (not decoded)."""

    subject: str
    data: bytes
    sequence: int
    stored_at: datetime


@dataclass(frozen=True)
class ConsumerProgress:
    """How far a durable consumer got: every stream sequence up to ``ack_floor`` is settled."""

    ack_floor: int
    pending: int
    ack_pending: int
    filter_subjects: tuple[str, ...]

    @property
    def caught_up(self) -> bool:
        """Nothing stored before this probe is left for the consumer to settle."""
        return self.pending == 0 and self.ack_pending == 0


@dataclass(frozen=True)
class ConsumerSpec:
    """A durable pull consumer shared by every replica of a service."""

    durable: str
    stream: str
    max_deliver: int = 8
    ack_wait_seconds: float = 30.0
    nak_delays: tuple[float, ...] = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
    batch: int = 64
    concurrency: int = 16
    max_ack_pending: int = 2000
    """Messages in flight across all replicas; 1 gives strict stream order across replicas."""

    @property
    def retry(self) -> RetryPolicy:
        return RetryPolicy(max_deliver=self.max_deliver, nak_delays=self.nak_delays)


@dataclass
class Bus:
    """A connection to NATS with its JetStream context."""

    nc: NatsClient
    js: JetStreamContext
    service: str = "cavra"
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    async def connect(
        cls, url: str, name: str, *, service: str = "cavra", connect_timeout: float = 5.0
    ) -> Bus:
        """Connect, reconnecting forever in the background if the server goes away."""
        nc = await nats.connect(
            servers=[url],
            name=name,
            connect_timeout=connect_timeout,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
        )
        js = nc.jetstream(timeout=PUBACK_TIMEOUT_SECONDS, publish_async_max_pending=4000)
        return cls(nc=nc, js=js, service=service)

    async def close(self) -> None:
        """Drain subscriptions and close the connection."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(Exception):
            await self.nc.drain()

    @property
    def connected(self) -> bool:
        return bool(self.nc.is_connected)

    # --- streams -------------------------------------------------------------------------

    async def ensure_streams(self, streams: Sequence[StreamSpec] = STREAMS) -> None:
        """Create or update the system's streams (idempotent)."""
        for spec in streams:
            config = StreamConfig(
                name=spec.name,
                subjects=list(spec.subjects),
                description=spec.description,
                retention=RetentionPolicy.LIMITS,
                storage=StorageType.FILE,
                discard=DiscardPolicy.OLD,
                max_age=spec.max_age_days * DAY,
                max_bytes=spec.max_bytes,
                duplicate_window=spec.duplicate_window_seconds,
                allow_direct=True,
            )
            try:
                await self.js.stream_info(spec.name)
            except NotFoundError:
                await self.js.add_stream(config)
            else:
                await self.js.update_stream(config)

    # --- publishing ----------------------------------------------------------------------

    async def publish(self, envelope: Envelope) -> Published:
        """Store ``envelope`` in JetStream on the subject named by its type."""
        ack = await self.js.publish(envelope.type, envelope.to_json(), headers=envelope.nats_headers())
        return Published(sequence=int(ack.seq), duplicate=bool(ack.duplicate))

    async def publish_stored(
        self, items: Sequence[tuple[str, bytes, dict[str, str]]], *, timeout: float = PUBACK_TIMEOUT_SECONDS
    ) -> list[BaseException | None]:
        """Publish already-serialised messages in a pipeline; per item, None once its PubAck came,
        else the error (too large for the server, no PubAck within ``timeout``, ...)."""
        results: list[BaseException | None] = [None] * len(items)
        pending: dict[int, asyncio.Future[Any]] = {}
        for index, (subject, body, headers) in enumerate(items):
            try:
                pending[index] = await self.js.publish_async(subject, body, headers=headers)
            except Exception as exc:  # e.g. MaxPayloadError: this item only
                results[index] = exc
        if pending:
            done, not_done = await asyncio.wait(pending.values(), timeout=timeout)
            for index, future in pending.items():
                if future in not_done:
                    future.cancel()
                    results[index] = TimeoutError(f"no PubAck within {timeout}s")
                elif future.exception() is not None:
                    results[index] = future.exception()
        return results

    @property
    def max_payload(self) -> int:
        """The largest message the connected server accepts (bytes)."""
        return int(self.nc.max_payload or 1024 * 1024)

    # --- request / reply -----------------------------------------------------------------

    async def request(self, envelope: Envelope, *, timeout: float = 5.0) -> QueryReplyV1:
        """Send a query and return the reply; raises ``TimeoutError`` when nobody answers."""
        try:
            reply = await self.nc.request(
                envelope.type, envelope.to_json(), timeout=timeout, headers=envelope.nats_headers()
            )
        except (NatsTimeoutError, nats.errors.NoRespondersError) as exc:
            raise TimeoutError(f"no reply on {envelope.type}") from exc
        return QueryReplyV1.model_validate_json(reply.data)

    async def serve(self, subject: str, handler: QueryHandler, *, queue: str, concurrency: int = 32) -> None:
        """Answer queries on ``subject``; replicas share the load through ``queue``.

        nats-py runs one subscription's callbacks one after another, so each request is
        answered in a task of its own, at most ``concurrency`` at a time.
        """
        limiter = asyncio.Semaphore(concurrency)
        in_flight: set[asyncio.Task[None]] = set()

        async def answer(msg: Msg) -> None:
            async with limiter:
                reply = await self._answer(subject, handler, msg)
                if msg.reply:
                    with contextlib.suppress(Exception):
                        await msg.respond(reply.model_dump_json().encode())

        async def on_request(msg: Msg) -> None:
            task = asyncio.create_task(answer(msg))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)

        await self.nc.subscribe(subject, queue=queue, cb=on_request)

    async def _answer(self, subject: str, handler: QueryHandler, msg: Msg) -> QueryReplyV1:
        try:
            envelope = Envelope.from_json(msg.data)
        except ValidationError as exc:
            return QueryReplyV1(
                ok=False, status_code=400, error=f"undecodable query: {exc.error_count()} errors"
            )
        with structlog.contextvars.bound_contextvars(
            message_id=envelope.message_id, subject=subject, correlation_id=envelope.correlation_id
        ):
            try:
                return await handler(envelope)
            except Exception as exc:  # a failing query must still answer, never hang the caller
                if is_transient(exc):  # lost PostgreSQL or NATS: the caller may retry (503), not a bug
                    log.warning("query.unavailable", error_class=type(exc).__name__)
                    return QueryReplyV1(
                        ok=False, status_code=503, error=f"temporarily unavailable: {type(exc).__name__}"
                    )
                log.exception("query.failed", error_class=type(exc).__name__)
                return QueryReplyV1(ok=False, status_code=500, error=type(exc).__name__)

    async def listen(
        self,
        subject: str,
        callback: Callable[[Envelope], Awaitable[None]],
        *,
        wanted: Callable[[str | None, str | None], bool] | None = None,
    ) -> None:
        """Core-NATS subscription (no durability): used to observe outcomes as they happen.

        With ``wanted(causation_id, correlation_id)`` a message is decoded (and ``callback`` called)
        only when ``wanted`` says so, judged from its CloudEvents headers (``ce-causationid``,
        ``ce-correlationid``, which :meth:`Envelope.nats_headers` always sends): a listener that waits
        for a few outcomes among every event on the bus then skips the rest without parsing them.
        A message without those headers is decoded and passed on as before.
        """

        async def on_message(msg: Msg) -> None:
            headers = msg.headers
            if wanted is not None and headers and "ce-id" in headers:
                if not wanted(headers.get("ce-causationid"), headers.get("ce-correlationid")):
                    return
            with contextlib.suppress(ValidationError):
                await callback(Envelope.from_json(msg.data))

        await self.nc.subscribe(subject, cb=on_message)

    # --- durable consumers ---------------------------------------------------------------

    async def ensure_consumer(self, spec: ConsumerSpec, filter_subjects: Sequence[str]) -> None:
        """Create the durable consumer, or update it to ``spec`` (replicas share it)."""
        config = ConsumerConfig(
            durable_name=spec.durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=spec.ack_wait_seconds,
            # A little above our own limit so a crash on the last attempt is still redelivered;
            # our dispatcher dead-letters at spec.max_deliver.
            max_deliver=spec.max_deliver + 2,
            max_ack_pending=spec.max_ack_pending,
            filter_subjects=list(filter_subjects) if len(filter_subjects) > 1 else None,
            filter_subject=filter_subjects[0] if len(filter_subjects) == 1 else None,
        )
        try:
            # Create-or-update: a changed ack_wait / max_deliver / max_ack_pending takes effect.
            await self.js.add_consumer(spec.stream, config)
        except BadRequestError as exc:
            await self.js.consumer_info(spec.stream, spec.durable)  # exists: keep it, say why
            log.warning("consumer.not_updated", durable=spec.durable, error=exc.description)

    async def consumer_backlog(self, stream: str, durable: str) -> int | None:
        """Messages the durable consumer has not settled yet (pending + unacknowledged); None if absent."""
        try:
            info = await self.js.consumer_info(stream, durable)
        except NotFoundError:
            return None
        return int(info.num_pending or 0) + int(info.num_ack_pending or 0)

    async def consumer_progress(self, stream: str, durable: str) -> ConsumerProgress | None:
        """The durable consumer's ack floor, backlog and filter subjects; None if it does not exist."""
        try:
            info = await self.js.consumer_info(stream, durable)
        except NotFoundError:
            return None
        config = info.config
        subjects = tuple(config.filter_subjects or ())
        if not subjects and config.filter_subject:
            subjects = (config.filter_subject,)
        return ConsumerProgress(
            ack_floor=int(info.ack_floor.stream_seq or 0) if info.ack_floor else 0,
            pending=int(info.num_pending or 0),
            ack_pending=int(info.num_ack_pending or 0),
            filter_subjects=subjects,
        )

    async def follow(
        self, subject: str, callback: Callable[[Stored], Awaitable[None]]
    ) -> Callable[[], Awaitable[None]]:
        """Every message stored on ``subject`` from now on, in stream order, through an ordered
        consumer (ephemeral, recreated by the client after a gap); returns the unsubscribe."""

        async def on_message(msg: Msg) -> None:
            metadata = msg.metadata
            sequence = int(metadata.sequence.stream) if metadata.sequence else 0
            await callback(Stored(msg.subject, msg.data, sequence, metadata.timestamp))

        sub = await self.js.subscribe(
            subject, cb=on_message, ordered_consumer=True, deliver_policy=DeliverPolicy.NEW
        )
        return sub.unsubscribe

    async def delete_consumer(self, stream: str, durable: str) -> bool:
        """Forget the durable consumer (a new one starts again from the first stored message)."""
        try:
            await self.js.delete_consumer(stream, durable)
        except NotFoundError:
            return False
        return True

    async def run_consumer(
        self,
        spec: ConsumerSpec,
        handlers: Mapping[type[Contract], Handler],
        stop: asyncio.Event,
    ) -> None:
        """Pull, dispatch and settle messages until ``stop`` is set.

        The consumer's filter subjects are the subjects of the contracts in ``handlers``. Up to
        ``spec.concurrency`` messages are in flight; a free slot is refilled at once, so one slow
        message never holds back the rest of its batch.
        """
        dispatcher = Dispatcher(spec.durable, handlers, spec.retry)
        await self.ensure_consumer(spec, dispatcher.subjects)
        sub = await self.js.pull_subscribe_bind(durable=spec.durable, stream=spec.stream)
        in_flight: set[asyncio.Task[None]] = set()

        async def settle(msg: Msg) -> None:
            try:
                await self._settle(dispatcher, msg)
            except Exception as exc:  # ack/nak/dead-letter lost: JetStream redelivers after ack_wait
                log.warning("message.settle_failed", durable=spec.durable, error_class=type(exc).__name__)

        while not stop.is_set():
            free = spec.concurrency - len(in_flight)
            if free <= 0:
                await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                continue
            try:
                batch = await sub.fetch(min(spec.batch, free), timeout=1.0)
            except (TimeoutError, NatsTimeoutError):
                continue
            except Exception as exc:  # connection trouble: back off, the client reconnects
                if stop.is_set():
                    break
                log.warning("consumer.fetch_failed", durable=spec.durable, error_class=type(exc).__name__)
                await asyncio.sleep(0.5)
                continue
            for msg in batch:
                task = asyncio.create_task(settle(msg))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
        if in_flight:
            await asyncio.gather(*in_flight, return_exceptions=True)
        with contextlib.suppress(Exception):
            await sub.unsubscribe()

    async def _settle(self, dispatcher: Dispatcher, msg: Msg) -> None:
        metadata = msg.metadata
        inbound = Inbound(
            subject=msg.subject,
            data=msg.data,
            delivered=int(metadata.num_delivered or 1),
            stream_sequence=int(metadata.sequence.stream) if metadata.sequence else 0,
            heartbeat=msg.in_progress,
        )
        settlement = await dispatcher.dispatch(inbound)
        if isinstance(settlement, Ack):
            await msg.ack()
        elif isinstance(settlement, Nak):
            await msg.nak(delay=settlement.delay)
        else:
            try:
                await self._reject(dispatcher.consumer, msg, inbound, settlement)
            except Exception:
                await msg.nak(delay=1.0)  # the rejection must be announced: try again soon
                raise

    async def _reject(self, consumer: str, msg: Msg, inbound: Inbound, reject: Reject) -> None:
        """Announce the rejection, keep the message in the dead-letter stream, and move on."""
        event = make_envelope(
            reject.event(consumer, inbound),
            producer=self.service,
            subject=reject.envelope.subject if reject.envelope else None,
            cause=reject.envelope,
            message_id=f"rejected:{consumer}:{inbound.stream_sequence}",
        )
        await self.js.publish(rejection_subject(self.service), event.to_json(), headers=event.nats_headers())
        await self._dead_letter(consumer, msg, reason=reject.reason, error=reject.error)
        log.error(
            "message.dead_lettered",
            consumer=consumer,
            reason=reject.reason,
            error_class=reject.error_class,
            stream_sequence=inbound.stream_sequence,
        )

    async def _dead_letter(self, consumer: str, msg: Msg, *, reason: str, error: str) -> None:
        seq = msg.metadata.sequence.stream if msg.metadata.sequence else 0
        headers: dict[str, Any] = dict(msg.headers or {})
        headers.update(
            {
                "Nats-Msg-Id": f"dlq:{consumer}:{seq}",
                "Cavra-Dlq-Reason": reason,
                "Cavra-Dlq-Error": error[:300],
                "Cavra-Dlq-Consumer": consumer,
                "Cavra-Original-Subject": msg.subject,
                "Cavra-Original-Sequence": str(seq),
            }
        )
        await self.js.publish(dead_letter_subject(consumer), msg.data, headers=headers)
        await msg.term()


# --- key/value buckets -------------------------------------------------------------------
# JetStream KV for small records shared by every replica of a process type (the gateway's
# Idempotency-Key records). ``create`` is the atomic first writer; ``update`` compares and sets.


@dataclass(frozen=True)
class BucketSpec:
    """A JetStream key/value bucket the system provisions at start."""

    name: str
    description: str
    ttl_seconds: float
    """A key's value is forgotten this long after its last write."""
    max_value_bytes: int
    max_bytes: int


@dataclass(frozen=True)
class Entry:
    """A key's current value and its revision (the stream sequence of that write)."""

    value: bytes
    revision: int


@dataclass(frozen=True)
class Change:
    """One key as a watch sees it: its value, or None once it was deleted, purged or expired."""

    key: str
    value: bytes | None
    revision: int


class KeyExistsError(Exception):
    """``create`` found the key already set, or ``update`` found a newer revision."""


class Bucket:
    """One key/value bucket. Keys are ``[-/_=.a-zA-Z0-9]+``; values at most the bucket's limit."""

    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv

    async def create(self, key: str, value: bytes) -> int:
        """Set ``key`` only if it holds no value; returns the revision, or raises ``KeyExistsError``."""
        try:
            return int(await self._kv.create(key, value))
        except KeyWrongLastSequenceError as exc:
            raise KeyExistsError(key) from exc

    async def get(self, key: str) -> Entry | None:
        """The current value, or None when the key is unset, deleted or expired."""
        try:
            entry = await self._kv.get(key)
        except KeyNotFoundError:
            return None
        return Entry(value=bytes(entry.value or b""), revision=int(entry.revision or 0))

    async def update(self, key: str, value: bytes, *, revision: int) -> int:
        """Set ``key`` if its revision is still ``revision``; else raises ``KeyExistsError``."""
        try:
            return int(await self._kv.update(key, value, last=revision))
        except KeyWrongLastSequenceError as exc:
            raise KeyExistsError(key) from exc

    async def delete(self, key: str) -> None:
        """Forget ``key`` (a later ``create`` succeeds)."""
        await self._kv.delete(key)

    async def watch(self) -> AsyncGenerator[Change | None, None]:
        """Every key's current value, then ``None`` (caught up), then each change as it is stored."""
        watcher = await self._kv.watchall()
        try:
            async for entry in watcher:
                if entry is None:
                    yield None
                    continue
                gone = entry.operation in (KV_DEL, KV_PURGE)
                yield Change(entry.key, None if gone else bytes(entry.value or b""), int(entry.revision or 0))
        finally:
            with contextlib.suppress(Exception):
                await watcher.stop()  # type: ignore[no-untyped-call]

    async def snapshot(self) -> dict[str, Entry]:
        """Every key that holds a value now (one pass of a watch)."""
        found: dict[str, Entry] = {}
        async with contextlib.aclosing(self.watch()) as changes:
            async for change in changes:
                if change is None:
                    break
                if change.value is None:
                    found.pop(change.key, None)
                else:
                    found[change.key] = Entry(change.value, change.revision)
        return found


async def ensure_bucket(bus: Bus, spec: BucketSpec) -> Bucket:
    """Create the bucket, or update its limits to ``spec`` (idempotent), and open it."""
    config = KeyValueConfig(
        bucket=spec.name,
        description=spec.description,
        ttl=spec.ttl_seconds,
        max_value_size=spec.max_value_bytes,
        max_bytes=spec.max_bytes,
        storage=StorageType.FILE,
        history=1,
    )
    try:
        kv = await bus.js.create_key_value(config)
    except BadRequestError:  # exists with other limits: keep its data, apply ours
        info = await bus.js.stream_info(f"KV_{spec.name}")
        stream = info.config
        stream.max_age = spec.ttl_seconds
        stream.max_msg_size = spec.max_value_bytes
        stream.max_bytes = spec.max_bytes
        stream.description = spec.description
        await bus.js.update_stream(stream)
        kv = await bus.js.key_value(spec.name)
    return Bucket(kv)
