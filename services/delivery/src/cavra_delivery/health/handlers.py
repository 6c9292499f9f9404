"""Health handlers: deliver and acknowledge commands from the gateway (``COMMANDS``); the health report,
alert history and alert dashboard queries (``QUERIES``). Queries never write."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import asyncpg
import structlog

from cavra_contracts.base import Contract
from cavra_contracts.envelope import Envelope
from cavra_contracts.evidence import PRODUCT
from cavra_contracts.families import HEALTH_ALERT_FAMILY, family_spec
from cavra_contracts.health import (
    MAX_OUTSTANDING_LISTED,
    AcknowledgeHealthAlertV1,
    DeliverHealthAlertV1,
    HealthAlertAcknowledgedV1,
    HealthAlertDashboardQueryV1,
    HealthAlertHistoryQueryV1,
    HealthAlertPlannedV1,
    HealthAlertRejectedV1,
    WorkerHealthQueryV1,
    health_names,
)
from cavra_contracts.queries import QueryReplyV1
from cavra_contracts.timestamps import iso
from cavra_contracts.vocabulary import ALERT_CRITICAL, ALERT_HEALTHY, ALERT_WARNING
from cavra_delivery.commands import apply_once, emit
from cavra_delivery.connectors.config import normalise_type
from cavra_delivery.registry import ConnectorRegistry
from cavra_runtime.dispatch import HandlerTable, Message
from cavra_runtime.service import QueryTable

from . import alerts, records
from . import repository as repo
from .subscriptions import HEALTH_CONSUMER

log = structlog.get_logger()


@dataclass(frozen=True)
class HealthDeps:
    pool: asyncpg.Pool
    registry: ConnectorRegistry
    clock: Callable[[], datetime]

    def connectors(self) -> alerts.Connectors:
        current = self.registry.current()
        return alerts.Connectors.of(self.registry.configured, current)


def emitter(conn: asyncpg.Connection, cause: Envelope | None, subject: str) -> alerts.Emit:
    """Enqueue contracts through the outbox in ``conn``'s transaction, caused by ``cause``."""

    async def emit_one(contract: Contract) -> None:
        await emit(conn, contract, cause, subject)

    return emit_one


async def on_deliver(message: Message[DeliverHealthAlertV1], deps: HealthDeps) -> None:
    """Plan an alert about the family's health now and enqueue its delivery."""
    command = message.contract
    connectors = deps.connectors()
    request = alerts.AlertRequest(
        family=command.family,
        window=command.window,
        provider=command.provider,
        suppression_window_minutes=command.suppression_window_minutes,
        force=command.force,
        max_alerts=command.max_alerts,
        delivery=command.delivery,
        actor=command.actor,
        trigger="api",
    )

    async def plan(conn: asyncpg.Connection) -> HealthAlertPlannedV1:
        return await alerts.plan_alert(
            conn,
            request,
            connectors,
            command_id=message.envelope.message_id,
            now=deps.clock(),
            emit=emitter(conn, message.envelope, f"health/{command.family}"),
        )

    planned = await apply_once(deps.pool, HEALTH_CONSUMER, message.envelope, HealthAlertRejectedV1, plan)
    if planned is None:
        return
    log.info(
        "health.alert_planned",
        family=command.family,
        health_id=planned.health_id,
        plan_id=planned.plan_id,
        job_id=planned.job_id,
        alert_level=planned.record.alert_level,
    )


async def on_acknowledge(message: Message[AcknowledgeHealthAlertV1], deps: HealthDeps) -> None:
    """Record one provider's acknowledgement of an alert planned for it."""
    command = message.contract

    async def acknowledge(conn: asyncpg.Connection) -> HealthAlertAcknowledgedV1:
        return await alerts.acknowledge(
            conn,
            command,
            command_id=message.envelope.message_id,
            now=deps.clock(),
            emit=emitter(conn, message.envelope, f"health/{command.family}/{command.health_id}"),
        )

    acknowledged = await apply_once(
        deps.pool, HEALTH_CONSUMER, message.envelope, HealthAlertRejectedV1, acknowledge
    )
    if acknowledged is None:
        return
    log.info(
        "health.alert_acknowledged",
        family=command.family,
        health_id=command.health_id,
        acknowledgement_id=acknowledged.acknowledgement_id,
        state=acknowledged.acknowledgement_state,
    )


COMMANDS: HandlerTable[HealthDeps] = {
    DeliverHealthAlertV1: on_deliver,
    AcknowledgeHealthAlertV1: on_acknowledge,
}
"""Handlers of the health command consumer."""


# --- queries ------------------------------------------------------------------------------------


async def worker_health(query: WorkerHealthQueryV1, deps: HealthDeps) -> QueryReplyV1:
    """The family's health now (one read-only snapshot) and the record it would be; nothing is stored."""
    now = query.at or deps.clock()
    async with deps.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        health = await alerts.health_report(
            conn, query.family, query.window, now=now, generated_by=query.generated_by
        )
    record = records.health_record(health_names(query.family), health, family_spec(query.family).source)
    return QueryReplyV1(ok=True, result={"health": health, "metadata": record.document()})


def _alert_source(family: str) -> str:
    return family_spec(HEALTH_ALERT_FAMILY[family]).source


async def alert_history(query: HealthAlertHistoryQueryV1, deps: HealthDeps) -> QueryReplyV1:
    names = health_names(query.family)
    async with deps.pool.acquire() as conn:
        items, total = await repo.history(
            conn,
            query.family,
            _alert_source(query.family),
            health_id=query.health_id,
            provider=normalise_type(query.provider) if query.provider else "",
            metadata_kind=query.metadata_kind,
            acknowledgement_state=query.acknowledgement_state.strip().lower(),
            suppressed=query.suppressed,
            limit=query.limit,
            offset=query.offset,
        )
    return QueryReplyV1(
        ok=True,
        result={
            "schema_version": names.history_schema,
            "product": PRODUCT,
            "family": query.family,
            "items": items,
            "total": total,
            "limit": query.limit,
            "offset": query.offset,
        },
    )


async def alert_dashboard(query: HealthAlertDashboardQueryV1, deps: HealthDeps) -> QueryReplyV1:
    names = health_names(query.family)
    source = _alert_source(query.family)
    async with deps.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        counts = await repo.dashboard_counts(conn, query.family, source)
        waiting, outstanding_count = await repo.outstanding(conn, query.family, MAX_OUTSTANDING_LISTED)
        latest, _ = await repo.history(conn, query.family, source, limit=10)
    if counts["failed_delivery_count"] or outstanding_count:
        level = ALERT_CRITICAL
    elif counts["suppressed_provider_count"]:
        level = ALERT_WARNING
    else:
        level = ALERT_HEALTHY
    return QueryReplyV1(
        ok=True,
        result={
            "schema_version": names.dashboard_schema,
            "product": PRODUCT,
            "family": query.family,
            "generated_at": iso(deps.clock()),
            "alert_level": level,
            **counts,
            "outstanding_acknowledgement_count": outstanding_count,
            "outstanding_acknowledgements": waiting,
            "latest": latest,
        },
    )


QUERIES: QueryTable[HealthDeps] = {
    WorkerHealthQueryV1: worker_health,
    HealthAlertHistoryQueryV1: alert_history,
    HealthAlertDashboardQueryV1: alert_dashboard,
}
"""The health query handlers, one per contract."""
