"""One HTTP/1.1 exchange on one connection: the request's bytes and the answer parsed by httptools.

No pooling here (see :mod:`cavra_delivery.connectors.transport`). A :class:`Connection` carries one
request at a time; its answer comes back whole, the body cut at ``max_body_bytes`` and the head
bounded by ``max_header_bytes``; 1xx answers are skipped, chunked and close-delimited bodies joined.
"""

from __future__ import annotations

import asyncio
import base64
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast
from urllib.parse import unquote, urlsplit

import httptools

MAX_INFORMATIONAL_RESPONSES = 8
COMPUTED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})
DEFAULT_PORTS = {"http": 80, "https": 443}

Origin = tuple[str, str, int]


class TransportError(Exception):
    """Base of every failure to get an answer. Messages never hold a URL, header or body."""


class InvalidURL(TransportError):
    """The URL is not an absolute http(s) URL this client can send to: retrying will not help."""


class InvalidRequest(TransportError):
    """A header name or value that cannot be sent (CR/LF, non-Latin-1): retrying will not help."""


class ConnectError(TransportError):
    """No connection could be opened (refused, DNS, TLS handshake or certificate)."""


class ConnectionClosed(TransportError):
    """The connection closed (or was reset) before the response was complete."""


class ProtocolError(TransportError):
    """The answer was not valid HTTP/1.x, or its head was larger than allowed."""


class Stale(ConnectionClosed):
    """Closed before one byte of a response arrived (maybe before the request was even sent)."""


@dataclass(frozen=True, slots=True)
class Response:
    """A complete answer. ``headers`` has lower-case names; repeated headers are joined with ``", "``."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    truncated: bool = False
    """The body was longer than the limit: ``body`` holds its first ``max_body_bytes``."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where a URL goes: origin, request target, Host header, Basic auth from userinfo."""

    origin: Origin
    request_target: str
    host_header: str
    authorization: str | None


class Connection(asyncio.Protocol):
    """One TCP (or TLS) connection: one request at a time, the answer parsed as it arrives."""

    def __init__(self, max_body_bytes: int, max_header_bytes: int) -> None:
        self._max_body = max_body_bytes
        self._max_head = max_header_bytes
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future[tuple[Response, bool]] | None = None
        self.usable = True
        self.idle_since = 0.0
        self._reset()

    def _reset(self) -> None:
        self._received = False
        self._unparsed_head_bytes = 0
        self._head_bytes = 0
        self._informational = 0
        self._begin()

    def _begin(self) -> None:
        self._status = 0
        self._headers: dict[str, str] = {}
        self._head_done = False
        self._eof_body = False
        self._body: list[bytes] = []
        self._body_size = 0
        self._truncated = False

    async def exchange(self, data: bytes) -> tuple[Response, bool]:
        """Write one request; wait for its answer and whether the connection may be reused."""
        transport = self._transport
        if transport is None or not self.usable or transport.is_closing():
            raise Stale("connection closed while idle")
        self._reset()
        waiter: asyncio.Future[tuple[Response, bool]] = asyncio.get_running_loop().create_future()
        self._waiter = waiter
        transport.write(data)
        return await waiter

    def close(self) -> None:
        self.usable = False
        if self._transport is not None:
            self._transport.close()

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Not an isinstance check: uvloop's transports do not subclass asyncio.Transport.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self._waiter is None or self._waiter.done():  # bytes nobody asked for: never reuse this one
            self.close()
            return
        self._received = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            self._fail(ProtocolError("invalid HTTP response"))
            return
        if not self._head_done:  # a head that never ends (httptools buffers it) is bounded here
            self._unparsed_head_bytes += len(data)
            if self._unparsed_head_bytes > self._max_head:
                self._fail(ProtocolError("response head too large"))

    def eof_received(self) -> bool | None:
        return None  # close our side too; connection_lost settles a pending answer

    def connection_lost(self, exc: Exception | None) -> None:
        self.usable = False
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        if self._head_done and self._eof_body:
            self._finish(keep_alive=False)  # a body delimited by the end of the connection
        elif not self._received:
            waiter.set_exception(Stale("closed before any response byte"))
        else:
            waiter.set_exception(ConnectionClosed("closed before the response was complete"))

    # httptools callbacks

    def on_message_begin(self) -> None:
        self._begin()

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_bytes += len(name) + len(value) + 4
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        previous = self._headers.get(key)
        self._headers[key] = text if previous is None else f"{previous}, {text}"

    def on_headers_complete(self) -> None:
        self._status = self._parser.get_status_code()
        self._head_done = True
        if self._head_bytes > self._max_head:  # a whole head that arrived in one read
            self._fail(ProtocolError("response head too large"))
            return
        self._eof_body = (
            self._status >= 200
            and self._status not in (204, 304)
            and "content-length" not in self._headers
            and "transfer-encoding" not in self._headers
        )

    def on_body(self, body: bytes) -> None:
        if self._truncated:
            return
        room = self._max_body - self._body_size
        if len(body) <= room:
            self._body.append(body)
            self._body_size += len(body)
            return
        self._body.append(body[:room])
        self._body_size += room
        self._truncated = True
        self._finish(keep_alive=False)  # stop here: the rest is never read
        self.close()

    def on_message_complete(self) -> None:
        if self._status < 200:  # 1xx: the final answer follows on the same connection
            self._informational += 1
            self._head_done = False
            if self._informational > MAX_INFORMATIONAL_RESPONSES:
                self._fail(ProtocolError("too many informational responses"))
            return
        if not self._truncated:
            self._finish(keep_alive=self._parser.should_keep_alive())

    def _finish(self, *, keep_alive: bool) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        body = b"".join(self._body) if len(self._body) != 1 else self._body[0]
        waiter.set_result((Response(self._status, self._headers, body, self._truncated), keep_alive))

    def _fail(self, error: TransportError) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)
        self.close()


