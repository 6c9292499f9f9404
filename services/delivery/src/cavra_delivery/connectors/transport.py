"""A small HTTP/1.1 client for provider delivery: asyncio protocols, httptools parsing, keep-alive pools.

One request is one whole exchange, and the answer comes back complete (status, lower-case headers, body).
The body is read up to ``max_body_bytes`` and no further: past it, the response is returned with
``truncated=True`` and the connection is closed instead of reading on. Response heads are capped too.

Connections are pooled per (scheme, host, port): at most ``max_connections_per_origin`` open (in use or
idle); a request that finds every one busy waits for a free one (the caller's deadline bounds the wait).
Idle connections are reused newest first and dropped after ``keepalive_expiry`` seconds, when the server
has closed them, or when the answer said ``Connection: close`` / was HTTP/1.0 without keep-alive.

Reusing an idle connection races with the server closing it. When a *reused* connection fails before a
single response byte has arrived, the request is sent once more on a fresh connection, but only if it is
replayable: an idempotent method, or a request carrying ``Idempotency-Key`` (the rule of Go's net/http
transport). Every provider request here carries that key and providers de-duplicate on it (webhook-id,
Jira label search, ServiceNow correlation id), so a request the server had in fact received before
closing is at worst seen twice under one key. A fresh connection is never retried: that failure is the
caller's to count as an attempt.

Not supported, on purpose: HEAD (the parser would wait for a body), request pipelining, HTTP/2, redirects
(a 3xx is an answer like any other), proxies, and content decoding (no ``Accept-Encoding`` is sent).
Request bodies are bytes written at once, so a request's memory is bounded by its body.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import cast
from urllib.parse import unquote, urlsplit

import httptools

DEFAULT_MAX_CONNECTIONS_PER_ORIGIN = 64
DEFAULT_MAX_BODY_BYTES = 64 * 1024
DEFAULT_MAX_HEADER_BYTES = 64 * 1024
DEFAULT_KEEPALIVE_EXPIRY = 5.0
MAX_INFORMATIONAL_RESPONSES = 8
_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
_COMPUTED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})
_DEFAULT_PORTS = {"http": 80, "https": 443}

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


class _Stale(ConnectionClosed):
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
class _Target:
    origin: Origin
    request_target: str
    host_header: str
    authorization: str | None


class HttpTransport:
    """``async with HttpTransport() as client: response = await client.request("POST", url, ...)``."""

    def __init__(
        self,
        *,
        max_connections_per_origin: int = DEFAULT_MAX_CONNECTIONS_PER_ORIGIN,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
        keepalive_expiry: float = DEFAULT_KEEPALIVE_EXPIRY,
        ssl_context: ssl.SSLContext | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_connections_per_origin < 1 or max_body_bytes < 0 or max_header_bytes < 1:
            raise ValueError("limits must be positive")
        self.max_connections_per_origin = max_connections_per_origin
        self.max_body_bytes = max_body_bytes
        self.max_header_bytes = max_header_bytes
        self.keepalive_expiry = keepalive_expiry
        self._ssl_context = ssl_context
        self._clock = clock
        self._pools: dict[Origin, _Pool] = {}
        self._closed = False
        self.connections_opened = 0
        """Connections opened so far (a reused connection is not counted again)."""
        self.stale_retries = 0
        """Requests sent again on a fresh connection after a reused one turned out closed."""

    async def __aenter__(self) -> HttpTransport:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every idle connection; connections in use close when their request ends."""
        self._closed = True
        for pool in self._pools.values():
            while pool.idle:
                pool.idle.pop().close()

    def idle_connections(self, url: str) -> int:
        """How many idle connections the pool of ``url``'s origin holds now."""
        pool = self._pools.get(_target(url).origin)
        return len(pool.idle) if pool else 0

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        timeout: float | None = None,
    ) -> Response:
        """Send one request and return the whole answer (any status: a 5xx is an answer, not an error).

        ``Host`` and ``Content-Length`` are computed (given ones are ignored). ``timeout`` bounds the
        whole request, waiting for a free connection included; without it the caller's deadline does.
        Raises :class:`TransportError` subclasses, or ``TimeoutError``.
        """
        if self._closed:
            raise RuntimeError("the transport is closed")
        target = _target(url)
        method = method.upper()
        if method == "HEAD":
            raise InvalidRequest("HEAD is not supported")
        data, keyed = _request_bytes(method, target, headers or {}, body)
        replayable = keyed or method in _IDEMPOTENT_METHODS
        if timeout is None:
            return await self._send(target.origin, data, replayable)
        async with asyncio.timeout(timeout):
            return await self._send(target.origin, data, replayable)

    async def _send(self, origin: Origin, data: bytes, replayable: bool) -> Response:
        pool = self._pools.get(origin)
        if pool is None:
            pool = self._pools[origin] = _Pool(self.max_connections_per_origin)
        async with pool.slots:
            connection = self._idle_connection(pool)
            reused = connection is not None
            for _ in range(2):
                if connection is None:
                    connection = await self._connect(origin)
                try:
                    response, keep_alive = await connection.exchange(data)
                except _Stale:
                    connection.close()
                    if not (reused and replayable):
                        raise
                    self.stale_retries += 1
                    connection, reused = None, False
                    continue
                except BaseException:  # cancelled or failed mid-answer: the connection state is unknown
                    connection.close()
                    raise
                if keep_alive and not self._closed:
                    connection.idle_since = self._clock()
                    pool.idle.append(connection)
                else:
                    connection.close()
                return response
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _idle_connection(self, pool: _Pool) -> _Connection | None:
        oldest_usable = self._clock() - self.keepalive_expiry
        while pool.idle:
            connection = pool.idle.pop()
            if connection.usable and connection.idle_since >= oldest_usable:
                return connection
            connection.close()
        return None

    async def _connect(self, origin: Origin) -> _Connection:
        scheme, host, port = origin
        context: ssl.SSLContext | None = None
        if scheme == "https":
            context = self._ssl_context or _default_ssl_context()
        loop = asyncio.get_running_loop()
        try:
            _, connection = await loop.create_connection(
                lambda: _Connection(self.max_body_bytes, self.max_header_bytes),
                host,
                port,
                ssl=context,
                server_hostname=host if context else None,
            )
        except (OSError, ssl.SSLError) as exc:
            raise ConnectError(type(exc).__name__) from exc
        self.connections_opened += 1
        return connection


