"""The only place that picks the scheduler's real dependencies and wires handlers to them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from cavra_contracts.envelope import utc_now
from cavra_runtime.dispatch import bind_table
from cavra_runtime.ports import Infrastructure
from cavra_runtime.service import Wiring, bind_queries
from cavra_scheduler import handlers, subscriptions
from cavra_scheduler.evaluation import EvaluationConfig
from cavra_scheduler.handlers import Deps
from cavra_scheduler.loader import load_files
from cavra_scheduler.settings import SchedulerSettings
from cavra_scheduler.store import Context
from cavra_scheduler.timer import run_timer


@asynccontextmanager
async def bootstrap(
    runtime: Infrastructure, settings: SchedulerSettings, clock: Callable[[], datetime] = utc_now
) -> AsyncIterator[Wiring]:
    """Load the configured files, then return what the scheduler process runs."""
    deps = Deps(pool=runtime.pool, ctx=Context(config=EvaluationConfig.from_settings(settings), clock=clock))
    await load_files(
        runtime.pool,
        deps.ctx,
        schedule_path=settings.go_rollback_drill_schedule,
        history_path=settings.go_rollback_drill_history,
    )

    async def timer(stop: asyncio.Event) -> None:
        await run_timer(
            runtime.pool,
            deps.ctx,
            stop,
            tick_seconds=settings.scheduler_tick_seconds,
            batch=settings.scheduler_batch,
        )

    yield Wiring(
        consumers=[
            (
                subscriptions.commands(settings.ack_wait_seconds),
                bind_table(handlers.COMMANDS, deps),
            )
        ],
        queries=bind_queries(handlers.QUERIES, deps),
        workers=[timer],
    )
