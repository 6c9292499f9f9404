"""Request body limits at the gateway's edge: size (streamed bytes, not only Content-Length) and
JSON nesting depth, both refused before the application sees the body."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from cavra_gateway.limits import BodyLimits, has_nul, nesting_exceeds


def nested(depth: int) -> bytes:
    return b'{"a":' * (depth - 1) + b"[1]" + b"}" * (depth - 1)


@pytest.mark.parametrize(
    ("body", "exceeds"),
    [
        (nested(32), False),
        (nested(33), True),
        (b"[" * 33 + b"]" * 33, True),
        (b"[" + b"[]," * 10_000 + b"[]]", False),  # wide, not deep
        (b'["' + b"[" * 100 + b'"]', False),  # brackets inside a string do not count
        (b'["\\"' + b"[" * 40 + b"]" * 40 + b"]", True),  # an escaped quote does not end the string
        (b"[}" * 1000, False),  # malformed: the JSON parser reports it, not the depth check
        (b'{"owners": ["a", "b"], "owner_routes": {"a": {"providers": ["slack"]}}}', False),
    ],
)
def test_nesting_depth(body: bytes, exceeds: bool) -> None:
    assert nesting_exceeds(body, 32) is exceeds


class Recorder:
    """An ASGI app that records the body it was given."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.bodies.append(body)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def client(app: Recorder) -> httpx.AsyncClient:
    limited = BodyLimits(app, max_bytes=1000, max_depth=32)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=limited), base_url="http://t")


async def chunks(count: int, size: int) -> AsyncIterator[bytes]:
    for _ in range(count):
        yield b"x" * size


async def test_a_body_past_the_limit_is_413_with_the_limit_and_never_reaches_the_app() -> None:
    app = Recorder()
    async with client(app) as api:
        declared = await api.put("/", content=b"x" * 1001)
        streamed = await api.put("/", content=chunks(5, 300))  # chunked: no Content-Length
        assert "content-length" not in streamed.request.headers
    for response in (declared, streamed):
        assert response.status_code == 413
        assert "1000 bytes" in response.json()["detail"]
        assert response.json()["errors"][0]["field"] == "body"
    assert app.bodies == []


async def test_a_body_within_the_limit_reaches_the_app_whole() -> None:
    app = Recorder()
    async with client(app) as api:
        exact = await api.put("/", content=b"y" * 1000)
        streamed = await api.put("/", content=chunks(3, 300))
        empty = await api.get("/")
    assert (exact.status_code, streamed.status_code, empty.status_code) == (200, 200, 200)
    assert app.bodies == [b"y" * 1000, b"x" * 900, b""]


async def test_json_nested_too_deep_is_422_naming_the_body() -> None:
    app = Recorder()
    async with client(app) as api:
        response = await api.put("/", content=nested(40))
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "body", "message": "JSON nested deeper than 32 levels"}]
    assert app.bodies == []


@pytest.mark.parametrize(
    ("body", "nul"),
    [
        (b'{"owners": ["a\\u0000"]}', True),
        (b'{"owners": ["a\\\\\\u0000"]}', True),  # an escaped backslash, then the escape
        (b'{"owners": ["a\\\\u0000"]}', False),  # a backslash and the text u0000
        (b'{"owners": ["a\x00"]}', True),
        (b'{"owners": ["a\\u0001"]}', False),
    ],
)
def test_nul_characters_are_found(body: bytes, nul: bool) -> None:
    assert has_nul(body) is nul


async def test_a_body_with_a_nul_character_is_422() -> None:
    app = Recorder()
    async with client(app) as api:
        response = await api.put("/", content=b'{"owners": ["a\\u0000"]}')
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body"
    assert app.bodies == []