class _Pool:
    __slots__ = ("slots", "idle")

    def __init__(self, limit: int) -> None:
        self.slots = asyncio.Semaphore(limit)
        self.idle: list[_Connection] = []


class _Connection(asyncio.Protocol):
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
            raise _Stale("connection closed while idle")
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
            waiter.set_exception(_Stale("closed before any response byte"))
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
def _target(url: str) -> _Target:
    """Origin, request target and Host header of an absolute http(s) URL (cached: URLs repeat)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError as exc:
        raise InvalidURL("unparseable URL") from exc
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not host:
        raise InvalidURL("not an absolute http(s) URL")
    path = parts.path or "/"
    request_target = f"{path}?{parts.query}" if parts.query else path
    if any(c in request_target for c in " \r\n\t") or not request_target.isprintable():
        raise InvalidURL("URL path holds spaces or control characters")
    name = f"[{host}]" if ":" in host else host
    host_header = name if port in (None, _DEFAULT_PORTS[scheme]) else f"{name}:{port}"
    authorization = None
    if parts.username is not None:  # as browsers and aiohttp do: userinfo becomes Basic auth
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        authorization = "Basic " + base64.b64encode(pair.encode()).decode()
    return _Target((scheme, host, port or _DEFAULT_PORTS[scheme]), request_target, host_header, authorization)


def _request_bytes(
    method: str, target: _Target, headers: Mapping[str, str], body: bytes | None
) -> tuple[bytes, bool]:
    """The request's bytes, and whether it carries an ``Idempotency-Key``."""
    lines = [f"{method} {target.request_target} HTTP/1.1\r\nHost: {target.host_header}\r\n"]
    has_authorization = keyed = False
    for name, value in headers.items():
        lowered = name.lower()
        if lowered in _COMPUTED_HEADERS:
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


@functools.cache
def _default_ssl_context() -> ssl.SSLContext:
    """The system's trust store, certificate and host name checks on (created once, on first https)."""
    return ssl.create_default_context()
