"""API tokens: ``cavra_`` + 32 random bytes, stored only as their SHA-256.

The records live in the JetStream key/value bucket ``CAVRA_API_TOKENS``, keyed by the hex SHA-256
of the token, each value a :class:`TokenRecord` (public id, name, role, who made it, expiry,
revocation). :class:`TokenStore` writes them (``cavra tokens``, ``cavra up``); the gateway answers
from a :class:`TokenIndex` kept in memory by a watch on the bucket, so checking a token costs a hash
and a dict lookup, and a revocation reaches every gateway as soon as the watch delivers it.
The token itself is shown once to whoever created it and is never stored, logged or sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

import structlog
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cavra_contracts.actors import ActorV1, Role
from cavra_contracts.base import UtcDatetime
from cavra_contracts.envelope import make_envelope, utc_now
from cavra_contracts.identity import ApiTokenCreatedV1, ApiTokenRevokedV1
from cavra_contracts.limits import MAX_TEXT_LENGTH
from cavra_runtime.bus import Bucket, BucketSpec, Bus, KeyExistsError, ensure_bucket

log = structlog.get_logger()

BUCKET: Final = "CAVRA_API_TOKENS"
TOKEN_PREFIX: Final = "cavra_"
TOKEN_ID_PREFIX: Final = "tok_"
MAX_TOKEN_LENGTH: Final = 8192
"""Longest credential the gateway reads (an API token is 49 characters; a JWT a few KB)."""
MAX_EXPIRES_IN_DAYS: Final = 3650
NAME_PATTERN: Final = r"^[^\x00-\x1f\x7f]+$"
PRODUCER: Final = "gateway"

SPEC: Final = BucketSpec(
    name=BUCKET,
    description="API tokens of the gateway by SHA-256 of the token: id, name, role, expiry, revocation.",
    ttl_seconds=0,  # a token lives until it expires or is revoked, and its record stays for audit
    max_value_bytes=4096,
    max_bytes=64 * 1_048_576,
)


def new_token() -> str:
    """A fresh bearer token (49 characters)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """The key a token is stored under: hex SHA-256 (a random 256-bit secret needs no slow hash)."""
    return hashlib.sha256(token.encode()).hexdigest()


class TokenRecord(BaseModel):
    """What the bucket keeps of one token."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    token_id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=MAX_TEXT_LENGTH, pattern=NAME_PATTERN)
    role: Role
    created_at: UtcDatetime
    created_by: str = Field(max_length=MAX_TEXT_LENGTH)
    expires_at: UtcDatetime | None = None
    revoked_at: UtcDatetime | None = None
    revoked_by: str | None = Field(default=None, max_length=MAX_TEXT_LENGTH)

    def state(self, now: datetime) -> str:
        """``active``, ``expired`` or ``revoked``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and now >= self.expires_at:
            return "expired"
        return "active"

    def actor(self) -> ActorV1:
        """The actor a request with this token acts as."""
        return ActorV1(
            actor=self.name, role=self.role, method="api_token", subject=self.token_id, token_id=self.token_id
        )

    def encode(self) -> bytes:
        return self.model_dump_json().encode()


class UnknownToken(LookupError):
    """No token has this id."""


