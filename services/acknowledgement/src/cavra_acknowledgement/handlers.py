"""Acknowledgement handlers: plans from the router, acknowledgement commands from the gateway, and the
route states query.

Handlers are plain async functions of (typed message, deps), registered per consumer in
``PLANNED_NOTIFICATIONS`` and ``COMMANDS`` and per query in ``QUERIES``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import structlog

from cavra_acknowledgement import domain
from cavra_acknowledgement import repository as repo
from cavra_acknowledgement.recording import Applied
from cavra_contracts.acknowledgements import (
    ROUTE_STATES_SCHEMA,
    RecordAcknowledgementsV1,
    RouteStatesQueryV1,
)
from cavra_contracts.notifications import NotificationPlannedV1
from cavra_contracts.queries import QueryReplyV1
from cavra_contracts.sorting import ROUTE_STATES_DEFAULT_SORT
from cavra_contracts.timestamps import parse_timestamp
from cavra_runtime.batching import Batcher
from cavra_runtime.dispatch import HandlerTable, Message
from cavra_runtime.failures import PermanentError
from cavra_runtime.inbox import once
from cavra_runtime.service import QueryTable

log = structlog.get_logger()
PLANS_CONSUMER = "acknowledgement-plans"


@dataclass(frozen=True)
class Deps:
    pool: asyncpg.Pool
    clock: Callable[[], datetime]
    commands: Batcher[Message[RecordAcknowledgementsV1], Applied | Exception]
    """Group commit of acknowledgement commands (``recording.CommandWriter.flush``)."""


async def on_notification_planned(message: Message[NotificationPlannedV1], deps: Deps) -> None:
    """Make the plan's deliver routes acknowledgeable; a newer plan becomes the schedule's current one."""
    plan = message.contract.plan
    generated_at = parse_timestamp(plan.generated_at)
    if generated_at is None:
        raise PermanentError(f"plan {plan.plan_id} has no valid generated_at")
    deliverable = plan.deliverable()
    async with once(deps.pool, PLANS_CONSUMER, message.envelope) as conn:
        if conn is None:
            return
        stored = await repo.insert_plan(
            conn,
            plan_id=plan.plan_id,
            schedule_id=plan.schedule_id,
            generated_at=generated_at,
            alert_level=plan.alert_level,
            stream_sequence=message.stream_sequence,
            routes=deliverable,
        )
    if stored:
        log.info("plan.tracked", plan_id=plan.plan_id, schedule_id=plan.schedule_id, routes=len(deliverable))


async def on_record_acknowledgements(message: Message[RecordAcknowledgementsV1], deps: Deps) -> None:
    """All or nothing: every route the command names is acknowledged, or none is and the answer is an
    ``AcknowledgementRejectedV1`` naming the field. Acked once its batch is committed."""
    applied = await deps.commands.submit(message)
    if isinstance(applied, Exception):
        raise applied
    command = message.contract
    context: dict[str, object] = {
        "mode": command.mode,
        "state": command.acknowledgement_state,
        "actor_method": command.actor.method,
    }
    if applied.recorded is not None:
        context |= {"bulk_id": applied.recorded.bulk_id, "routes": applied.covered}
    elif applied.refusal is not None:
        context |= {"rejected": applied.refusal.status_code, "field": applied.refusal.field}
    structlog.contextvars.bind_contextvars(**context)  # on the dispatcher's message.handled line


PLANNED_NOTIFICATIONS: HandlerTable[Deps] = {NotificationPlannedV1: on_notification_planned}
"""Handlers of the plan-event consumer."""

COMMANDS: HandlerTable[Deps] = {RecordAcknowledgementsV1: on_record_acknowledgements}
"""Handlers of the command consumer."""


async def route_states(query: RouteStatesQueryV1, deps: Deps) -> QueryReplyV1:
    """The routes of the current plans matching the scope (state, age, SLO, breached), their count
    (unless ``with_total`` is false) and whether more follow."""
    now = deps.clock()
    async with deps.pool.acquire() as conn:
        rows, total, has_more = await repo.route_states(
            conn, query.scope, now, query.limit, query.offset, query.sort, with_total=query.with_total
        )
    result: dict[str, Any] = {
        "schema_version": ROUTE_STATES_SCHEMA,
        "product": "CAVRA",
        "items": [domain.route_view(row, now) for row in rows],
        **({} if total is None else {"total": total}),
        "limit": query.limit,
        "offset": query.offset,
        "has_more": has_more,
        "sort": query.sort or ROUTE_STATES_DEFAULT_SORT,
        "filters": query.scope.model_dump(mode="json"),
        "generated_at": now.isoformat(),
    }
    return QueryReplyV1(ok=True, result=result)


QUERIES: QueryTable[Deps] = {RouteStatesQueryV1: route_states}
"""The acknowledgement service's query handlers, one per contract."""
