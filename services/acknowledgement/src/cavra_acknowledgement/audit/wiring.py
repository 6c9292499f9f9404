"""What audit packages add to the acknowledgement service: their consumer, queries and schedule timer.

The service's bootstrap merges this :class:`Wiring` into its own, so audit code stays in this package.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from cavra_acknowledgement import SERVICE
from cavra_runtime.dispatch import bind_table
from cavra_runtime.peers import BusConnectors
from cavra_runtime.ports import Infrastructure
from cavra_runtime.service import Wiring, bind_queries

from . import handlers, subscriptions
from .handlers import AuditDeps
from .settings import AuditSettings
from .timer import run_schedules
from .workflow import KeyRing


def audit_wiring(runtime: Infrastructure, settings: AuditSettings, clock: Callable[[], datetime]) -> Wiring:
    """The audit consumer, its queries and the schedule timer, wired to ``runtime``."""
    secret = settings.audit_signing_key
    configured = (secret.get_secret_value() if secret is not None else "") or None  # empty: unset
    deps = AuditDeps(
        pool=runtime.pool,
        clock=clock,
        keyring=KeyRing(configured, settings.home),
        peers=BusConnectors(runtime.bus, settings.audit_query_timeout_seconds, SERVICE),
    )

    if configured is not None:
        deps.keyring.get()  # a configured key that is not one stops the service at start, not later

    async def timer(stop: asyncio.Event) -> None:
        await run_schedules(deps, stop, tick_seconds=settings.audit_tick_seconds, batch=settings.audit_batch)

    return Wiring(
        consumers=[
            (
                subscriptions.audit_commands(settings.audit_ack_wait_seconds),
                bind_table(handlers.COMMANDS, deps),
            )
        ],
        queries=bind_queries(handlers.QUERIES, deps),
        workers=[timer],
    )
