"""Ask a service (query) or tell it (command) and map the answer to HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from fastapi import HTTPException

from cavra_contracts.base import Contract
from cavra_contracts.envelope import Envelope, make_envelope
from cavra_contracts.failures import MessageRejectedV1, rejection_subject
from cavra_gateway import SERVICE
from cavra_gateway.deps import GatewayState


@dataclass(frozen=True)
class Told:
    """A published command and what came of it within the wait.

    ``downstream`` is still pending when the command's direct outcome arrived and a later event
    of the same chain was asked for (see :func:`follow`).
    """

    command: Envelope
    outcome: Envelope | None
    duplicate: bool
    downstream: asyncio.Future[Envelope] | None = None


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


async def tell(
    state: GatewayState,
    command: Contract,
    *,
    outcomes: Iterable[str],
    subject: str | None = None,
    message_id: str | None = None,
    downstream: Iterable[str] = (),
) -> Told:
    """Publish a command to JetStream and wait (bounded) for the event it causes.

    The outcome is None when the wait ran out (the command is stored and will still be
    applied: answer 202) or when the message id was already stored (a repeated request).
    When the service gives up on the command (``MessageRejectedV1``), this raises the matching
    HTTP error at once: 422 for a command it could not decode, else 500; nothing was applied.
    With ``downstream`` event types, interest in the later event of the same chain is
    registered before publishing, so it cannot be missed; wait for it with :func:`follow`.
    """
    envelope = make_envelope(command, producer=SERVICE, subject=subject, message_id=message_id)
    rejected_subject = rejection_subject(command.MESSAGE.service)
    future = state.outcomes.expect(envelope.message_id, [*outcomes, rejected_subject])
    later = state.outcomes.expect(envelope.message_id, downstream, downstream=True) if downstream else None
    told = Told(envelope, None, duplicate=False, downstream=later)
    try:
        published = await state.bus.publish(envelope)
    except Exception as exc:
        state.outcomes.forget(envelope.message_id, future)
        drop(state, told)
        raise HTTPException(503, f"message bus unavailable: {type(exc).__name__}") from exc
    if published.duplicate:
        state.outcomes.forget(envelope.message_id, future)
        drop(state, told)
        return replace(told, duplicate=True, downstream=None)
    outcome = await state.outcomes.wait(envelope.message_id, future, state.settings.command_wait_seconds)
    if outcome is None:
        drop(state, told)
        return replace(told, downstream=None)
    if outcome.type == rejected_subject:
        drop(state, told)
        raise _rejection_error(command.MESSAGE.service, MessageRejectedV1.model_validate(outcome.payload))
    return replace(told, outcome=outcome)


def _rejection_error(service: str, rejected: MessageRejectedV1) -> HTTPException:
    status = 422 if rejected.reason == "undecodable" else 500
    return HTTPException(
        status,
        f"the {service} service rejected the command ({rejected.reason}: {rejected.error_class}); "
        "nothing was applied",
    )


async def follow(state: GatewayState, told: Told, timeout: float) -> Envelope | None:
    """The downstream event of a told command, or None when it did not arrive in ``timeout``."""
    if told.downstream is None:
        return None
    return await state.outcomes.wait(told.command.message_id, told.downstream, timeout)


def drop(state: GatewayState, told: Told) -> None:
    """Stop waiting for the downstream event (the caller answers without it)."""
    if told.downstream is not None:
        state.outcomes.forget(told.command.message_id, told.downstream)
