"""Acknowledgement handlers: plans from the router, acknowledgement commands from the gateway, and the
route states query.

Handlers are plain async functions of (typed message, deps), registered per consumer in
``PLANNED_NOTIFICATIONS`` and ``COMMANDS`` and per query in ``QUERIES``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import asyncpg
import structlog

from cavra_acknowledgement import SERVICE, domain, resolution
from cavra_acknowledgement import repository as repo
from cavra_contracts.acknowledgements import (
    ROUTE_STATES_SCHEMA,
    AcknowledgementRejectedV1,
    AcknowledgementsRecordedV1,
    RecordAcknowledgementsV1,
    RouteStatesQueryV1,
    bulk_id,
)
from cavra_contracts.envelope import Envelope, make_envelope
from cavra_contracts.limits import MAX_EVENT_BYTES
from cavra_contracts.notifications import NotificationPlannedV1
from cavra_contracts.queries import QueryReplyV1
from cavra_contracts.scheduler import FieldProblem
from cavra_contracts.timestamps import parse_timestamp
from cavra_runtime.dispatch import HandlerTable, Message
from cavra_runtime.failures import PermanentError
from cavra_runtime.inbox import once
from cavra_runtime.outbox import enqueue
from cavra_runtime.service import QueryTable

log = structlog.get_logger()
PLANS_CONSUMER = "acknowledgement-plans"
COMMANDS_CONSUMER = "acknowledgement-commands"


@dataclass(frozen=True)
class Deps:
    pool: asyncpg.Pool
    clock: Callable[[], datetime]


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
    """All or nothing: every route the command names is acknowledged in one transaction, or none is
    and the answer is an ``AcknowledgementRejectedV1`` naming the field."""
    command = message.contract
    now = deps.clock()
    async with once(deps.pool, COMMANDS_CONSUMER, message.envelope) as conn:
        if conn is None:
            return
        try:
            covered = await resolution.resolve(conn, command, now)
            acks = domain.build(command, message.message_id, covered, now)
            if command.link_id and not await repo.use_link(
                conn, command.link_id, acks[0].route_id, message.message_id, now
            ):
                raise resolution.Refusal(409, "link_id", "this ack link was used already")
            recorded = AcknowledgementsRecordedV1(
                bulk_id=bulk_id(len(acks), acks[0].acknowledgement_id),
                mode=command.mode,
                acknowledgement_state=command.acknowledgement_state,
                acknowledgement_count=len(acks),
                acknowledgements=acks,
                actor=command.actor,
            )
            envelope = _event(recorded, message.envelope)
            if len(envelope.to_json()) > MAX_EVENT_BYTES:
                raise resolution.Refusal(
                    413, "notes", f"{len(acks)} records with these notes exceed one event; shorten or narrow"
                )
        except resolution.Refusal as refusal:
            await _reject(conn, message.envelope, refusal.status_code, refusal.problems())
            log.info(
                "acknowledgement.rejected",
                status_code=refusal.status_code,
                field=refusal.field,
                mode=command.mode,
            )
            return
        await repo.record(conn, acks, message.message_id, now)
        await enqueue(conn, envelope, schema=SERVICE)
    log.info(
        "acknowledgement.recorded",
        bulk_id=recorded.bulk_id,
        mode=command.mode,
        state=command.acknowledgement_state,
        actor=command.actor.actor,
        **resolution.describe(covered),
    )


def _event(contract: AcknowledgementsRecordedV1 | AcknowledgementRejectedV1, cause: Envelope) -> Envelope:
    return make_envelope(contract, producer=SERVICE, cause=cause)


async def _reject(
    conn: asyncpg.Connection, cause: Envelope, status_code: int, problems: list[FieldProblem]
) -> None:
    rejected = AcknowledgementRejectedV1(status_code=status_code, problems=problems)
    await enqueue(conn, _event(rejected, cause), schema=SERVICE)


PLANNED_NOTIFICATIONS: HandlerTable[Deps] = {NotificationPlannedV1: on_notification_planned}
"""Handlers of the plan-event consumer."""

COMMANDS: HandlerTable[Deps] = {RecordAcknowledgementsV1: on_record_acknowledgements}
"""Handlers of the command consumer."""


async def route_states(query: RouteStatesQueryV1, deps: Deps) -> QueryReplyV1:
    """The routes of the current plans matching the scope (state, age, SLO, breached) and their count."""
    now = deps.clock()
    async with deps.pool.acquire() as conn:
        rows, total = await repo.route_states(conn, query.scope, now, query.limit, query.offset)
    return QueryReplyV1(
        ok=True,
        result={
            "schema_version": ROUTE_STATES_SCHEMA,
            "product": "CAVRA",
            "items": [domain.route_view(row, now) for row in rows],
            "total": total,
            "limit": query.limit,
            "offset": query.offset,
            "filters": query.scope.model_dump(mode="json"),
            "generated_at": now.isoformat(),
        },
    )


QUERIES: QueryTable[Deps] = {RouteStatesQueryV1: route_states}
"""The acknowledgement service's query handlers, one per contract."""
