"""The lifecycle of one service process: connect, migrate, serve, stop cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import structlog
from pydantic import ValidationError

from cavra_contracts.base import Contract
from cavra_contracts.envelope import Envelope
from cavra_contracts.queries import HealthReplyV1, QueryReplyV1, health_subject
from cavra_runtime.bus import Bus, ConsumerSpec, QueryHandler
from cavra_runtime.db import create_pool, ensure_database
from cavra_runtime.dispatch import Handler
from cavra_runtime.logging import configure_logging
from cavra_runtime.migrate import migrate
from cavra_runtime.outbox import OutboxRelay, backlog
from cavra_runtime.ports import Infrastructure, MessageBus
from cavra_runtime.settings import RuntimeSettings

log = structlog.get_logger()

Worker = Callable[[asyncio.Event], Coroutine[Any, Any, None]]
D = TypeVar("D")


QueryTable = Mapping[type[Contract], Callable[[Any, D], Awaitable[QueryReplyV1]]]
"""One table per service: query contract -> handler of (typed query, deps)."""


def bind_queries(table: QueryTable[D], deps: D) -> dict[str, QueryHandler]:
    """Envelope handlers by subject: each decodes its query contract once, then calls its handler."""

    def bound(contract: type[Contract], handler: Callable[[Any, D], Awaitable[QueryReplyV1]]) -> QueryHandler:
        async def answer(envelope: Envelope) -> QueryReplyV1:
            try:
                query = contract.model_validate(envelope.payload)
            except ValidationError as exc:
                fields = ", ".join(sorted({".".join(map(str, e["loc"])) or "payload" for e in exc.errors()}))
                return QueryReplyV1(ok=False, status_code=400, error=f"invalid {contract.__name__}: {fields}")
            return await handler(query, deps)

        return answer

    return {contract.MESSAGE.subject: bound(contract, handler) for contract, handler in table.items()}


@dataclass(frozen=True)
class Wiring:
    """What a service runs: durable consumers, query handlers and background workers."""

    consumers: Sequence[tuple[ConsumerSpec, Mapping[type[Contract], Handler]]] = ()
    """Each durable consumer with its handler table (contract -> handler, deps bound)."""
    queries: Mapping[str, QueryHandler] = field(default_factory=dict)
    workers: Sequence[Worker] = ()

    def merged(self, *others: Wiring) -> Wiring:
        """This wiring and ``others`` as one service's (a package of a service brings its own);
        ``ValueError`` when two of them answer the same query subject."""
        parts = (self, *others)
        queries: dict[str, QueryHandler] = {}
        for part in parts:
            if twice := queries.keys() & part.queries.keys():
                raise ValueError(f"query subjects wired twice: {', '.join(sorted(twice))}")
            queries.update(part.queries)
        return Wiring(
            consumers=[consumer for part in parts for consumer in part.consumers],
            queries=queries,
            workers=[worker for part in parts for worker in part.workers],
        )


@dataclass
class Runtime:
    """The live dependencies of one service process."""

    name: str
    settings: RuntimeSettings
    bus: MessageBus
    pool: asyncpg.Pool

    @classmethod
    @asynccontextmanager
    async def open(
        cls, name: str, settings: RuntimeSettings, migrations: Path, *, bus: MessageBus | None = None
    ) -> AsyncIterator[Runtime]:
        """Connect to PostgreSQL and apply this service's migrations; connect to NATS and provision
        the streams, or use ``bus`` as given (e.g. the in-memory bus of ``cavra_runtime.testing``)."""
        await ensure_database(settings.database_url)
        conn = await asyncpg.connect(settings.database_url)
        try:
            applied = await migrate(conn, name, migrations)
        finally:
            await conn.close()
        if applied:
            log.info("migrations.applied", migrations=applied)
        pool = await create_pool(
            settings.database_url, schema=name, application=f"cavra-{name}", max_size=settings.db_pool_max
        )
        try:
            if bus is None:
                bus = await Bus.connect(
                    settings.nats_url, name=f"cavra-{name}-{settings.instance_id}", service=name
                )
            await bus.ensure_streams()
            yield cls(name=name, settings=settings, bus=bus, pool=pool)
        finally:
            if bus is not None:
                await bus.close()
            await pool.close()

    async def health(self, _: Envelope) -> QueryReplyV1:
        """Answer the health query: ``down`` when NATS or PostgreSQL is unreachable, ``degraded``
        when the outbox is older than ``outbox_degraded_after_seconds`` or set rows aside today."""
        checks = {"nats": "ok" if self.bus.connected else "disconnected"}
        late = False
        try:
            async with self.pool.acquire() as conn:
                checks["database"] = "ok"
                found = await asyncio.wait_for(backlog(conn), timeout=2.0)
        except Exception as exc:
            checks["database"] = f"error: {type(exc).__name__}"
        else:
            checks["outbox_pending"] = str(found.pending)
            checks["outbox_oldest_seconds"] = f"{found.oldest_seconds:.1f}"
            checks["outbox_set_aside"] = str(found.set_aside)
            late = found.oldest_seconds > self.settings.outbox_degraded_after_seconds or found.set_aside > 0
        if checks["database"] != "ok" or checks["nats"] != "ok":
            status = "down"
        else:
            status = "degraded" if late else "ok"
        reply = HealthReplyV1(
            service=self.name, instance=self.settings.instance_id, status=status, checks=checks
        )
        return QueryReplyV1(ok=True, result=reply.model_dump(mode="json"))

    async def run(self, wiring: Wiring, stop: asyncio.Event) -> None:
        """Serve queries, run consumers, the outbox relay and workers until ``stop`` is set."""
        queue = f"cavra-{self.name}"
        await self.bus.serve(health_subject(self.name), self.health, queue=queue)
        for subject, handler in wiring.queries.items():
            await self.bus.serve(subject, handler, queue=queue)
        relay = OutboxRelay(self.pool, self.bus, schema=self.name)
        tasks = [asyncio.create_task(relay.run(stop), name="outbox-relay")]
        tasks += [
            asyncio.create_task(self.bus.run_consumer(spec, handler, stop), name=f"consumer-{spec.durable}")
            for spec, handler in wiring.consumers
        ]
        tasks += [
            asyncio.create_task(worker(stop), name=f"worker-{i}") for i, worker in enumerate(wiring.workers)
        ]
        log.info(
            "service.started",
            consumers=[s.durable for s, _ in wiring.consumers],
            queries=list(wiring.queries),
        )
        stopper = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([stopper, *tasks], return_when=asyncio.FIRST_COMPLETED)
        stop.set()
        for task in done:
            if task is not stopper and task.exception() is not None:
                log.error(
                    "service.task_crashed", task=task.get_name(), error_class=type(task.exception()).__name__
                )
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout=15)
        log.info("service.stopped")


Bootstrap = Callable[[Infrastructure, Any], AbstractAsyncContextManager[Wiring]]


GC_THRESHOLDS = (50_000, 20, 100)
"""Every message allocates a few dozen short-lived objects (tasks, futures, dicts): with Python's
default (700, 10, 10) the collector ran hundreds of times per burst and took 11-15% of the delivery
process's CPU in bench/bench_delivery.py; with these it runs a few times (<1%)."""


def serve_forever(name: str, settings: RuntimeSettings, migrations: Path, bootstrap: Bootstrap) -> None:
    """A service's whole ``__main__``: logging, connections, migrations, its wiring, run until SIGTERM."""
    gc.set_threshold(*GC_THRESHOLDS)
    gc.freeze()  # what the imports built lives as long as the process: never scan it again

    async def serve(stop: asyncio.Event) -> None:
        configure_logging(name, settings.log_level)
        async with (
            Runtime.open(name, settings, migrations) as runtime,
            bootstrap(runtime, settings) as wiring,
        ):
            await runtime.run(wiring, stop)

    run_until_signalled(serve)


def run_until_signalled(main: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Run ``main(stop)`` on uvloop when available; SIGTERM / SIGINT set ``stop``."""

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await main(stop)

    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it on Linux
        asyncio.run(runner())
    else:
        uvloop.run(runner())
