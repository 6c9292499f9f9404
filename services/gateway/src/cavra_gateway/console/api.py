"""The console's client of the public REST API: an in-process ASGI call into this same gateway app,
as the signed-in actor.

Every card, table and action of the console is one or more requests to the real API, so its
validation, its role checks and its answers are the API's own; the console adds no data path and
fabricates nothing. The actor travels in the ASGI scope (``IN_PROCESS_ACTOR``), which no HTTP client
can set, so only a verified console session can act this way.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

from cavra_contracts.actors import ActorV1
from cavra_gateway.auth.dependencies import IN_PROCESS_ACTOR

INTERNAL_BASE: Final = "http://console.internal"
Params = Mapping[str, str | int | bool]


@dataclass(frozen=True)
class ApiAnswer:
    """One API answer: its status, its JSON body (or None), and the message to show on failure."""

    status: int
    body: Any
    content: bytes = b""
    content_type: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def message(self) -> str:
        """The server's own words: ``detail`` of an error body, else the reason phrase."""
        if isinstance(self.body, dict) and isinstance(self.body.get("detail"), str):
            return str(self.body["detail"])
        return httpx.codes.get_reason_phrase(self.status) or f"HTTP {self.status}"

    @property
    def field_errors(self) -> list[dict[str, str]]:
        if isinstance(self.body, dict) and isinstance(self.body.get("errors"), list):
            return [e for e in self.body["errors"] if isinstance(e, dict)]
        return []


class _AsActor:
    """The app, called with ``actor`` in the scope of every request."""

    def __init__(self, app: ASGIApp, actor: ActorV1) -> None:
        self._app = app
        self._actor = actor

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app({**scope, IN_PROCESS_ACTOR: self._actor}, receive, send)


class ConsoleApi:
    """Requests to the REST API of ``app`` as ``actor``, for one console request: the same GET asked
    twice while rendering (two card groups and a table reading one answer) is sent once."""

    def __init__(self, app: ASGIApp, actor: ActorV1, *, timeout_seconds: float = 30.0) -> None:
        self.actor = actor
        self._transport = httpx.ASGITransport(app=_AsActor(app, actor))
        self._timeout = timeout_seconds
        self._reads: dict[tuple[str, tuple[tuple[str, str], ...]], asyncio.Task[ApiAnswer]] = {}

    async def get(self, path: str, params: Params | None = None) -> ApiAnswer:
        key = (path, tuple(sorted((k, _text(v)) for k, v in (params or {}).items() if v not in ("", None))))
        read = self._reads.get(key)
        if read is None:
            read = self._reads[key] = asyncio.ensure_future(self._send("GET", path, params=params))
        return await asyncio.shield(read)

    async def post(
        self, path: str, body: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> ApiAnswer:
        """POST ``body``; every console mutation carries an Idempotency-Key (a double click or a
        resubmitted form is one action)."""
        headers = {"Idempotency-Key": idempotency_key or secrets.token_urlsafe(16)}
        self._reads.clear()  # what was read before a change is not reused after it
        return await self._send("POST", path, json=dict(body), headers=headers)

    async def _send(self, method: str, path: str, **options: Any) -> ApiAnswer:
        if "params" in options and options["params"] is not None:
            options["params"] = {k: _text(v) for k, v in options["params"].items() if v not in ("", None)}
        async with httpx.AsyncClient(
            transport=self._transport, base_url=INTERNAL_BASE, timeout=self._timeout
        ) as client:
            response = await client.request(method, path, **options)
        content_type = response.headers.get("content-type", "")
        body: Any = None
        if content_type.startswith("application/json") and response.content:
            try:
                body = response.json()
            except ValueError:
                body = None
        return ApiAnswer(response.status_code, body, response.content, content_type)


def _text(value: str | int | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