@functools.lru_cache(maxsize=1024)
def parse_target(url: str) -> Target:
    """Origin, request target and Host header of an absolute http(s) URL (cached: URLs repeat)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError as exc:
        raise InvalidURL("unparseable URL") from exc
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not host:
        raise InvalidURL("not an absolute http(s) URL")
    path = parts.path or "/"
    request_target = f"{path}?{parts.query}" if parts.query else path
    if any(c in request_target for c in " \r\n\t") or not request_target.isprintable():
        raise InvalidURL("URL path holds spaces or control characters")
    name = f"[{host}]" if ":" in host else host
    host_header = name if port in (None, DEFAULT_PORTS[scheme]) else f"{name}:{port}"
    authorization = None
    if parts.username is not None:  # as browsers and aiohttp do: userinfo becomes Basic auth
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        authorization = "Basic " + base64.b64encode(pair.encode()).decode()
    return Target((scheme, host, port or DEFAULT_PORTS[scheme]), request_target, host_header, authorization)


def request_bytes(
    method: str, target: Target, headers: Mapping[str, str], body: bytes | None
) -> tuple[bytes, bool]:
    """The request's bytes, and whether it carries an ``Idempotency-Key``."""
    lines = [f"{method} {target.request_target} HTTP/1.1\r\nHost: {target.host_header}\r\n"]
    has_authorization = keyed = False
    for name, value in headers.items():
        lowered = name.lower()
        if lowered in COMPUTED_HEADERS:
            continue
        if "\r" in value or "\n" in value or "\r" in name or "\n" in name or ":" in name:
            raise InvalidRequest("a header name or value holds CR, LF or a colon")
        has_authorization = has_authorization or lowered == "authorization"
        keyed = keyed or lowered == "idempotency-key"
        lines.append(f"{name}: {value}\r\n")
    if target.authorization and not has_authorization:
        lines.append(f"Authorization: {target.authorization}\r\n")
    if body is not None or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body) if body else 0}\r\n")
    lines.append("\r\n")
    try:
        head = "".join(lines).encode("latin-1")
    except UnicodeEncodeError as exc:
        raise InvalidRequest("a header value is not Latin-1") from exc
    return (head + body if body else head), keyed
