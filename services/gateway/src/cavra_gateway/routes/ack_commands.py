"""Acknowledgement commands from the gateway's routes (API, Slack, ack links): building the
``RecordAcknowledgementsV1`` command, publishing it and turning its outcome into the HTTP answer."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from cavra_contracts.acknowledgements import (
    ACKNOWLEDGEMENT_STATES,
    BULK_ACK_SCHEMA,
    STATE_PROBLEM,
    AckMode,
    AcknowledgementRejectedV1,
    AcknowledgementsRecordedV1,
    RecordAcknowledgementsV1,
    ack_metadata,
    normalize_state,
)
from cavra_contracts.actors import ActorV1
from cavra_gateway.deps import GatewayState
from cavra_gateway.errors import problem_response, rejection_response
from cavra_gateway.idempotency import run_command
from cavra_gateway.messaging import (
    Command,
    CommandTooLarge,
    Told,
    Waits,
    accepted,
    answering_rejections,
    outcomes_of,
    request_waits,
    send,
)

PREFIX = "/runtime/go-pilot/rollback-drill-notifications"
STATES_POLL = f"{PREFIX}/acknowledgements/routes"


Respond = Callable[[AcknowledgementsRecordedV1], JSONResponse]


def field_of(loc: Sequence[Any]) -> str:
    """``routes[3].provider`` for a pydantic location ``("routes", 3, "provider")``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "body"


def invalid(exc: ValidationError) -> JSONResponse:
    return problem_response(
        422, "invalid request", [{"field": field_of(e["loc"]), "message": e["msg"]} for e in exc.errors()]
    )


def parse_state(raw: str) -> str | None:
    """The stored form of an acknowledgement state, or None when it is not one (spec §3.5)."""
    state = normalize_state(raw)
    return state if state in ACKNOWLEDGEMENT_STATES else None


def state_problem() -> JSONResponse:
    return problem_response(
        422, "invalid request", [{"field": "acknowledgement_state", "message": STATE_PROBLEM}]
    )


def command(mode: AckMode, state: str, actor: ActorV1, *, subject: str, **fields: Any) -> Command:
    """The command to record ``state``; its outcome is recorded or rejected."""
    contract = RecordAcknowledgementsV1.model_validate(
        {"mode": mode, "acknowledgement_state": state, "actor": actor, **fields}
    )
    return Command(
        contract,
        outcomes=outcomes_of(AcknowledgementsRecordedV1, AcknowledgementRejectedV1),
        subject=subject,
    )


async def record(
    state: GatewayState,
    request: Request,
    key: str | None,
    told_command: Command,
    respond: Respond,
    *,
    message_id: str | None = None,
) -> Response:
    """Publish an acknowledgement command and answer: the recorded records, the rejection, or 202.

    ``message_id`` (no Idempotency-Key then) names the command when the request itself has an identity
    (a signed Slack callback): a second delivery of it is the same command, applied once.
    """

    async def answer(told: Told, waits: Waits) -> JSONResponse:
        outcome = await told.outcome(waits.outcome)
        if outcome is None:
            return accepted(told, STATES_POLL)
        if outcome.type == AcknowledgementRejectedV1.MESSAGE.subject:
            rejected = AcknowledgementRejectedV1.model_validate(outcome.payload)
            return rejection_response(rejected.status_code, rejected.problems)
        return respond(AcknowledgementsRecordedV1.model_validate(outcome.payload))

    if message_id is None:
        return await run_command(state, request, key, told_command, answer)
    try:
        told = await send(state, told_command, message_id=message_id)
    except CommandTooLarge as exc:
        return exc.response
    try:
        return await answering_rejections(answer)(told, request_waits(state))
    finally:
        told.close()


def single_view(recorded: AcknowledgementsRecordedV1) -> JSONResponse:
    """``{acknowledgement, acknowledgements, metadata, actor}``: the first record and every one."""
    acks = [ack.model_dump(mode="json") for ack in recorded.acknowledgements]
    return JSONResponse(
        status_code=201,
        content={
            "acknowledgement": acks[0],
            "acknowledgements": acks,
            "metadata": ack_metadata(recorded.acknowledgements[0]),
            "actor": recorded.actor.model_dump(mode="json"),
        },
    )


def bulk_view(requested_state: str) -> Respond:
    """The ``cavra.go-backend-pilot.rollback-drill-bulk-acknowledgement.v1`` document."""

    def respond(recorded: AcknowledgementsRecordedV1) -> JSONResponse:
        return JSONResponse(
            status_code=201,
            content={
                "schema_version": BULK_ACK_SCHEMA,
                "product": "CAVRA",
                "bulk_id": recorded.bulk_id,
                "acknowledgement_state": requested_state,
                "acknowledgement_count": recorded.acknowledgement_count,
                "acknowledgements": [ack.model_dump(mode="json") for ack in recorded.acknowledgements],
                "metadata": [ack_metadata(ack) for ack in recorded.acknowledgements],
                "actor": recorded.actor.model_dump(mode="json"),
            },
        )

    return respond
