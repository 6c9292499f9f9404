"""What retries add to the delivery service: their command consumer, queries and timer.

The service's bootstrap merges this :class:`Wiring` into its own (``ExecuteRetryV1`` is handled by the
service's jobs consumer, beside the jobs it re-delivers)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

from cavra_delivery import subscriptions
from cavra_delivery.retries import handlers
from cavra_delivery.retries.governance import Windows
from cavra_delivery.retries.handlers import RetryDeps
from cavra_delivery.retries.timer import run_timer
from cavra_delivery.settings import DeliverySettings
from cavra_runtime.dispatch import bind_table
from cavra_runtime.ports import Infrastructure
from cavra_runtime.service import Wiring, bind_queries


def retries_wiring(
    runtime: Infrastructure, settings: DeliverySettings, clock: Callable[[], datetime]
) -> Wiring:
    deps = RetryDeps(
        pool=runtime.pool,
        clock=clock,
        windows=Windows(
            decide=timedelta(hours=settings.retry_approval_decide_hours),
            execute=timedelta(hours=settings.retry_approval_execute_hours),
        ),
    )

    async def timer(stop: asyncio.Event) -> None:
        await run_timer(
            deps,
            stop,
            tick_seconds=settings.retry_tick_seconds,
            batch=settings.retry_timer_batch,
            lost_after=timedelta(minutes=settings.retry_execution_lost_minutes),
            retention=timedelta(days=settings.retry_decision_retention_days),
        )

    return Wiring(
        consumers=[
            (subscriptions.retry_commands(settings.ack_wait_seconds), bind_table(handlers.COMMANDS, deps))
        ],
        queries=bind_queries(handlers.QUERIES, deps),
        workers=[timer],
    )
