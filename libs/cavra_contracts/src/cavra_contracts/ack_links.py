"""One-time, expiring, signed acknowledgement links put in webhook, Teams, Jira and ServiceNow payloads.

A link is ``<base>/runtime/go-pilot/rollback-drill-notifications/ack-links/<token>``; the token is
``<claims>.<signature>``, both base64url: the claims name the route, its plan, the state the link
records, when it expires and a random one-time ``link_id``; the signature is HMAC-SHA256 over the
encoded claims with the shared ``CAVRA_ACK_LINK_SECRET`` (the delivery service signs, the gateway
verifies). The acknowledgement service stores each ``link_id`` it records, so a link acts once.

The token is a credential: it never goes into stored evidence, logs or events.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Final

ACK_LINK_PATH: Final = "/runtime/go-pilot/rollback-drill-notifications/ack-links/"
MAX_TOKEN_LENGTH: Final = 2048
DEFAULT_TTL: Final = timedelta(hours=24)


class AckLinkError(ValueError):
    """The token is malformed, forged or expired; the message says which, never why in more detail."""


@dataclass(frozen=True)
class AckLinkClaims:
    """What a link may do: record ``state`` for ``route_id`` of ``plan_id``, once, until ``expires_at``."""

    link_id: str
    route_id: str
    plan_id: str
    schedule_id: str
    provider: str
    state: str
    expires_at: int
    """Unix seconds."""


def new_claims(
    *,
    route_id: str,
    plan_id: str,
    schedule_id: str,
    provider: str,
    now: datetime,
    ttl: timedelta = DEFAULT_TTL,
) -> AckLinkClaims:
    """Claims of a fresh ``acknowledged`` link for one route."""
    return AckLinkClaims(
        link_id=secrets.token_urlsafe(16),
        route_id=route_id,
        plan_id=plan_id,
        schedule_id=schedule_id,
        provider=provider,
        state="acknowledged",
        expires_at=int((now + ttl).timestamp()),
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(encoded_claims: str, secret: str) -> bytes:
    return hmac.new(secret.encode(), b"cavra-ack-link.v1." + encoded_claims.encode(), hashlib.sha256).digest()


def sign(claims: AckLinkClaims, secret: str) -> str:
    """The token for ``claims``."""
    encoded = _b64(json.dumps(asdict(claims), separators=(",", ":"), sort_keys=True).encode())
    return f"{encoded}.{_b64(_mac(encoded, secret))}"


def link(base_url: str, claims: AckLinkClaims, secret: str) -> str:
    """The full link for ``claims`` under the gateway's public ``base_url``."""
    return f"{base_url.rstrip('/')}{ACK_LINK_PATH}{sign(claims, secret)}"


def verify(token: str, secret: str, now: datetime) -> AckLinkClaims:
    """The claims of a genuine, unexpired token; :class:`AckLinkError` otherwise."""
    if len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1:
        raise AckLinkError("ack link is malformed")
    encoded, signature = token.split(".")
    try:
        given = _unb64(signature)
    except (binascii.Error, ValueError):
        raise AckLinkError("ack link is malformed") from None
    if not hmac.compare_digest(given, _mac(encoded, secret)):
        raise AckLinkError("ack link signature is not valid")
    try:
        fields = json.loads(_unb64(encoded))
        claims = AckLinkClaims(**{key: fields[key] for key in AckLinkClaims.__dataclass_fields__})
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise AckLinkError("ack link is malformed") from None
    if not isinstance(claims.expires_at, int) or now.timestamp() >= claims.expires_at:
        raise AckLinkError("ack link has expired")
    return claims
