"""What worker health adds to the delivery service: its command consumer, queries and check timer.

The service's bootstrap merges this :class:`Wiring` into its own, so health code stays in this package.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from cavra_delivery.registry import ConnectorRegistry
from cavra_runtime.dispatch import bind_table
from cavra_runtime.ports import Infrastructure
from cavra_runtime.service import Wiring, bind_queries

from . import handlers, subscriptions
from .handlers import HealthDeps
from .settings import HealthSettings
from .timer import run_checks


def health_wiring(
    runtime: Infrastructure,
    settings: HealthSettings,
    registry: ConnectorRegistry,
    clock: Callable[[], datetime],
    *,
    ack_wait_seconds: float,
) -> Wiring:
    """The health consumer, its queries and the check timer, wired to ``runtime``."""
    deps = HealthDeps(pool=runtime.pool, registry=registry, clock=clock)

    async def timer(stop: asyncio.Event) -> None:
        await run_checks(deps, settings, stop)

    return Wiring(
        consumers=[(subscriptions.health_commands(ack_wait_seconds), bind_table(handlers.COMMANDS, deps))],
        queries=bind_queries(handlers.QUERIES, deps),
        workers=[timer],
    )
