"""The typed message boundary: decode a delivered message once, run its handler, decide its settlement.

Transport-neutral on purpose: the NATS bus and the in-memory bus both feed :class:`Dispatcher`
an :class:`Inbound` and apply the :class:`Settlement` it returns, so both behave the same way.

* The payload is decoded into the contract registered for the message's subject; a message that
  is not an envelope, names no handled contract or does not fit it is rejected at once.
* The handler receives a :class:`Message` (the typed contract plus its envelope metadata, and
  ``heartbeat``: a long handler calls it to tell the transport it is still working).
* Success acks. A transient failure is retried with growing delays up to ``max_deliver``. A
  ``PermanentError`` is rejected at once; any other failure (a bug, data the handler cannot
  process) gets one short retry (a race with another replica may resolve), then is rejected:
  the caller publishes a ``MessageRejectedV1`` event and copies the message to the dead-letter
  stream, and the consumer moves on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import structlog
from pydantic import ValidationError

from cavra_contracts.base import Contract
from cavra_contracts.envelope import Envelope
from cavra_contracts.failures import MessageRejectedV1, RejectionReason
from cavra_runtime.failures import PermanentError, is_transient

log = structlog.get_logger()

C = TypeVar("C", bound=Contract)
D = TypeVar("D")

Heartbeat = Callable[[], Awaitable[None]]
"""Tells the transport a message is still being worked on (JetStream: ``in_progress``)."""


async def no_heartbeat() -> None:
    """The heartbeat of a transport without redelivery timers (in-memory buses, tests)."""


@dataclass(frozen=True)
class Message(Generic[C]):
    """What a handler receives: the decoded contract and where it came from."""

    contract: C
    envelope: Envelope
    stream_sequence: int = 0
    delivery_attempt: int = 1
    heartbeat: Heartbeat = no_heartbeat
    """Call it well within the consumer's ack wait while a long handler runs, or the message is
    handed to another replica while this one still works on it."""

    @property
    def message_id(self) -> str:
        return self.envelope.message_id


Handler = Callable[[Message[Any]], Awaitable[None]]
"""A handler with its dependencies bound."""

HandlerTable = Mapping[type[Contract], Callable[[Message[Any], D], Awaitable[None]]]
"""One table per service: contract class -> handler of (message, deps)."""


def bind_table(table: HandlerTable[D], deps: D) -> dict[type[Contract], Handler]:
    """Every handler of ``table`` with ``deps`` bound."""

    def bound(handler: Callable[[Message[Any], D], Awaitable[None]]) -> Handler:
        async def run(message: Message[Any]) -> None:
            await handler(message, deps)

        return run

    return {contract: bound(handler) for contract, handler in table.items()}


@dataclass(frozen=True)
class Inbound:
    """A delivered message, independent of the transport."""

    subject: str
    data: bytes
    delivered: int
    stream_sequence: int
    heartbeat: Heartbeat = no_heartbeat


@dataclass(frozen=True)
class Ack:
    pass


@dataclass(frozen=True)
class Nak:
    delay: float


@dataclass(frozen=True)
class Reject:
    reason: RejectionReason
    error_class: str
    error: str
    envelope: Envelope | None

    def event(self, consumer: str, inbound: Inbound) -> MessageRejectedV1:
        return MessageRejectedV1(
            consumer=consumer,
            message_type=inbound.subject,
            message_id=self.envelope.message_id if self.envelope else "",
            reason=self.reason,
            error_class=self.error_class,
            error=self.error[:500],
            delivery_attempts=inbound.delivered,
            stream_sequence=inbound.stream_sequence,
        )


Settlement = Ack | Nak | Reject

SHORT_RETRY_SECONDS = 0.2
"""The one retry a non-transient failure gets before it is rejected."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a consumer retries transient failures."""

    max_deliver: int = 8
    nak_delays: tuple[float, ...] = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)

    def delay(self, delivered: int) -> float:
        """Delay before the next delivery after ``delivered`` failed attempts."""
        return self.nak_delays[min(max(delivered, 1), len(self.nak_delays)) - 1]


class Dispatcher:
    """Decodes, dispatches and settles the messages of one durable consumer."""

    def __init__(self, consumer: str, handlers: Mapping[type[Contract], Handler], retry: RetryPolicy) -> None:
        self.consumer = consumer
        self.retry = retry
        self._by_subject = {contract.MESSAGE.subject: (contract, h) for contract, h in handlers.items()}

    @property
    def subjects(self) -> tuple[str, ...]:
        """The subjects this consumer handles (its filter subjects)."""
        return tuple(self._by_subject)

    async def dispatch(self, inbound: Inbound) -> Settlement:
        try:
            envelope = Envelope.from_json(inbound.data)
        except ValidationError as exc:
            return Reject(
                "undecodable", "ValidationError", f"not an envelope: {exc.error_count()} errors", None
            )
        entry = self._by_subject.get(inbound.subject) or self._by_subject.get(envelope.type)
        if entry is None:
            return Reject(
                "unhandled", "LookupError", f"{self.consumer} has no handler for {envelope.type}", envelope
            )
        contract_cls, handler = entry
        try:
            contract = contract_cls.model_validate(envelope.payload)
        except ValidationError as exc:
            fields = ", ".join(sorted({".".join(map(str, e["loc"])) for e in exc.errors()})[:10])
            return Reject("undecodable", "ValidationError", f"{contract_cls.__name__}: {fields}", envelope)
        context = {
            "message_id": envelope.message_id,
            "subject": inbound.subject,
            "correlation_id": envelope.correlation_id,
            "consumer": self.consumer,
            "delivery": inbound.delivered,
        }
        if envelope.subject:
            context["about"] = envelope.subject
        with structlog.contextvars.bound_contextvars(**context):
            message: Message[Any] = Message(
                contract, envelope, inbound.stream_sequence, inbound.delivered, inbound.heartbeat
            )
            try:
                await handler(message)
            except Exception as exc:
                return self._on_failure(exc, inbound, envelope)
            log.info("message.handled")
            return Ack()

    def _on_failure(self, exc: Exception, inbound: Inbound, envelope: Envelope) -> Settlement:
        error_class = type(exc).__name__
        if is_transient(exc):
            if inbound.delivered >= self.retry.max_deliver:
                log.error("message.exhausted", error_class=error_class)
                return Reject("max_deliver", error_class, _describe(exc), envelope)
            delay = self.retry.delay(inbound.delivered)
            log.warning("message.retry", error_class=error_class, nak_delay=delay)
            return Nak(delay)
        if inbound.delivered < 2 and not isinstance(exc, PermanentError):
            log.warning("message.failed_once", error_class=error_class, error=_describe(exc))
            return Nak(SHORT_RETRY_SECONDS)
        log.error("message.rejected", error_class=error_class, error=_describe(exc))
        return Reject("permanent", error_class, _describe(exc), envelope)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]
