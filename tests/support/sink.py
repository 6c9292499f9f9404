"""A fast HTTP sink on 127.0.0.1 that counts deliveries by their ``webhook-id`` (real sockets).

Used where the fake providers' strictness is in the way: load (bench/) and crash tests, where a
route sent just before a replica died is legitimately sent again under the same id.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field


@dataclass
class Sink:
    """``async with Sink() as sink``: ``sink.url``, ``sink.ids`` (Counter), ``sink.arrivals`` (id -> time).

    Each request is answered after ``delay_seconds``; with ``delay_first`` only the first that
    many requests are held, later ones are answered at once.
    """

    delay_seconds: float = 0.0
    delay_first: int | None = None
    ids: Counter[str] = field(default_factory=Counter)
    arrivals: dict[str, float] = field(default_factory=dict)
    bodies_seen: int = 0
    port: int = 0
    _server: asyncio.base_events.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> Sink:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, backlog=1024)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await serve_requests(reader, writer, self._record)

    async def _record(self, request_line: str, headers: dict[str, str], body: bytes) -> None:
        self.bodies_seen += 1
        key = headers.get("webhook-id") or headers.get("idempotency-key") or ""
        self.ids[key] += 1
        self.arrivals.setdefault(key, time.time())
        if self.delay_seconds and (self.delay_first is None or self.bodies_seen <= self.delay_first):
            await asyncio.sleep(self.delay_seconds)


OnRequest = Callable[[str, dict[str, str], bytes], Awaitable[None]]
"""(request line, lower-cased headers, body) -> None, awaited before the 200 goes out."""


async def serve_requests(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, on_request: OnRequest
) -> None:
    """Answer every HTTP/1.1 request of one keep-alive connection with 200, after ``on_request``."""
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            await on_request(lines[0], headers, body)
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: text/plain\r\n\r\nok")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()
