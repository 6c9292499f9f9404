"""Rebuild the read models from ``CAVRA_EVENTS``: an empty schema, a fresh consumer, every event replayed.

The read models are a pure function of the events, so dropping the ``reporting`` schema and replaying
the stream from sequence 1 gives the same answers byte for byte (``cavra reporting rebuild``). The
running service must be stopped first: a replica still applying events would race the replay.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg
import structlog

from cavra_contracts.envelope import make_envelope
from cavra_contracts.queries import HealthQueryV1, health_subject
from cavra_contracts.subjects import EVENT_STREAM
from cavra_reporting import MIGRATIONS, SERVICE
from cavra_reporting.bootstrap import bootstrap
from cavra_reporting.handlers import EVENTS_CONSUMER
from cavra_reporting.settings import ReportingSettings
from cavra_runtime.bus import Bus
from cavra_runtime.migrate import migrate
from cavra_runtime.service import Runtime

log = structlog.get_logger()


class StillRunning(RuntimeError):
    """A reporting replica answered its health query: stop it before rebuilding."""


@dataclass(frozen=True)
class Rebuilt:
    """What a rebuild replayed."""

    events: int
    seconds: float


async def _running(bus: Bus) -> bool:
    envelope = make_envelope(HealthQueryV1(), producer="cli").model_copy(
        update={"type": health_subject(SERVICE)}
    )
    try:
        await bus.request(envelope, timeout=1.0)
    except TimeoutError:  # nobody answered: no replica runs
        return False
    return True


async def reset(database_url: str, bus: Bus) -> None:
    """Drop and re-create the ``reporting`` schema and forget the consumer's position."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{SERVICE}" CASCADE')
        await migrate(conn, SERVICE, MIGRATIONS)
    finally:
        await conn.close()
    await bus.delete_consumer(EVENT_STREAM, EVENTS_CONSUMER)


async def rebuild(
    settings: ReportingSettings,
    *,
    timeout: float = 3600.0,
    progress: Callable[[int, int], None] | None = None,
) -> Rebuilt:
    """Reset the read models and replay every stored event in this process until none is left.

    ``progress(applied, total)`` is called about every second. Raises ``StillRunning`` when a reporting
    replica answers, ``TimeoutError`` when the replay has not finished within ``timeout`` seconds.
    """
    started = time.monotonic()
    bus = await Bus.connect(settings.nats_url, name="cavra-reporting-rebuild", service=SERVICE)
    try:
        if await _running(bus):
            raise StillRunning("a reporting service is running: stop every replica, then rebuild")
        await bus.ensure_streams()
        total = int((await bus.js.stream_info(EVENT_STREAM)).state.messages or 0)
        await reset(settings.database_url, bus)
        log.info("reporting.rebuild_started", events=total)
        async with (
            Runtime.open(SERVICE, settings, MIGRATIONS) as runtime,
            bootstrap(runtime, settings) as wiring,
        ):
            stop = asyncio.Event()
            task = asyncio.create_task(runtime.run(wiring, stop))
            try:
                await _caught_up(bus, total, started + timeout, progress)
            finally:
                stop.set()
                await task
    finally:
        await bus.close()
    seconds = time.monotonic() - started
    log.info("reporting.rebuilt", events=total, seconds=round(seconds, 1))
    return Rebuilt(events=total, seconds=seconds)


async def _caught_up(
    bus: Bus, total: int, deadline: float, progress: Callable[[int, int], None] | None
) -> None:
    reported = 0.0
    while True:
        backlog = await bus.consumer_backlog(EVENT_STREAM, EVENTS_CONSUMER)
        if backlog == 0:
            if progress:
                progress(total, total)
            return
        if progress and time.monotonic() - reported >= 1.0:
            progress(total - (total if backlog is None else min(backlog, total)), total)
            reported = time.monotonic()
        if time.monotonic() > deadline:
            raise TimeoutError(f"replay not finished: {backlog} events left")
        await asyncio.sleep(0.1)
