"""The delivery HTTP transport over real sockets on 127.0.0.1 against small scripted servers.

Each server answers with the raw bytes a test writes, so keep-alive, closing, chunked and
informational answers, oversized bodies and hangs are exactly what the test says.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import trustme

from cavra_delivery.connectors import Notification, RetryPolicy, deliver, parse_connector_config
from cavra_delivery.connectors.transport import (
    ConnectError,
    ConnectionClosed,
    HttpTransport,
    InvalidRequest,
    InvalidURL,
    ProtocolError,
)

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
KEY = {"Idempotency-Key": "plan-1:route-1:hook"}


@dataclass
class Seen:
    """One request as the server read it."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    connection: int
    index_on_connection: int


Handler = Callable[[Seen, asyncio.StreamWriter], Awaitable[bool]]


async def answer_ok(request: Seen, writer: asyncio.StreamWriter) -> bool:
    writer.write(OK)
    return True


@dataclass
class ScriptedServer:
    """``async with ScriptedServer(handler) as server``: the handler writes the answer, returns keep-open."""

    handler: Handler = answer_ok
    ssl_context: ssl.SSLContext | None = None
    requests: list[Seen] = field(default_factory=list)
    connections: int = 0
    open_now: int = 0
    most_open: int = 0
    port: int = 0
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)

    def url(self, path: str = "/hook") -> str:
        scheme = "https" if self.ssl_context else "http"
        host = "localhost" if self.ssl_context else "127.0.0.1"
        return f"{scheme}://{host}:{self.port}{path}"

    async def __aenter__(self) -> ScriptedServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.ssl_context)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def hang(self, seconds: float) -> None:
        """Wait ``seconds``, or until the server stops."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._stopping.set()
        self._server.close()
        for writer in self._writers:
            writer.transport.abort()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.append(writer)
        self.connections += 1
        connection = self.connections
        self.open_now += 1
        self.most_open = max(self.most_open, self.open_now)
        try:
            for index in range(1, 1001):
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                request_line, *lines = head.decode("latin-1").split("\r\n")
                method, target, _ = request_line.split(" ")
                headers = {}
                for line in lines:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                seen = Seen(method, target, headers, body, connection, index)
                self.requests.append(seen)
                keep_open = await self.handler(seen, writer)
                with contextlib.suppress(ConnectionError):
                    await writer.drain()
                if not keep_open:
                    return
        finally:
            self.open_now -= 1
            writer.close()
            self._tasks.discard(task)


@pytest.fixture
async def client() -> AsyncIterator[HttpTransport]:
    async with HttpTransport() as transport:
        yield transport


async def test_sequential_requests_reuse_one_keep_alive_connection(client: HttpTransport) -> None:
    async with ScriptedServer() as server:
        answers = [
            await client.request("POST", server.url(), headers=KEY, body=b'{"n":%d}' % n) for n in range(5)
        ]

    assert [(a.status, a.body) for a in answers] == [(200, b"ok")] * 5
    assert (server.connections, client.connections_opened, client.stale_retries) == (1, 1, 0)
    assert [json.loads(r.body)["n"] for r in server.requests] == [0, 1, 2, 3, 4]
    first = server.requests[0]
    assert (first.method, first.target, first.headers["host"]) == (
        "POST",
        "/hook",
        f"127.0.0.1:{server.port}",
    )
    assert (first.headers["content-length"], first.headers["idempotency-key"]) == ("7", "plan-1:route-1:hook")


async def test_connection_close_answer_is_honoured_and_the_next_request_opens_a_new_one(
    client: HttpTransport,
) -> None:
    async def close_after_answer(request: Seen, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
        return True  # the server keeps its side open: the client must not reuse it anyway

    async with ScriptedServer(close_after_answer) as server:
        for _ in range(3):
            assert (await client.request("GET", server.url())).body == b"ok"

    assert server.connections == 3
    assert client.stale_retries == 0


async def test_http_1_0_answer_without_keep_alive_is_not_reused(client: HttpTransport) -> None:
    async def http_1_0(request: Seen, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
        return True

    async with ScriptedServer(http_1_0) as server:
        for _ in range(2):
            await client.request("GET", server.url())

    assert server.connections == 2


async def test_an_idle_connection_the_server_closed_is_dropped_without_a_resend(
    client: HttpTransport,
) -> None:
    async def answer_then_close(request: Seen, writer: asyncio.StreamWriter) -> bool:
        writer.write(OK)
        return False  # closes without saying Connection: close, like an idle timeout

    async with ScriptedServer(answer_then_close) as server:
        await client.request("POST", server.url(), headers=KEY, body=b"1")
        await asyncio.sleep(0.05)  # the FIN arrives while the connection is idle
        await client.request("POST", server.url(), headers=KEY, body=b"2")

    assert [r.body for r in server.requests] == [b"1", b"2"]
    assert (server.connections, client.stale_retries) == (2, 0)


async def test_a_reused_connection_closed_before_answering_is_retried_once_on_a_fresh_one(
    client: HttpTransport,
) -> None:
    async def close_on_the_second_request(request: Seen, writer: asyncio.StreamWriter) -> bool:
        if request.index_on_connection == 2:
            return False  # the keep-alive race: the server closes instead of answering
        writer.write(OK)
        return True

    async with ScriptedServer(close_on_the_second_request) as server:
        await client.request("POST", server.url(), headers=KEY, body=b"1")
        again = await client.request("POST", server.url(), headers=KEY, body=b"2")

    assert again.status == 200
    assert client.stale_retries == 1
    # The server did read the lost copy: a resend is only safe because of the idempotency key.
    assert [(r.body, r.connection) for r in server.requests] == [(b"1", 1), (b"2", 1), (b"2", 2)]
    assert {r.headers["idempotency-key"] for r in server.requests} == {"plan-1:route-1:hook"}


async def test_a_post_without_idempotency_key_is_never_resent(client: HttpTransport) -> None:
    async def close_on_the_second_request(request: Seen, writer: asyncio.StreamWriter) -> bool:
        if request.index_on_connection == 2:
            return False
        writer.write(OK)
        return True

    async with ScriptedServer(close_on_the_second_request) as server:
        await client.request("POST", server.url(), body=b"1")
        with pytest.raises(ConnectionClosed):
            await client.request("POST", server.url(), body=b"2")

    assert [r.body for r in server.requests] == [b"1", b"2"]
    assert client.stale_retries == 0


async def test_a_fresh_connection_closed_before_answering_is_not_retried(client: HttpTransport) -> None:
    async def close_at_once(request: Seen, writer: asyncio.StreamWriter) -> bool:
        return False

    async with ScriptedServer(close_at_once) as server:
        with pytest.raises(ConnectionClosed):
            await client.request("POST", server.url(), headers=KEY, body=b"1")

    assert len(server.requests) == 1 and client.stale_retries == 0


async def test_a_connection_closed_mid_body_fails_and_is_not_resent(client: HttpTransport) -> None:
    async def half_a_body(request: Seen, writer: asyncio.StreamWriter) -> bool:
        if request.index_on_connection == 2:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf")
            return False
        writer.write(OK)
        return True

    async with ScriptedServer(half_a_body) as server:
        await client.request("POST", server.url(), headers=KEY, body=b"1")
        with pytest.raises(ConnectionClosed):
            await client.request("POST", server.url(), headers=KEY, body=b"2")

    assert len(server.requests) == 2 and client.stale_retries == 0


async def test_chunked_answers_are_joined_and_the_connection_reused(client: HttpTransport) -> None:
    async def chunked(request: Seen, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n")
        for piece in (b'{"key":', b'"OPS-1"', b"}"):
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        return True

    async with ScriptedServer(chunked) as server:
        answers = [await client.request("POST", server.url(), headers=KEY, body=b"{}") for _ in range(2)]

    assert [(a.status, json.loads(a.body), a.truncated) for a in answers] == [
        (201, {"key": "OPS-1"}, False)
    ] * 2
    assert server.connections == 1


async def test_informational_answers_are_skipped(client: HttpTransport) -> None:
    async def continue_then_ok(request: Seen, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n")
        await writer.drain()
        writer.write(b"HTTP/1.1 202 Accepted\r\nContent-Length: 4\r\nX-Final: yes\r\n\r\ndone")
        return True

    async with ScriptedServer(continue_then_ok) as server:
        answer = await client.request("POST", server.url(), headers=KEY, body=b"{}")
        again = await client.request("POST", server.url(), headers=KEY, body=b"{}")

    assert (answer.status, answer.body, answer.headers.get("x-final")) == (202, b"done", "yes")
    assert "link" not in answer.headers
    assert again.status == 202 and server.connections == 1


async def test_a_body_ended_by_closing_the_connection_is_read_whole(client: HttpTransport) -> None:
    async def until_close(request: Seen, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it")
        return False

    async with ScriptedServer(until_close) as server:
        answer = await client.request("GET", server.url())

    assert (answer.status, answer.body, answer.truncated) == (200, b"all of it", False)


async def test_an_oversized_body_is_capped_and_the_connection_closed_without_reading_on() -> None:
    written = 0

    async def endless(request: Seen, writer: asyncio.StreamWriter) -> bool:
        nonlocal written
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        piece = b"x" * 16384
        try:
            for _ in range(10_000):  # ~160 MB unless the client stops reading first
                writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                await writer.drain()
                written += len(piece)
        except ConnectionError:
            return False
        return False

    async with HttpTransport(max_body_bytes=1000) as client, ScriptedServer(endless) as server:
        started = time.monotonic()
        answer = await client.request("POST", server.url(), headers=KEY, body=b"{}")
        elapsed = time.monotonic() - started
        assert (answer.status, len(answer.body), answer.truncated) == (200, 1000, True)
        assert client.idle_connections(server.url()) == 0
        assert (await client.request("POST", server.url(), headers=KEY, body=b"{}")).truncated
        for _ in range(100):  # the server notices the reset within a few writes
            if server.open_now == 0:
                break
            await asyncio.sleep(0.01)

    assert elapsed < 2.0
    assert server.connections == 2
    assert written < 50 * 1024 * 1024


async def test_a_body_exactly_at_the_cap_is_whole_and_the_connection_kept() -> None:
    async def exactly(request: Seen, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"y" * 1000)
        return True

    async with HttpTransport(max_body_bytes=1000) as client, ScriptedServer(exactly) as server:
        answers = [await client.request("GET", server.url()) for _ in range(2)]

    assert [(len(a.body), a.truncated) for a in answers] == [(1000, False)] * 2
    assert server.connections == 1


async def test_an_oversized_response_head_is_a_protocol_error() -> None:
    async def huge_head(request: Seen, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\n" + b"X-Pad: " + b"p" * 5000 + b"\r\n" * 2)
        return True

    async with HttpTransport(max_header_bytes=1024) as client, ScriptedServer(huge_head) as server:
        with pytest.raises(ProtocolError):
            await client.request("GET", server.url())


async def test_garbage_instead_of_http_is_a_protocol_error(client: HttpTransport) -> None:
    async def garbage(request: Seen, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")
        return True

    async with ScriptedServer(garbage) as server:
        with pytest.raises(ProtocolError):
            await client.request("GET", server.url())


async def test_a_hanging_server_times_out_and_its_connection_is_never_reused(client: HttpTransport) -> None:
    async def hang_once(request: Seen, writer: asyncio.StreamWriter) -> bool:
        if request.body == b"hang":
            await server.hang(5)
        writer.write(OK)
        return True

    server = ScriptedServer(hang_once)
    async with server:
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            await client.request("POST", server.url(), headers=KEY, body=b"hang", timeout=0.2)
        elapsed = time.monotonic() - started
        after = await client.request("POST", server.url(), headers=KEY, body=b"next", timeout=1.0)

    assert 0.15 <= elapsed < 1.0
    assert after.body == b"ok"
    assert [r.connection for r in server.requests] == [1, 2]


async def test_retry_after_and_other_headers_are_exposed_lower_case_and_joined(client: HttpTransport) -> None:
    async def busy(request: Seen, writer: asyncio.StreamWriter) -> bool:
        writer.write(
            b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 7\r\nVary: a\r\nVary: b\r\n"
            b"Content-Length: 4\r\n\r\nbusy"
        )
        return True

    async with ScriptedServer(busy) as server:
        answer = await client.request("POST", server.url(), headers=KEY, body=b"{}")

    assert (answer.status, answer.headers["retry-after"], answer.headers["vary"]) == (503, "7", "a, b")
    assert server.connections == 1 and client.idle_connections(server.url()) == 1


async def test_deliver_honours_retry_after_from_the_transport(client: HttpTransport) -> None:
    async def busy_then_ok(request: Seen, writer: asyncio.StreamWriter) -> bool:
        if len(busy_server.requests) == 1:
            writer.write(b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3\r\nContent-Length: 0\r\n\r\n")
        else:
            writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
        return True

    delays: list[float] = []

    async def sleep(seconds: float) -> None:
        delays.append(seconds)

    async with ScriptedServer(busy_then_ok) as busy_server:
        outcome = await deliver(
            webhook(busy_server.url()),
            notification(),
            client=client,
            policy=RetryPolicy(max_attempts=2, timeout_seconds=1.0, max_delay=10.0),
            idempotency_key="plan-1:route-1:hook",
            sleep=sleep,
        )

    assert outcome.outcome == "delivered"
    assert [(a.status_code, a.retry_after_seconds) for a in outcome.attempts] == [(429, 3.0), (204, None)]
    assert delays == [3.0] and busy_server.connections == 1


async def test_the_pool_never_opens_more_than_its_limit_and_queues_the_rest() -> None:
    async def slow(request: Seen, writer: asyncio.StreamWriter) -> bool:
        await server.hang(0.05)
        writer.write(OK)
        return True

    server = ScriptedServer(slow)
    async with HttpTransport(max_connections_per_origin=2) as client, server:
        answers = await asyncio.gather(
            *(client.request("POST", server.url(), headers=KEY, body=b"%d" % n, timeout=5) for n in range(8))
        )
        idle = client.idle_connections(server.url())

    assert [a.status for a in answers] == [200] * 8
    assert (server.most_open, server.connections, client.connections_opened, idle) == (2, 2, 2, 2)


async def test_a_refused_connection_is_a_connect_error(client: HttpTransport) -> None:
    async with ScriptedServer() as server:
        url = server.url()
    with pytest.raises(ConnectError):
        await client.request("GET", url)


@pytest.mark.parametrize(
    "url", ["ftp://127.0.0.1/x", "/relative/path", "http:///no-host", "http://127.0.0.1/a b", "http://[::1"]
)
async def test_urls_that_cannot_be_sent_are_invalid(client: HttpTransport, url: str) -> None:
    with pytest.raises(InvalidURL):
        await client.request("GET", url)


@pytest.mark.parametrize(
    "headers",
    [{"X-Evil": "a\r\nX-Injected: 1"}, {"X-Evil\r\nX": "a"}, {"X-Name": "caf\u00e9 \u2615"}],
)
async def test_headers_that_cannot_be_sent_are_refused_before_connecting(
    client: HttpTransport, headers: dict[str, str]
) -> None:
    async with ScriptedServer() as server:
        with pytest.raises(InvalidRequest):
            await client.request("POST", server.url(), headers=headers, body=b"{}")

    assert server.connections == 0


async def test_userinfo_becomes_basic_auth_and_computed_headers_win(client: HttpTransport) -> None:
    async with ScriptedServer() as server:
        url = f"http://ops%40example.com:s3cret@127.0.0.1:{server.port}/api?x=1#frag"
        await client.request("POST", url, headers={"Host": "evil", "Content-Length": "999"}, body=b"{}")

    seen = server.requests[0]
    assert seen.target == "/api?x=1"
    assert seen.headers["host"] == f"127.0.0.1:{server.port}"
    assert seen.headers["content-length"] == "2"
    assert seen.headers["authorization"] == "Basic b3BzQGV4YW1wbGUuY29tOnMzY3JldA=="


@pytest.fixture(scope="module")
def certificate_authority() -> trustme.CA:
    return trustme.CA()


async def test_https_with_a_trusted_certificate_is_verified_and_reused(
    certificate_authority: trustme.CA,
) -> None:
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate_authority.issue_cert("localhost").configure_cert(server_context)
    client_context = ssl.create_default_context()
    certificate_authority.configure_trust(client_context)

    async with ScriptedServer(ssl_context=server_context) as server:
        async with HttpTransport(ssl_context=client_context) as client:
            answers = [await client.request("POST", server.url(), headers=KEY, body=b"{}") for _ in range(3)]
        async with HttpTransport() as untrusting:  # the system trust store does not know this CA
            with pytest.raises(ConnectError):
                await untrusting.request("POST", server.url(), headers=KEY, body=b"{}")

    assert [a.body for a in answers] == [b"ok"] * 3
    assert server.requests[0].headers["host"] == f"localhost:{server.port}"
    assert len({r.connection for r in server.requests}) == 1


def webhook(url: str) -> Any:
    return parse_connector_config({"connectors": {"hook": {"type": "webhook", "url": url}}}, {}).connectors[
        "hook"
    ]


def notification() -> Notification:
    return Notification(
        notification_id="gordn-0123456789abcdef",
        kind="rollback_drill_notification",
        title="Rollback drill overdue: payments-api",
        text="The rollback drill for payments-api is overdue.",
        severity="critical",
        facts=(("Owner", "release-governance"),),
        dedup_key="payments-api|needs_attention|2026-10-30|release-governance:webhook",
        route_id="gordroute-0123456789abcdef",
        owner="release-governance",
        event={"specversion": "1.0", "id": "evt-1", "type": "t", "source": "s"},
        links=(),
    )
