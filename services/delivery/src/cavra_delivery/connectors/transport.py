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
One connection's side of the exchange (request bytes, parsing the answer) is in ``http1.py``.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import time
from collections.abc import Callable, Mapping
from types import TracebackType

from cavra_delivery.connectors.http1 import (
    ConnectError,
    Connection,
    ConnectionClosed,
    InvalidRequest,
    InvalidURL,
    Origin,
    ProtocolError,
    Response,
    Stale,
    TransportError,
    parse_target,
    request_bytes,
)

__all__ = [
    "ConnectError",
    "ConnectionClosed",
    "HttpTransport",
    "InvalidRequest",
    "InvalidURL",
    "ProtocolError",
    "Response",
    "TransportError",
]

DEFAULT_MAX_CONNECTIONS_PER_ORIGIN = 64
DEFAULT_MAX_BODY_BYTES = 64 * 1024
DEFAULT_MAX_HEADER_BYTES = 64 * 1024
DEFAULT_KEEPALIVE_EXPIRY = 5.0
_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})


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
        pool = self._pools.get(parse_target(url).origin)
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
        target = parse_target(url)
        method = method.upper()
        if method == "HEAD":
            raise InvalidRequest("HEAD is not supported")
        data, keyed = request_bytes(method, target, headers or {}, body)
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
                except Stale:
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

    def _idle_connection(self, pool: _Pool) -> Connection | None:
        oldest_usable = self._clock() - self.keepalive_expiry
        while pool.idle:
            connection = pool.idle.pop()
            if connection.usable and connection.idle_since >= oldest_usable:
                return connection
            connection.close()
        return None

    async def _connect(self, origin: Origin) -> Connection:
        scheme, host, port = origin
        context: ssl.SSLContext | None = None
        if scheme == "https":
            context = self._ssl_context or _default_ssl_context()
        loop = asyncio.get_running_loop()
        try:
            _, connection = await loop.create_connection(
                lambda: Connection(self.max_body_bytes, self.max_header_bytes),
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
        self.idle: list[Connection] = []


@functools.cache
def _default_ssl_context() -> ssl.SSLContext:
    """The system's trust store, certificate and host name checks on (created once, on first https)."""
    return ssl.create_default_context()
