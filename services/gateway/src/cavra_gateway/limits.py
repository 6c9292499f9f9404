"""Request body limits, enforced before anything parses the body or publishes a command.

``BodyLimits`` is plain ASGI middleware. It reads the body itself, counting the bytes as they
stream in (a ``Content-Length`` that already says too much is refused without reading), so a
chunked upload cannot get past the limit either. A body within the limit is handed on to the
application unchanged; one past it answers 413, and a JSON document nested deeper than the depth
limit, or holding a NUL character, answers 422. Both use the error body of :mod:`cavra_gateway.errors`.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cavra_gateway.errors import problem_response

_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_INNERMOST_PAIR = re.compile(rb"\[\]|\{\}")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def has_nul(body: bytes) -> bool:
    """Whether ``body`` holds a NUL character (raw, or the JSON escape ``\\u0000``): PostgreSQL
    cannot store one in text or jsonb, so such a command could never be applied."""
    return b"\x00" in body or _NUL_ESCAPE.search(body) is not None


def nesting_exceeds(body: bytes, limit: int) -> bool:
    """Whether ``body`` holds JSON arrays/objects nested more than ``limit`` deep.

    Runs at C speed on hostile input: strings are cut out, everything but brackets dropped,
    then each pass removes the innermost ``[]``/``{}`` pairs. A pair still removed by pass
    ``limit + 1`` proves ``limit + 1`` properly nested levels; malformed leftovers (which the
    JSON parser reports itself) stop the passes early.
    """
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    brackets = _STRINGS.sub(b"", body).translate(None, _NOT_BRACKETS)
    for _ in range(limit + 1):
        shorter = _INNERMOST_PAIR.sub(b"", brackets)
        if len(shorter) == len(brackets):
            return False
        brackets = shorter
    return True


def _mib(size: int) -> str:
    return f"{size / 1_048_576:g} MiB" if size >= 1_048_576 else f"{size / 1024:g} KiB"


class BodyLimits:
    """ASGI middleware: 413 past ``max_bytes``, 422 past ``max_depth`` levels of JSON nesting."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, max_depth: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large()(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away before the body was complete
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large()(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        problem = None
        if nesting_exceeds(body, self.max_depth):
            problem = f"JSON nested deeper than {self.max_depth} levels"
        elif has_nul(body):
            problem = "NUL characters (\\u0000) are not accepted"
        if problem is not None:
            response = problem_response(422, "invalid request", [{"field": "body", "message": problem}])
            await response(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)

    def _too_large(self) -> ASGIApp:
        limit = f"at most {self.max_bytes} bytes ({_mib(self.max_bytes)})"
        return problem_response(
            413, "request body too large", [{"field": "body", "message": f"must be {limit}"}]
        )


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that yields the buffered body once, then waits on the client as before."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
