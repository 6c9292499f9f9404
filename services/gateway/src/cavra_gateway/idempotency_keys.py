"""Idempotency-Key rules (draft-ietf-httpapi-idempotency-key-header), without I/O.

A key is scoped to the endpoint (method, route template, path parameters) and to the caller
(a SHA-256 of the ``Authorization`` header, ``anonymous`` without one), so the same key on two
endpoints, or from two callers, names two requests. Each scoped key is bound to a fingerprint of
the request (canonical JSON body and query) and has one :class:`Record`; the command's message
id is derived from the scoped key, the fingerprint and the record's creation time, so it never
collides with another endpoint's, and a key used again after its record expired is a new command.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict

KEY_MAX_LENGTH = 255
_PRINTABLE = re.compile(r"[\x20-\x7e]+")
_MESSAGE_IDS = uuid.UUID("5b0f0c1e-7d0a-4c39-9a43-3f6f0f0e1d2a")


def parse_key(raw: str) -> str:
    """The key of an ``Idempotency-Key`` header; raises ``ValueError`` saying what is wrong.

    The draft sends the key as a structured-field string (``"abc"``); a bare token is accepted too.
    """
    value = raw.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = re.sub(r"\\([\"\\])", r"\1", value[1:-1])
    if not value:
        raise ValueError("must not be empty")
    if len(value) > KEY_MAX_LENGTH:
        raise ValueError(f"must be at most {KEY_MAX_LENGTH} characters")
    if not _PRINTABLE.fullmatch(value):
        raise ValueError("must be printable ASCII")
    return value


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def caller_of(authorization: str | None) -> str:
    """Who sent the request: a hash of its credentials, never the credentials themselves."""
    return f"sha256:{_sha256(authorization)}" if authorization else "anonymous"


@dataclass(frozen=True)
class Scope:
    """The endpoint and caller a key belongs to."""

    caller: str
    method: str
    route: str
    """The route template, e.g. ``/runtime/go-pilot/rollback-drill-schedules/{schedule_id}``."""
    path_params: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, caller: str, method: str, route: str, path_params: Mapping[str, str]) -> Self:
        return cls(caller, method.upper(), route, tuple(sorted(path_params.items())))

    def record_key(self, key: str) -> str:
        """The record's name in the bucket (valid KV key): SHA-256 over scope and key."""
        return _sha256(_canonical([self.caller, self.method, self.route, self.path_params, key]))


def fingerprint(body: bytes, query: Iterable[tuple[str, str]]) -> str:
    """SHA-256 of the request as the command sees it: canonical JSON body (key order and
    whitespace do not matter) and the query parameters."""
    try:
        document: Any = json.loads(body) if body.strip() else None
    except ValueError:
        document = body.decode("utf-8", "replace")
    return _sha256(_canonical({"body": document, "query": sorted(query)}))


def message_id_for(record_key: str, fingerprint: str, created_ns: int) -> str:
    """The command's message id (``Nats-Msg-Id``) for one record."""
    return str(uuid.uuid5(_MESSAGE_IDS, f"{record_key}:{fingerprint}:{created_ns}"))


State = Literal["in_progress", "done", "failed"]
Verdict = Literal["replay", "mismatch", "busy", "take_over"]


class Record(BaseModel):
    """What the gateway keeps per scoped key.

    ``in_progress`` while the first request runs; ``done`` with the response to replay;
    ``failed`` when the command was published but the answer was a 5xx, so a retry may run
    again under the same message id (the services apply it at most once).
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    fingerprint: str
    state: State
    message_id: str
    started_at: float
    status: int | None = None
    body: str | None = None
    """The response body, zlib-compressed and base64-encoded; None when it was too large to keep."""
    body_bytes: int = 0

    def encode(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def decode(cls, data: bytes) -> Self:
        return cls.model_validate_json(data)

    def answered(self, status: int, body: bytes, *, max_bytes: int) -> Record:
        """This record once answered ``status`` / ``body``; the body is dropped past ``max_bytes``."""
        packed = base64.b64encode(zlib.compress(body, 6)).decode()
        done = self.model_copy(
            update={"state": "done", "status": status, "body": packed, "body_bytes": len(body)}
        )
        if len(done.encode()) <= max_bytes:
            return done
        return done.model_copy(update={"body": None})

    def failed(self) -> Record:
        return self.model_copy(update={"state": "failed", "status": None, "body": None, "body_bytes": 0})

    def response_body(self) -> bytes | None:
        return zlib.decompress(base64.b64decode(self.body)) if self.body is not None else None

    def verdict(self, fingerprint: str, *, now: float, lease_seconds: float) -> Verdict:
        """What a request with ``fingerprint`` arriving ``now`` does with this record."""
        if fingerprint != self.fingerprint:
            return "mismatch"
        if self.state == "done":
            return "replay"
        if self.state == "in_progress" and now - self.started_at < lease_seconds:
            return "busy"
        return "take_over"  # failed, or abandoned by a gateway that died mid-request
