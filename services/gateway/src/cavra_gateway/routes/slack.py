"""The Slack interactive Ack button: ``POST .../integrations/slack/interactions``.

No bearer token: Slack signs every callback with the app's signing secret
(``CAVRA_SLACK_SIGNING_SECRET``): ``X-Slack-Signature`` is ``v0=`` + the HMAC-SHA256 hex of
``v0:{X-Slack-Request-Timestamp}:{raw body}``. A timestamp more than five minutes from now, a missing or
wrong signature answers 401 and nothing is recorded; without the secret the endpoint answers 404. The
button's value is the route id (see the delivery service's Slack provider); the Slack user becomes the
actor ``slack:<user name>``. The same callback delivered twice is one command (its message id is
derived from the signature).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from cavra_contracts.acknowledgements import AcknowledgementsRecordedV1, AckTargetV1
from cavra_contracts.actors import ActorV1
from cavra_contracts.limits import MAX_ID_LENGTH, MAX_TEXT_LENGTH
from cavra_gateway.api_models import Accepted
from cavra_gateway.deps import State
from cavra_gateway.errors import Problem, error_responses, problem_response
from cavra_gateway.params import ID_PATTERN
from cavra_gateway.routes.ack_commands import PREFIX, command, record

router = APIRouter(prefix=f"{PREFIX}/integrations/slack", tags=["integrations"])

REPLAY_WINDOW_SECONDS = 300
MAX_SLACK_BODY_BYTES = 64 * 1024
"""Slack's interaction payloads are a few KiB; anything larger is not one."""
ACK_ACTION = "ack"
ROUTE_ID = re.compile(ID_PATTERN)


class SlackRefused(Exception):
    def __init__(self, status_code: int, field: str, message: str) -> None:
        super().__init__(message)
        self.response = problem_response(status_code, "refused", [{"field": field, "message": message}])


def verify(secret: str, timestamp: str | None, signature: str | None, body: bytes, now: float) -> None:
    """Raise :class:`SlackRefused` (401) unless Slack signed ``body`` at ``timestamp`` within the window."""
    if not timestamp or not signature:
        raise SlackRefused(401, "header.x-slack-signature", "Slack signature headers are required")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise SlackRefused(401, "header.x-slack-request-timestamp", "not a Unix timestamp") from None
    if abs(now - sent_at) > REPLAY_WINDOW_SECONDS:
        raise SlackRefused(
            401, "header.x-slack-request-timestamp", "older than five minutes (or from the future)"
        )
    basestring = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret.encode(), basestring, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise SlackRefused(401, "header.x-slack-signature", "signature does not match")


def interaction(body: bytes) -> tuple[str, ActorV1]:
    """The route id the Ack button carries and the Slack user who pressed it (422 when it is neither)."""
    try:
        [raw] = parse_qs(body.decode(), strict_parsing=True)["payload"]
        payload: Any = json.loads(raw)
        user, action = payload["user"], payload["actions"][0]
        route_id, user_id = action["value"], user["id"]
        name = user.get("username") or user.get("name") or user_id
        action_id = action.get("action_id", ACK_ACTION)
        team = str((payload.get("team") or {}).get("id", ""))
    except (UnicodeDecodeError, ValueError, KeyError, IndexError, TypeError, AttributeError):
        raise SlackRefused(422, "payload", "not a Slack block_actions payload with an Ack button") from None
    if not all(isinstance(value, str) for value in (route_id, user_id, name)) or action_id != ACK_ACTION:
        raise SlackRefused(422, "payload.actions[0]", "not the Ack button of a CAVRA notification")
    if len(route_id) > MAX_ID_LENGTH or not ROUTE_ID.match(route_id):
        raise SlackRefused(422, "payload.actions[0].value", "not a route id")
    actor = ActorV1(
        actor=f"slack:{name}"[:MAX_TEXT_LENGTH],
        role="operator",
        method="slack",
        subject=user_id[:MAX_TEXT_LENGTH],
        issuer=team[:MAX_TEXT_LENGTH],
    )
    return route_id, actor


def _slack_reply(recorded: AcknowledgementsRecordedV1) -> JSONResponse:
    ack = recorded.acknowledgements[0]
    text = f"Acknowledged by {ack.acknowledged_by}: {ack.schedule_id} / {ack.provider} ({ack.owner})"
    return JSONResponse(
        status_code=200,
        content={
            "response_type": "in_channel",
            "replace_original": False,
            "text": text,
            "acknowledgement": ack.model_dump(mode="json"),
        },
    )


@router.post(
    "/interactions",
    summary="Slack interactive callback: the Ack button of a notification (signed by Slack)",
    responses={
        200: {"description": "Recorded"},
        202: {"model": Accepted, "description": "Queued, or a repeated callback (recorded once)"},
        401: {"model": Problem, "description": "Missing or wrong signature, or a stale timestamp"},
        **error_responses(404, 413, 422, 503),
    },
)
async def interactions(state: State, request: Request) -> Response:
    secret = state.settings.slack_signing_secret
    if secret is None:  # the endpoint is off until the operator gives it the app's secret
        return problem_response(
            404, "not configured", [{"field": "CAVRA_SLACK_SIGNING_SECRET", "message": "not set"}]
        )
    body = await request.body()
    if len(body) > MAX_SLACK_BODY_BYTES:
        return problem_response(
            413, "request too large", [{"field": "body", "message": "not a Slack payload"}]
        )
    headers = request.headers
    signature = headers.get("x-slack-signature")
    try:
        verify(
            secret.get_secret_value(), headers.get("x-slack-request-timestamp"), signature, body, time.time()
        )
        route_id, actor = interaction(body)
    except SlackRefused as exc:
        return exc.response
    told = command(
        "slack",
        "acknowledged",
        actor,
        subject=f"route/{route_id}",
        targets=[AckTargetV1(route_id=route_id)],
    )
    message_id = "slack-" + hashlib.sha256((signature or "").encode()).hexdigest()[:32]
    return await record(state, request, None, told, _slack_reply, message_id=message_id)
