"""Ask a service (query) or tell it (command) and map the answer to HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import HTTPException
from fastapi.responses import JSONResponse

from cavra_contracts.base import Contract
from cavra_contracts.envelope import Envelope, make_envelope
from cavra_contracts.failures import MessageRejectedV1, rejection_subject
from cavra_gateway import SERVICE
from cavra_gateway.deps import GatewayState
from cavra_gateway.errors import problem_response

ENVELOPE_HEADROOM = 4096
"""Bytes kept free under max_payload for the NATS headers of a command."""


@dataclass(frozen=True)
class Command:
    """A command to publish and the event types that answer it."""

    contract: Contract
    outcomes: tuple[str, ...]
    """Events the command causes directly (``causation_id``): its outcome."""
    subject: str
    """The envelope's ``subject`` (``ce-subject`` header), e.g. ``schedule/<id>``: validated ids only."""
    downstream: tuple[str, ...] = ()
    """Later events of the same chain (``correlation_id``), e.g. the delivery that followed a plan."""


@dataclass(frozen=True)
class Waits:
    """How long to wait for a command's outcome and then for its downstream event."""

    outcome: float
    downstream: float = 0.0


@dataclass
class Told:
    """A published command; the interest in its outcome was registered before publishing.

    The outcome futures stay registered until :meth:`close`, so a caller that answered 202 can
    go on waiting for the same outcome without any chance of having missed it.
    """

    command: Envelope
    state: GatewayState
    _outcome: asyncio.Future[Envelope] | None = None
    _downstream: asyncio.Future[Envelope] | None = None
    _closed: bool = field(default=False, repr=False)

    async def outcome(self, timeout: float) -> Envelope | None:
        """The direct outcome, or None when it did not arrive within ``timeout`` seconds.

        Raises ``CommandRejected`` when the service gave up on the command (``MessageRejectedV1``).
        """
        outcome = await _wait(self._outcome, timeout)
        if outcome is not None and outcome.type.endswith(".message_rejected.v1"):
            raise CommandRejected(MessageRejectedV1.model_validate(outcome.payload), outcome.producer)
        return outcome

    async def downstream(self, timeout: float) -> Envelope | None:
        """The downstream event, or None when it did not arrive within ``timeout`` seconds."""
        return await _wait(self._downstream, timeout)

    def close(self) -> None:
        """Stop waiting for this command's events."""
        if self._closed:
            return
        self._closed = True
        for future in (self._outcome, self._downstream):
            if future is not None:
                self.state.outcomes.forget(self.command.message_id, future)
                future.cancel()


Answer = Callable[[Told, Waits], Awaitable[JSONResponse]]
"""Turns a told command into the HTTP answer, waiting at most ``Waits`` for its events."""


class CommandRejected(Exception):
    """The service dead-lettered the command (undecodable, or a handler failure no retry fixes)."""

    def __init__(self, rejected: MessageRejectedV1, service: str) -> None:
        super().__init__(f"{service}: {rejected.reason}")
        status = 422 if rejected.reason == "undecodable" else 500
        self.response = problem_response(
            status,
            "rejected",
            [
                {
                    "field": "body",
                    "message": f"the {service} service could not apply the command "
                    f"({rejected.reason}: {rejected.error_class}); nothing was applied",
                }
            ],
        )


def answering_rejections(answer: Answer) -> Answer:
    """``answer``, with a service's rejection of the command answered at once (422 or 500)."""

    async def run(told: Told, waits: Waits) -> JSONResponse:
        try:
            return await answer(told, waits)
        except CommandRejected as exc:
            return exc.response

    return run


async def _wait(future: asyncio.Future[Envelope] | None, timeout: float) -> Envelope | None:
    if future is None:
        return None
    if future.done():
        return None if future.cancelled() else future.result()
    try:
        return await asyncio.wait_for(asyncio.shield(future), timeout)
    except TimeoutError:
        return None


async def ask(state: GatewayState, query: Contract) -> dict[str, Any]:
    """Send a query and return its result; 4xx/5xx errors become HTTP errors."""
    envelope = make_envelope(query, producer=SERVICE)
    try:
        reply = await state.bus.request(envelope, timeout=state.settings.query_timeout_seconds)
    except TimeoutError as exc:
        service = query.MESSAGE.service
        raise HTTPException(503, f"{service} service did not answer; is it running?") from exc
    if not reply.ok:
        raise HTTPException(reply.status_code, reply.error or "query failed")
    return reply.result or {}


class CommandTooLarge(Exception):
    """The command envelope does not fit the NATS server's max_payload."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"{size} bytes > {limit}")
        self.response = problem_response(
            413,
            "request too large",
            [{"field": "body", "message": f"the command is {size} bytes; the message bus takes {limit}"}],
        )


async def send(state: GatewayState, command: Command, *, message_id: str | None = None) -> Told:
    """Publish ``command`` to JetStream, its outcome futures registered first.

    Raises ``CommandTooLarge`` before publishing a command the bus would refuse, and
    ``HTTPException(503)`` when the bus did not store it.
    """
    envelope = make_envelope(
        command.contract, producer=SERVICE, subject=command.subject, message_id=message_id
    )
    limit = state.bus.max_payload - ENVELOPE_HEADROOM
    size = len(envelope.to_json())
    if size > limit:
        raise CommandTooLarge(size, limit)
    outcomes = state.outcomes
    rejected = rejection_subject(command.contract.MESSAGE.service)
    told = Told(
        envelope,
        state,
        _outcome=outcomes.expect(envelope.message_id, (*command.outcomes, rejected)),
        _downstream=(
            outcomes.expect(envelope.message_id, command.downstream, downstream=True)
            if command.downstream
            else None
        ),
    )
    try:
        await state.bus.publish(envelope)  # a duplicate (a retried record) is waited for all the same
    except Exception as exc:
        told.close()
        raise HTTPException(503, f"message bus unavailable: {type(exc).__name__}") from exc
    return told


async def tell(state: GatewayState, command: Command, answer: Answer) -> JSONResponse:
    """Publish ``command`` (no Idempotency-Key) and answer within the configured waits."""
    try:
        told = await send(state, command)
    except CommandTooLarge as exc:
        return exc.response
    try:
        return await answering_rejections(answer)(told, request_waits(state))
    finally:
        told.close()


def request_waits(state: GatewayState) -> Waits:
    """The waits of a request: ``CAVRA_COMMAND_WAIT_SECONDS``, then ``CAVRA_DELIVERY_WAIT_SECONDS``."""
    return Waits(state.settings.command_wait_seconds, state.settings.delivery_wait_seconds)


def accepted(told: Told, poll: str | None = None) -> JSONResponse:
    """202: the command is stored and will be applied; its outcome is not known yet."""
    content: dict[str, Any] = {"status": "accepted", "message_id": told.command.message_id}
    if poll is not None:
        content["poll"] = poll
    return JSONResponse(status_code=202, content=content)


def outcomes_of(*contracts: type[Contract]) -> tuple[str, ...]:
    """The event types (subjects) of ``contracts``."""
    return tuple(c.MESSAGE.subject for c in contracts)
