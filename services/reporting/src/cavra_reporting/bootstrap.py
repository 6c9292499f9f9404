"""The only place that picks the reporting service's real dependencies and wires handlers to them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from cavra_contracts.envelope import utc_now
from cavra_reporting import handlers, subscriptions
from cavra_reporting.executive.wiring import executive_wiring
from cavra_reporting.handlers import Deps
from cavra_reporting.settings import ReportingSettings
from cavra_runtime.dispatch import bind_table
from cavra_runtime.ports import Infrastructure
from cavra_runtime.service import Wiring, bind_queries


@asynccontextmanager
async def bootstrap(
    runtime: Infrastructure, settings: ReportingSettings, clock: Callable[[], datetime] = utc_now
) -> AsyncIterator[Wiring]:
    # Every answer is a function of the events applied, except the recovery SLO breaches: those are
    # counted at the time asked (the clock). Executive reports use it too (their windows and cadence).
    deps = Deps(pool=runtime.pool, clock=clock, recovery_slo_minutes=settings.recovery_slo_minutes)
    executive = executive_wiring(runtime, settings, clock)
    yield Wiring(
        consumers=[
            (
                subscriptions.events(settings.ack_wait_seconds, settings.event_concurrency),
                bind_table(handlers.EVENTS, deps),
            ),
            *executive.consumers,
        ],
        queries={**bind_queries(handlers.QUERIES, deps), **executive.queries},
        workers=executive.workers,
    )
