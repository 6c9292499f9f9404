"""The only place that picks the router's real dependencies and wires handlers to them."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

from cavra_contracts.envelope import make_envelope, utc_now
from cavra_contracts.notifications import ConnectorsQueryV1
from cavra_contracts.scheduler import ScheduleReportQueryV1
from cavra_router import SERVICE, handlers, subscriptions
from cavra_router.handlers import Deps
from cavra_router.peers import ReportAnswer
from cavra_router.settings import RouterSettings
from cavra_runtime.dispatch import bind_table
from cavra_runtime.ports import Infrastructure, MessageBus
from cavra_runtime.service import Wiring, bind_queries


@dataclass
class BusPeers:
    """Peers answered over NATS request/reply.

    The connector list changes only when the private config file does, so it is cached for
    ``connectors_ttl`` seconds instead of being asked for every plan.
    """

    bus: MessageBus
    timeout: float
    connectors_ttl: float = 5.0
    _connectors: list[str] | None = None
    _connectors_at: float = -1e9

    async def schedule_report(self, schedule_id: str | None) -> ReportAnswer:
        reply = await self.bus.request(
            make_envelope(ScheduleReportQueryV1(schedule_id=schedule_id), producer=SERVICE),
            timeout=self.timeout,
        )
        if reply.ok:
            return ReportAnswer(status_code=200, report=reply.result)
        return ReportAnswer(status_code=reply.status_code, error=reply.error)

    async def configured_providers(self) -> list[str] | None:
        if self._connectors is not None and time.monotonic() - self._connectors_at < self.connectors_ttl:
            return self._connectors
        self._connectors = await self._ask_connectors()
        self._connectors_at = time.monotonic()
        return self._connectors

    async def _ask_connectors(self) -> list[str] | None:
        try:
            reply = await self.bus.request(
                make_envelope(ConnectorsQueryV1(), producer=SERVICE), timeout=self.timeout
            )
        except TimeoutError:
            return None
        if not reply.ok or not reply.result:
            return None
        return list(reply.result.get("routable_providers", []))


@asynccontextmanager
async def bootstrap(
    runtime: Infrastructure, settings: RouterSettings, clock: Callable[[], datetime] = utc_now
) -> AsyncIterator[Wiring]:
    deps = Deps(
        pool=runtime.pool,
        peers=BusPeers(runtime.bus, settings.query_timeout_seconds, settings.connectors_cache_seconds),
        clock=clock,
        auto_generated_by=settings.auto_plan_generated_by,
    )
    yield Wiring(
        consumers=[
            (
                subscriptions.schedule_events(settings.ack_wait_seconds),
                bind_table(handlers.SCHEDULE_EVENTS, deps),
            ),
            (subscriptions.plan_commands(settings.ack_wait_seconds), bind_table(handlers.COMMANDS, deps)),
        ],
        queries=bind_queries(handlers.QUERIES, deps),
    )