class TokenStore:
    """Create, list and revoke tokens in the bucket; each change is also an event on CAVRA_EVENTS."""

    def __init__(self, bus: Bus, bucket: Bucket) -> None:
        self._bus = bus
        self._bucket = bucket

    @classmethod
    async def open(cls, bus: Bus) -> TokenStore:
        """The store on ``bus``, with the bucket and the event stream provisioned."""
        await bus.ensure_streams()
        return cls(bus, await ensure_bucket(bus, SPEC))

    async def create(
        self,
        *,
        name: str,
        role: Role,
        created_by: str,
        expires_in_days: float | None = None,
        now: datetime | None = None,
    ) -> tuple[str, TokenRecord]:
        """A new token and its record; the token is returned once and kept nowhere."""
        if expires_in_days is not None and not 0 < expires_in_days <= MAX_EXPIRES_IN_DAYS:
            raise ValueError(f"expires_in_days must be more than 0 and at most {MAX_EXPIRES_IN_DAYS}")
        now = now or utc_now()
        record = TokenRecord(
            token_id=TOKEN_ID_PREFIX + secrets.token_hex(6),
            name=name,
            role=role,
            created_at=now,
            created_by=created_by,
            expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None,
        )
        token = new_token()
        await self._bucket.create(token_hash(token), record.encode())
        event = ApiTokenCreatedV1(
            token_id=record.token_id,
            name=record.name,
            role=record.role,
            created_at=record.created_at,
            created_by=created_by,
            expires_at=record.expires_at,
        )
        await self._publish(event, f"api-token-created:{record.token_id}", record.token_id)
        return token, record

    async def records(self) -> list[tuple[str, TokenRecord]]:
        """Every record with its key, oldest first (unreadable values are skipped and logged)."""
        found: list[tuple[str, TokenRecord]] = []
        for key, entry in (await self._bucket.snapshot()).items():
            record = _decode(key, entry.value)
            if record is not None:
                found.append((key, record))
        return sorted(found, key=lambda item: item[1].created_at)

    async def find(self, token: str) -> TokenRecord | None:
        """The record of ``token``, if there is one."""
        entry = await self._bucket.get(token_hash(token))
        return None if entry is None else _decode("", entry.value)

    async def revoke(self, token_id: str, *, revoked_by: str, now: datetime | None = None) -> TokenRecord:
        """Mark the token revoked (idempotent); ``UnknownToken`` when no token has this id."""
        for _ in range(3):
            for key, record in await self.records():
                if record.token_id != token_id:
                    continue
                if record.revoked_at is None:
                    entry = await self._bucket.get(key)
                    if entry is None:
                        break
                    revoked = record.model_copy(
                        update={"revoked_at": now or utc_now(), "revoked_by": revoked_by}
                    )
                    try:
                        await self._bucket.update(key, revoked.encode(), revision=entry.revision)
                    except KeyExistsError:
                        break  # changed in between: read it again
                    record = revoked
                # Announced again on a repeated revoke: the bucket is written before the event, so a
                # revoke whose publish failed is healed by retrying it (same message id: de-duplicated).
                assert record.revoked_at is not None
                event = ApiTokenRevokedV1(
                    token_id=token_id,
                    name=record.name,
                    role=record.role,
                    revoked_at=record.revoked_at,
                    revoked_by=record.revoked_by or revoked_by,
                )
                await self._publish(event, f"api-token-revoked:{token_id}", token_id)
                return record
            else:
                raise UnknownToken(token_id)
        raise RuntimeError(f"token {token_id} kept changing while being revoked")

    async def _publish(
        self, event: ApiTokenCreatedV1 | ApiTokenRevokedV1, message_id: str, token_id: str
    ) -> None:
        # The bucket is the record; the event tells the audit log. Its id is fixed by the token, so a
        # repeat (e.g. a retried revoke) is dropped by JetStream's duplicate window.
        envelope = make_envelope(
            event, producer=PRODUCER, subject=f"api-token/{token_id}", message_id=message_id
        )
        await self._bus.publish(envelope)


def _decode(key: str, value: bytes) -> TokenRecord | None:
    try:
        return TokenRecord.model_validate_json(value)
    except ValidationError:
        log.warning("api_token.unreadable_record", key_prefix=key[:8])
        return None


@dataclass(frozen=True)
class Indexed:
    """One token as the gateway checks it: the record and the actor made from it once."""

    record: TokenRecord
    actor: ActorV1


class TokenIndex:
    """Every token record in memory, kept current by a watch on the bucket."""

    def __init__(self, bucket: Bucket) -> None:
        self._bucket = bucket
        self._by_hash: dict[str, Indexed] = {}
        self._caught_up = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self, timeout: float = 10.0) -> None:
        """Begin watching; returns once every stored record is loaded."""
        self._task = asyncio.create_task(self._follow(), name="api-token-index")
        await asyncio.wait_for(self._caught_up.wait(), timeout)

    def lookup(self, token: str) -> Indexed | None:
        """The indexed record of ``token`` (any state), or None."""
        return self._by_hash.get(token_hash(token))

    def lookup_hash(self, key: str) -> Indexed | None:
        """The indexed record stored under ``key`` (a token's :func:`token_hash`), or None."""
        return self._by_hash.get(key)

    def __len__(self) -> int:
        return len(self._by_hash)

    async def _follow(self) -> None:
        delay = 0.5
        while True:
            try:
                fresh: dict[str, Indexed] = {}
                loading = True
                async with contextlib.aclosing(self._bucket.watch()) as changes:
                    async for change in changes:
                        if change is None:  # caught up: swap the loaded set in whole
                            if loading:
                                self._by_hash, loading = fresh, False
                                self._caught_up.set()
                                delay = 0.5
                            continue
                        target = fresh if loading else self._by_hash
                        record = None if change.value is None else _decode(change.key, change.value)
                        if record is None:
                            target.pop(change.key, None)
                        else:
                            target[change.key] = Indexed(record, record.actor())
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the bus reconnects; watch again from the current values
                log.warning("api_token.watch_failed", error_class=type(exc).__name__, retry_in=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
