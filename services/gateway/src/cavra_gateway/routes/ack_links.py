"""One-time ack links: ``GET`` / ``POST .../ack-links/{token}``.

The token is the credential (signed with ``CAVRA_ACK_LINK_SECRET``, see ``cavra_contracts.ack_links``),
so no bearer token is needed. A ``GET`` only shows a confirmation page, because mail and chat link
scanners fetch every link they see; the page's button ``POST``s the same URL, which records the
acknowledgement once (the acknowledgement service stores the link id: a second use is 409).
Forged or malformed → 401, expired → 410, no secret configured → 404. The token is never logged,
stored or sent on.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response

from cavra_contracts.ack_links import MAX_TOKEN_LENGTH, AckLinkClaims, AckLinkError, verify
from cavra_contracts.acknowledgements import ACKNOWLEDGEMENT_STATES, AckTargetV1
from cavra_contracts.actors import ActorV1
from cavra_contracts.limits import MAX_ID_LENGTH, MAX_PROVIDER_LENGTH
from cavra_gateway.api_models import Accepted
from cavra_gateway.deps import GatewayState, State
from cavra_gateway.errors import Problem, error_responses, problem_response
from cavra_gateway.routes.ack_commands import PREFIX, command, record, single_view

router = APIRouter(prefix=f"{PREFIX}/ack-links", tags=["integrations"])

TOKEN = Path(max_length=MAX_TOKEN_LENGTH, pattern=r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex">
<title>CAVRA: acknowledge notification</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
<h1>{title}</h1>
{body}
</body></html>
"""


class LinkRefused(Exception):
    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


def _claims(state: GatewayState, token: str) -> AckLinkClaims:
    secret = state.settings.ack_link_secret
    if secret is None:
        raise LinkRefused(404, "ack links are not configured (CAVRA_ACK_LINK_SECRET)")
    try:
        claims = verify(token, secret.get_secret_value(), datetime.now(UTC))
    except AckLinkError as exc:
        raise LinkRefused(410 if "expired" in str(exc) else 401, str(exc)) from None
    fits = (
        claims.state in ACKNOWLEDGEMENT_STATES
        and all(isinstance(v, str) for v in (claims.route_id, claims.link_id, claims.provider))
        and 0 < len(claims.route_id) <= MAX_ID_LENGTH
        and 0 < len(claims.link_id) <= MAX_ID_LENGTH
        and len(claims.provider) <= MAX_PROVIDER_LENGTH
    )
    if not fits:
        raise LinkRefused(401, "ack link is malformed")
    return claims


def _page(status_code: int, title: str, body: str) -> HTMLResponse:
    return HTMLResponse(
        PAGE.format(title=escape(title), body=body),
        status_code=status_code,
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


@router.get(
    "/{token}",
    summary="Confirmation page of a one-time ack link (a GET never acknowledges)",
    response_class=HTMLResponse,
    responses={
        401: {"description": "Forged or malformed", "content": {"text/html": {}}},
        404: {"description": "Ack links are not configured", "content": {"text/html": {}}},
        410: {"description": "Expired", "content": {"text/html": {}}},
        422: {"model": Problem, "description": "Not a token"},
    },
)
async def confirm(state: State, token: str = TOKEN) -> Response:
    try:
        claims = _claims(state, token)
    except LinkRefused as exc:
        return _page(exc.status_code, "This ack link cannot be used", f"<p>{escape(exc.message)}</p>")
    expires = datetime.fromtimestamp(claims.expires_at, UTC).isoformat()
    body = (
        f"<p>Record <strong>{escape(claims.state)}</strong> for the {escape(claims.provider)} notification "
        f"of schedule <code>{escape(claims.schedule_id)}</code> "
        f"(route <code>{escape(claims.route_id)}</code>, plan <code>{escape(claims.plan_id)}</code>).</p>"
        f"<p>The link works once and expires at {escape(expires)}.</p>"
        '<form method="post"><button type="submit">Acknowledge</button></form>'
    )
    return _page(200, "Acknowledge this notification?", body)


@router.post(
    "/{token}",
    summary="Use a one-time ack link: records its acknowledgement once",
    responses={
        201: {"description": "Recorded"},
        202: {"model": Accepted, "description": "Queued: the outcome did not arrive in time"},
        401: {"model": Problem, "description": "Forged or malformed"},
        410: {"model": Problem, "description": "Expired"},
        **error_responses(404, 409, 422, 503),
    },
)
async def use(state: State, request: Request, token: str = TOKEN) -> Response:
    try:
        claims = _claims(state, token)
    except LinkRefused as exc:
        return problem_response(exc.status_code, "refused", [{"field": "token", "message": exc.message}])
    actor = ActorV1(
        actor=f"ack-link:{claims.provider}", role="operator", method="ack_link", subject=claims.link_id
    )
    told = command(
        "ack_link",
        claims.state,
        actor,
        subject=f"route/{claims.route_id}",
        targets=[AckTargetV1(route_id=claims.route_id)],
        link_id=claims.link_id,
    )
    accept = request.headers.get("accept", "")
    response = await record(state, request, None, told, single_view)
    if "text/html" in accept and response.status_code == 201:
        return _page(201, "Acknowledged", "<p>Thank you: the acknowledgement is recorded.</p>")
    return response
