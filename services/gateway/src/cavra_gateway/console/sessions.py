"""Console sign-in sessions, kept in the JetStream key/value bucket ``CAVRA_CONSOLE_SESSIONS``.

Signing in exchanges a credential (an API token, an OIDC JWT, the bootstrap admin token) for a
session: the browser holds a random session id in the ``cavra_console`` cookie (HttpOnly,
SameSite=Strict), the bucket holds the session under the id's SHA-256 — the actor, how it signed in,
the SHA-256 of its credential (to check on every request that the credential still verifies), the
session's CSRF token and its expiry. No credential is stored; every gateway replica reads the same
bucket, and the bucket's TTL forgets a session after its lifetime even if nobody signs out.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Final

import structlog
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cavra_contracts.actors import ActorV1, AuthMethod
from cavra_contracts.base import UtcDatetime
from cavra_contracts.envelope import utc_now
from cavra_runtime.bus import Bucket, BucketSpec

log = structlog.get_logger()

BUCKET: Final = "CAVRA_CONSOLE_SESSIONS"
COOKIE: Final = "cavra_console"
SIGN_IN_COOKIE: Final = "cavra_console_sign_in"
"""The sign-in form's own CSRF value (double submit), before any session exists."""
COOKIE_PATH: Final = "/console"
CSRF_HEADER: Final = "x-csrf-token"
CSRF_FIELD: Final = "csrf_token"
SESSION_ID_LENGTH: Final = 43
"""``secrets.token_urlsafe(32)``; a cookie of another length is not looked up."""


def bucket_spec(lifetime: timedelta) -> BucketSpec:
    return BucketSpec(
        name=BUCKET,
        description="Evidence Console sessions by SHA-256 of the session id: actor, CSRF token, expiry.",
        ttl_seconds=lifetime.total_seconds(),
        max_value_bytes=8192,
        max_bytes=256 * 1_048_576,
    )


def digest(value: str) -> str:
    """Hex SHA-256 of ``value``: a session's key, a credential's fingerprint."""
    return hashlib.sha256(value.encode()).hexdigest()


class ConsoleSession(BaseModel):
    """One signed-in browser."""

    model_config = ConfigDict(frozen=True)

    actor: ActorV1
    method: AuthMethod
    credential_hash: str = Field(max_length=64, description="SHA-256 of the credential signed in with.")
    csrf_token: str = Field(max_length=64)
    created_at: UtcDatetime
    expires_at: UtcDatetime

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at

    def csrf_matches(self, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(presented.encode(), self.csrf_token.encode())


class SessionStore:
    """Opens, finds and closes console sessions."""

    def __init__(self, bucket: Bucket, lifetime: timedelta) -> None:
        self._bucket = bucket
        self.lifetime = lifetime

    async def open(
        self, actor: ActorV1, credential: str, *, not_after: datetime | None = None
    ) -> tuple[str, ConsoleSession]:
        """A new session for ``actor`` (ending at ``not_after`` when that is sooner than the lifetime,
        e.g. a JWT's expiry); returns the session id for the cookie and the session."""
        now = utc_now()
        expires_at = now + self.lifetime
        if not_after is not None:
            expires_at = min(expires_at, not_after)
        session = ConsoleSession(
            actor=actor,
            method=actor.method,
            credential_hash=digest(credential),
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            expires_at=expires_at,
        )
        session_id = secrets.token_urlsafe(32)
        await self._bucket.create(digest(session_id), session.model_dump_json().encode())
        log.info("console.signed_in", actor=actor.actor, role=actor.role, method=actor.method)
        return session_id, session

    async def find(self, session_id: str | None) -> ConsoleSession | None:
        """The live session of ``session_id``; None when unknown, expired or unreadable."""
        if not session_id or len(session_id) != SESSION_ID_LENGTH:
            return None
        entry = await self._bucket.get(digest(session_id))
        if entry is None:
            return None
        try:
            session = ConsoleSession.model_validate_json(entry.value)
        except ValidationError:
            log.warning("console.session_unreadable")
            return None
        return None if session.expired(utc_now()) else session

    async def close(self, session_id: str | None) -> None:
        if session_id and len(session_id) == SESSION_ID_LENGTH:
            await self._bucket.delete(digest(session_id))
