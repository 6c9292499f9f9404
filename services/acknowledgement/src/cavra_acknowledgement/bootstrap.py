"""The only place that picks the acknowledgement service's real dependencies and wires handlers to them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from cavra_acknowledgement import handlers, subscriptions
from cavra_acknowledgement.audit.wiring import audit_wiring
from cavra_acknowledgement.handlers import Deps
from cavra_acknowledgement.recording import CommandWriter
from cavra_acknowledgement.settings import AcknowledgementSettings
from cavra_contracts.envelope import utc_now
from cavra_runtime.batching import Batcher
from cavra_runtime.dispatch import bind_table
from cavra_runtime.ports import Infrastructure
from cavra_runtime.service import Wiring, bind_queries


@asynccontextmanager
async def bootstrap(
    runtime: Infrastructure, settings: AcknowledgementSettings, clock: Callable[[], datetime] = utc_now
) -> AsyncIterator[Wiring]:
    writer = CommandWriter(runtime.pool, clock)
    audit = audit_wiring(runtime, settings, clock)
    async with Batcher(
        writer.flush,
        max_items=settings.command_batch_size,
        max_delay=settings.command_batch_ms / 1000,
        name="acknowledgement-commands",
    ) as commands:
        deps = Deps(pool=runtime.pool, clock=clock, commands=commands)
        yield Wiring(
            consumers=[
                (
                    subscriptions.planned_notifications(settings.ack_wait_seconds, settings.plan_concurrency),
                    bind_table(handlers.PLANNED_NOTIFICATIONS, deps),
                ),
                (
                    subscriptions.acknowledgement_commands(
                        settings.ack_wait_seconds, settings.command_concurrency
                    ),
                    bind_table(handlers.COMMANDS, deps),
                ),
                *audit.consumers,
            ],
            queries={**bind_queries(handlers.QUERIES, deps), **audit.queries},
            workers=audit.workers,
        )
