"""Run services in-process against the test servers, with a clock the test controls."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime
from typing import Any

import httpx
import nats
from nats.js.errors import NotFoundError

from cavra_contracts.envelope import Envelope, utc_now
from cavra_contracts.subjects import EVENT_STREAM
from cavra_gateway.app import create_app
from cavra_gateway.settings import GatewaySettings
from cavra_runtime import services
from cavra_runtime.ports import MessageBus
from cavra_runtime.service import Runtime
from cavra_runtime.testing import FakeClock as FakeClock  # re-exported: tests import it from here


@asynccontextmanager
async def running(
    name: str,
    settings: Any,
    migrations: Any,
    bootstrap: Any,
    clock: Callable[[], datetime],
    bus: MessageBus | None = None,
) -> AsyncIterator[Runtime]:
    """A service running in this event loop (its real bootstrap) until the block exits."""
    stop = asyncio.Event()
    async with (
        Runtime.open(name, settings, migrations, bus=bus) as runtime,
        bootstrap(runtime, settings, clock) as wiring,
    ):
        task = asyncio.create_task(runtime.run(wiring, stop))
        try:
            yield runtime
        finally:
            stop.set()
            await task


ADMIN_TOKEN = "cavra-test-bootstrap-admin-token"
"""The bootstrap admin token every test gateway accepts."""

TEST_SETTINGS: dict[str, dict[str, Any]] = {"scheduler": {"scheduler_tick_seconds": 0.05}}
"""Per-service settings the tests start with unless they pass their own (a fast timer)."""


def service_settings(name: str, nats_url: str, database_url: str, **overrides: Any) -> Any:
    """The settings ``running_service`` gives service ``name``: test defaults, then ``overrides``."""
    values = {**TEST_SETTINGS.get(name, {}), **overrides}
    return services.get(name).settings_class()(nats_url=nats_url, database_url=database_url, **values)


def running_service(
    name: str,
    nats_url: str,
    database_url: str,
    *,
    clock: Callable[[], datetime] | None = None,
    bus: MessageBus | None = None,
    **overrides: Any,
) -> AbstractAsyncContextManager[Runtime]:
    """Any message-driven service of the registry, run in-process with its real bootstrap; on the
    test's NATS server, or on ``bus`` (e.g. an ``InMemoryBus``) when given."""
    service = services.get(name)
    bootstrap = service.bootstrap()
    settings = service_settings(name, nats_url, database_url, **overrides)
    return running(name, settings, service.migrations(), bootstrap, clock or utc_now, bus)


@asynccontextmanager
async def gateway_client(
    nats_url: str, database_url: str, *, token: str | None = ADMIN_TOKEN, **overrides: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the gateway app in-process (lifespan included), signed in as the
    bootstrap admin (``ADMIN_TOKEN``) unless ``token`` says otherwise (``None``: no credentials)."""
    overrides.setdefault("bootstrap_admin_token", ADMIN_TOKEN)
    app = create_app(GatewaySettings(nats_url=nats_url, database_url=database_url, **overrides))
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://gateway.test", headers=headers
        ) as client:
            yield client


async def stored_events(nats_url: str, subject: str | None = None) -> list[Envelope]:
    """Every event in CAVRA_EVENTS (optionally on one subject), in stream order."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        try:
            info = await js.stream_info(EVENT_STREAM)
        except NotFoundError:
            return []
        events: list[Envelope] = []
        if not info.state.messages:
            return events
        for seq in range(max(info.state.first_seq, 1), info.state.last_seq + 1):
            try:
                msg = await js.get_msg(EVENT_STREAM, seq)
            except NotFoundError:
                continue
            if subject is None or msg.subject == subject:
                events.append(Envelope.from_json(msg.data or b""))
        return events
    finally:
        await nc.close()


async def answering(api: httpx.AsyncClient, path: str, *, timeout: float = 15.0) -> httpx.Response:
    """The first 200 answer of ``GET path``: a service started with ``running_service`` subscribes to
    its queries once its task runs, and until then the gateway finds no responder (503)."""
    answers: list[httpx.Response] = []

    async def answered() -> bool:
        answers.append(await api.get(path))
        return answers[-1].status_code == 200

    await eventually(answered, timeout=timeout, what=f"an answer to GET {path}")
    return answers[-1]


async def eventually(
    check: Callable[[], Awaitable[bool]], *, timeout: float = 15.0, what: str = "condition"
) -> None:
    """Poll ``check`` until it holds; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
