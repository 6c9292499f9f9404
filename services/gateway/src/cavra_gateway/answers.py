"""How the gateway answers a command once it waited for its outcome, for the services whose commands
are refused with a ``RequestRefused`` event (retries, approvals, health alerts, recovery,
executive reports): 202 while no outcome has come, the refusal's problems, else the route's answer.

Most of those outcomes announce one stored record (``RecordedEvent``); :func:`recorded` is the answer
the spec gives for them: ``{<payload key>: payload, metadata: the metadata record, actor}``.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi.responses import JSONResponse

from cavra_contracts.base import Contract
from cavra_contracts.envelope import Envelope
from cavra_contracts.evidence import RecordedEvent
from cavra_contracts.failures import RequestRefused
from cavra_gateway.errors import rejection_response
from cavra_gateway.messaging import Told, Waits, accepted

Outcome = TypeVar("Outcome", bound=Contract)
Answer = Callable[[Told, Waits], Awaitable[JSONResponse]]


def answering(
    contract: type[Outcome],
    respond: Callable[[Outcome, Told, Waits], JSONResponse | Awaitable[JSONResponse]],
    *,
    rejected: type[RequestRefused],
    poll: str | None = None,
) -> Answer:
    """Answer with ``respond(outcome, told, waits)`` once ``contract`` came (``told`` and ``waits`` let it
    wait for what the outcome causes downstream); ``rejected`` is the service's refusal event, ``poll``
    where a client looks for the result after a 202."""

    async def answer(told: Told, waits: Waits) -> JSONResponse:
        outcome = await awaited(told, waits, rejected=rejected, poll=poll)
        if isinstance(outcome, JSONResponse):
            return outcome
        answered = respond(contract.model_validate(outcome.payload), told, waits)
        return await answered if inspect.isawaitable(answered) else answered

    return answer


async def awaited(
    told: Told, waits: Waits, *, rejected: type[RequestRefused], poll: str | None = None
) -> Envelope | JSONResponse:
    """The outcome envelope, or the answer to give at once: 202 while none came, ``rejected``'s problems.
    For a route whose command has several outcomes; :func:`answering` when it has one."""
    outcome = await told.outcome(waits.outcome)
    if outcome is None:
        return accepted(told, poll=poll)
    if outcome.type == rejected.MESSAGE.subject:
        refusal = rejected.model_validate(outcome.payload)
        return rejection_response(refusal.status_code, refusal.problems)
    return outcome


def recorded(name: str, event: RecordedEvent, *, status_code: int = 200, **extra: Any) -> JSONResponse:
    """``{<name>: the record's payload, metadata: its metadata record, actor, **extra}``."""
    content = {name: event.record.payload, "metadata": event.record.document(), **extra}
    actor = getattr(event, "actor", None)
    if actor is not None and "actor" not in extra:
        content["actor"] = actor.model_dump()
    return JSONResponse(status_code=status_code, content=content)


__all__ = ["Answer", "answering", "awaited", "recorded"]
