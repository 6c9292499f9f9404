"""Delivery handlers: plans and delivery jobs from the bus, delivery status and connector queries."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from cavra_contracts.deliveries import DeliverMessageV1
from cavra_contracts.notifications import (
    ConnectorsQueryV1,
    DeliveryStatusQueryV1,
    NotificationPlannedV1,
)
from cavra_contracts.queries import QueryReplyV1
from cavra_contracts.retries import ExecuteRetryV1
from cavra_delivery import jobs, records
from cavra_delivery import repository as repo
from cavra_delivery.connectors import quarantine
from cavra_delivery.pipeline import Pipeline, route_delivery
from cavra_delivery.registry import ConnectorRegistry, routable_providers
from cavra_delivery.retries.execute import execute_retry
from cavra_runtime.dispatch import HandlerTable, Message
from cavra_runtime.service import QueryTable

CONSUMER = "delivery-notifications"
JOBS_CONSUMER = "delivery-jobs"


@dataclass(frozen=True)
class Deps:
    pool: asyncpg.Pool
    pipeline: Pipeline
    registry: ConnectorRegistry
    clock: Callable[[], datetime]


async def on_notification_planned(message: Message[NotificationPlannedV1], deps: Deps) -> None:
    await deps.pipeline.deliver(jobs.plan_job(message.contract), message.envelope, message.heartbeat)


async def on_deliver_message(message: Message[DeliverMessageV1], deps: Deps) -> None:
    await deps.pipeline.deliver(jobs.message_job(message.contract), message.envelope, message.heartbeat)


async def on_execute_retry(message: Message[ExecuteRetryV1], deps: Deps) -> None:
    """One retry of a failed job's provider, through the same pipeline (cavra_delivery.retries)."""
    await execute_retry(message, deps.pool, deps.pipeline, deps.clock)


PLANNED_NOTIFICATIONS: HandlerTable[Deps] = {NotificationPlannedV1: on_notification_planned}
"""Handlers of the delivery service's plan consumer."""

JOBS: HandlerTable[Deps] = {
    DeliverMessageV1: on_deliver_message,
    ExecuteRetryV1: on_execute_retry,
}
"""Handlers of the delivery service's job consumer (commands)."""


async def delivery_status(query: DeliveryStatusQueryV1, deps: Deps) -> QueryReplyV1:
    """The evidence of one plan, or of one job (``plan_id`` names either: a plan is its own job)."""
    async with deps.pool.acquire() as conn:
        rows = await repo.for_job(conn, query.plan_id)
        record = await repo.record_for_job(conn, query.plan_id)
    deliveries = [route_delivery(row) for row in rows]
    if record is not None:
        record = records.with_deliveries(record, deliveries)
    return QueryReplyV1(
        ok=True,
        result={
            "plan_id": query.plan_id,
            "job_id": query.plan_id,
            "complete": record is not None,
            "success": bool(record and record["delivery_success"]),
            "deliveries": deliveries,
            "record": record,
        },
    )


async def connectors(_: ConnectorsQueryV1, deps: Deps) -> QueryReplyV1:
    current = deps.registry.current()
    now = deps.clock()
    async with deps.pool.acquire() as conn:
        health = await repo.all_health(conn)
        alarms = await repo.redaction_alarms(conn)
    listed = []
    for name in current.names():
        connector = current.connectors[name]
        state = health.get(name, quarantine.QuarantineState(connector=name))
        listed.append(
            {
                "name": name,
                "type": connector.type,
                "host": connector.host,
                "breaker": quarantine.status(state, now),
                "consecutive_failures": state.consecutive_failures,
                "quarantined_until": state.quarantined_until.isoformat() if state.quarantined_until else None,
            }
        )
    return QueryReplyV1(
        ok=True,
        result={
            "configured": deps.registry.configured,
            "error": deps.registry.error,
            "error_since": _iso(deps.registry.error_since),
            "loaded_at": _iso(deps.registry.loaded_at),
            "routable_providers": routable_providers(current),
            "connectors": listed,
            "problems": dict(current.problems),
            "redaction_alarms": alarms,
        },
    )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


QUERIES: QueryTable[Deps] = {
    DeliveryStatusQueryV1: delivery_status,
    ConnectorsQueryV1: connectors,
}
"""The delivery service's query handlers, one per contract."""
