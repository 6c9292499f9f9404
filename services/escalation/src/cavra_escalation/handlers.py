"""Escalation handlers: plans and acknowledgements from the bus, plan commands, the plan query.

Handlers are plain async functions of (typed message, deps), registered per consumer in
``ROUTE_EVENTS`` and ``COMMANDS`` and per query in ``QUERIES``. The timer (``timer.py``) does
the time-driven part.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import asyncpg
import structlog

from cavra_contracts.acknowledgements import AcknowledgementsRecordedV1
from cavra_contracts.envelope import make_envelope
from cavra_contracts.escalations import (
    EscalationCancelledV1,
    EscalationKind,
    EscalationPlanQueryV1,
    GenerateEscalationPlanV1,
)
from cavra_contracts.notifications import NotificationPlannedV1
from cavra_contracts.queries import QueryReplyV1
from cavra_contracts.timestamps import iso, parse_timestamp
from cavra_escalation import SERVICE, domain, planning
from cavra_escalation import repository as repo
from cavra_runtime import inbox
from cavra_runtime.dispatch import HandlerTable, Message
from cavra_runtime.inbox import once
from cavra_runtime.outbox import enqueue
from cavra_runtime.service import QueryTable

log = structlog.get_logger()
EVENTS_CONSUMER = "escalation-route-events"
COMMANDS_CONSUMER = "escalation-commands"


@dataclass(frozen=True)
class Deps:
    pool: asyncpg.Pool
    clock: Callable[[], datetime]


async def on_notification_planned(message: Message[NotificationPlannedV1], deps: Deps) -> None:
    """Track the deliver routes of a schedule's newest plan; its older plan's timers stop."""
    plan = message.contract.plan
    generated_at = parse_timestamp(plan.generated_at) or message.envelope.occurred_at
    routes = domain.tracked_routes(plan.route_decisions, plan_id=plan.plan_id, generated_at=generated_at)
    async with once(deps.pool, EVENTS_CONSUMER, message.envelope) as conn:
        if conn is None:
            return
        await repo.lock_schedules(conn, [plan.schedule_id])
        if not await repo.claim_current_plan(conn, plan.schedule_id, plan.plan_id, generated_at):
            log.info("plan.older_than_current", plan_id=plan.plan_id, schedule_id=plan.schedule_id)
            return
        superseded = await repo.supersede(conn, plan.schedule_id, plan.plan_id)
        await repo.insert_routes(conn, routes)
    log.info(
        "plan.tracked",
        plan_id=plan.plan_id,
        schedule_id=plan.schedule_id,
        routes=len(routes),
        superseded_routes=superseded,
    )


async def on_acknowledgements_recorded(message: Message[AcknowledgementsRecordedV1], deps: Deps) -> None:
    """Apply the latest acknowledgement of each route; a clearing one cancels what was still due."""
    recorded = message.contract
    acks = recorded.acknowledgements
    moments = [parse_timestamp(ack.acknowledged_at) or message.envelope.occurred_at for ack in acks]
    now = deps.clock()
    cancelled = 0
    async with once(deps.pool, EVENTS_CONSUMER, message.envelope) as conn:
        if conn is None or not acks:
            return
        await repo.lock_schedules(conn, [ack.schedule_id for ack in acks])
        changes = await repo.record_acknowledgements(
            conn,
            [ack.route_id for ack in acks],
            [ack.acknowledgement_id for ack in acks],
            [ack.acknowledgement_state for ack in acks],
            moments,
        )
        for change in changes:
            if change.was_due is None or change.now_due is not None:
                continue
            event = EscalationCancelledV1(
                route_id=change.route.route_id,
                plan_id=change.route.plan_id,
                schedule_id=change.route.schedule_id,
                provider=change.route.provider,
                owner=change.route.owner,
                acknowledgement_id=change.acknowledgement_id,
                acknowledgement_state=change.state,
                cancelled=_pending(change.route),
                breach_due_at=iso(change.route.breach_due_at),
                cancelled_at=iso(now),
            )
            envelope = make_envelope(
                event, producer=SERVICE, subject=f"route/{change.route.route_id}", cause=message.envelope
            )
            await enqueue(conn, envelope, schema=SERVICE)
            cancelled += 1
    log.info("acknowledgements.applied", bulk_id=recorded.bulk_id, routes=len(acks), cancelled=cancelled)


def _pending(route: domain.TrackedRoute) -> list[EscalationKind]:
    kinds: list[EscalationKind] = ["escalation"]
    if route.reminder_due_at is not None and route.reminded_at is None:
        kinds.insert(0, "reminder")
    return kinds


async def on_generate_plan(message: Message[GenerateEscalationPlanV1], deps: Deps) -> None:
    """Build, store and announce an escalation plan over every schedule's current routes."""
    command = message.contract
    now = deps.clock()
    # One snapshot for the SLO keys and the routes they judge (planning.generate).
    async with deps.pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
        if not await inbox.claim(conn, COMMANDS_CONSUMER, message.envelope):
            return
        generated = await planning.generate(
            conn, command.policy, generated_by=command.generated_by, actor=command.actor, now=now
        )
        envelope = make_envelope(
            generated.event,
            producer=SERVICE,
            subject=f"escalation-plan/{generated.event.plan_id}",
            cause=message.envelope,
        )
        await enqueue(conn, envelope, schema=SERVICE)
    log.info(
        "escalation_plan.generated",
        plan_id=generated.event.plan_id,
        alert_level=generated.event.alert_level,
        routes=generated.event.route_count,
        breached=generated.event.breached_count,
        new=generated.new,
    )


ROUTE_EVENTS: HandlerTable[Deps] = {
    NotificationPlannedV1: on_notification_planned,
    AcknowledgementsRecordedV1: on_acknowledgements_recorded,
}
"""Handlers of the escalation service's event consumer."""

COMMANDS: HandlerTable[Deps] = {GenerateEscalationPlanV1: on_generate_plan}
"""Handlers of the escalation service's command consumer."""


async def escalation_plan(query: EscalationPlanQueryV1, deps: Deps) -> QueryReplyV1:
    async with deps.pool.acquire() as conn:
        found = await planning.stored_plan(conn, query.plan_id, limit=query.limit, offset=query.offset)
    if found is None:
        return QueryReplyV1(ok=False, status_code=404, error=f"plan_id not found: {query.plan_id}")
    return QueryReplyV1(ok=True, result=found)


QUERIES: QueryTable[Deps] = {EscalationPlanQueryV1: escalation_plan}
"""The escalation service's query handlers, one per contract."""
