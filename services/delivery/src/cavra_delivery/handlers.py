"""Delivery handlers: plans from the bus, delivery status and connector queries from the gateway."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from pydantic import ValidationError

from cavra_contracts.envelope import Envelope
from cavra_contracts.notifications import (
    ConnectorsQueryV1,
    DeliveryStatusQueryV1,
    NotificationPlannedV1,
)
from cavra_contracts.queries import QueryReplyV1
from cavra_delivery import repository as repo
from cavra_delivery.connectors import quarantine
from cavra_delivery.pipeline import Pipeline, route_delivery
from cavra_delivery.registry import ConnectorRegistry, routable_providers
from cavra_runtime.bus import PermanentError

CONSUMER = "delivery-notifications"


@dataclass(frozen=True)
class Deps:
    pool: asyncpg.Pool
    pipeline: Pipeline
    registry: ConnectorRegistry
    clock: Callable[[], datetime]


async def on_notification_planned(envelope: Envelope, deps: Deps) -> None:
    try:
        planned = NotificationPlannedV1.model_validate(envelope.payload)
    except ValidationError as exc:
        raise PermanentError(f"undecodable NotificationPlannedV1: {exc.error_count()} errors") from exc
    await deps.pipeline.deliver_plan(planned, envelope)


async def delivery_status(envelope: Envelope, deps: Deps) -> QueryReplyV1:
    query = DeliveryStatusQueryV1.model_validate(envelope.payload)
    async with deps.pool.acquire() as conn:
        rows = await repo.for_plan(conn, query.plan_id)
        record = await repo.record_for_plan(conn, query.plan_id)
    deliveries = [route_delivery(row) for row in rows]
    return QueryReplyV1(
        ok=True,
        result={
            "plan_id": query.plan_id,
            "complete": record is not None,
            "success": bool(record and record["delivery_success"]),
            "deliveries": deliveries,
            "record": record,
        },
    )


async def connectors(envelope: Envelope, deps: Deps) -> QueryReplyV1:
    ConnectorsQueryV1.model_validate(envelope.payload)
    current = deps.registry.current()
    now = deps.clock()
    async with deps.pool.acquire() as conn:
        health = await repo.all_health(conn)
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
            "routable_providers": routable_providers(current),
            "connectors": listed,
            "problems": dict(current.problems),
        },
    )


QUERIES: dict[str, Callable[[Envelope, Deps], Awaitable[QueryReplyV1]]] = {
    DeliveryStatusQueryV1.MESSAGE.subject: delivery_status,
    ConnectorsQueryV1.MESSAGE.subject: connectors,
}
