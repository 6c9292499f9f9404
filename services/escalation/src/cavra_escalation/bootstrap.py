"""The only place that picks the escalation service's real dependencies and wires handlers to them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from cavra_contracts.envelope import utc_now
from cavra_escalation import handlers, subscriptions
from cavra_escalation.handlers import Deps
from cavra_escalation.settings import EscalationSettings
from cavra_escalation.timer import run_timer
from cavra_runtime.dispatch import bind_table
from cavra_runtime.ports import Infrastructure
from cavra_runtime.service import Wiring, bind_queries


@asynccontextmanager
async def bootstrap(
    runtime: Infrastructure, settings: EscalationSettings, clock: Callable[[], datetime] = utc_now
) -> AsyncIterator[Wiring]:
    deps = Deps(pool=runtime.pool, clock=clock)

    async def timer(stop: asyncio.Event) -> None:
        await run_timer(
            runtime.pool,
            clock,
            stop,
            tick_seconds=settings.escalation_tick_seconds,
            batch=settings.escalation_batch,
        )

    yield Wiring(
        consumers=[
            (subscriptions.route_events(settings.ack_wait_seconds), bind_table(handlers.ROUTE_EVENTS, deps)),
            (subscriptions.plan_commands(settings.ack_wait_seconds), bind_table(handlers.COMMANDS, deps)),
        ],
        queries=bind_queries(handlers.QUERIES, deps),
        workers=[timer],
    )
