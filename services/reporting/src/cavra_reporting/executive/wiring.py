"""What executive reports add to the reporting service: their consumer, queries and cadence timer.

The service's bootstrap merges this :class:`Wiring` into its own, so executive code stays in this package.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from cavra_runtime.dispatch import bind_table
from cavra_runtime.peers import BusConnectors
from cavra_runtime.ports import Infrastructure
from cavra_runtime.service import Wiring, bind_queries

from . import handlers, subscriptions
from .handlers import ExecutiveDeps
from .settings import ExecutiveSettings
from .source import PRODUCER, BusRecoveryReports
from .timer import run_cadence


def executive_wiring(
    runtime: Infrastructure, settings: ExecutiveSettings, clock: Callable[[], datetime]
) -> Wiring:
    """The executive consumer, its queries and the cadence timer, wired to ``runtime``."""
    timeout = settings.executive_report_query_timeout_seconds
    deps = ExecutiveDeps(
        pool=runtime.pool,
        clock=clock,
        source=BusRecoveryReports(runtime.bus, timeout),
        connectors=BusConnectors(runtime.bus, timeout, PRODUCER),
        settings=settings,
    )

    async def timer(stop: asyncio.Event) -> None:
        await run_cadence(deps, stop, tick_seconds=settings.executive_report_tick_seconds)

    return Wiring(
        consumers=[
            (
                subscriptions.executive_commands(settings.executive_report_ack_wait_seconds),
                bind_table(handlers.COMMANDS, deps),
            )
        ],
        queries=bind_queries(handlers.QUERIES, deps),
        workers=[timer],
    )
