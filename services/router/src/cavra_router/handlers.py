"""Router handlers: schedule events and plan commands from the bus, history and trend queries.

Handlers are plain async functions of (typed message, deps), registered per consumer in
``SCHEDULE_EVENTS`` and ``COMMANDS`` and per query in ``QUERIES``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import structlog

from cavra_contracts.envelope import make_envelope
from cavra_contracts.notifications import (
    ROUTING_HISTORY_SCHEMA,
    DeliveryOptions,
    PlanNotificationV1,
    PlanQueryV1,
    PlanRejectedV1,
    RouteHistoryQueryV1,
    SuppressionTrendQueryV1,
)
from cavra_contracts.queries import QueryReplyV1
from cavra_contracts.scheduler import FieldProblem, ScheduleEvaluatedV1
from cavra_contracts.sorting import ROUTE_HISTORY_DEFAULT_SORT
from cavra_contracts.vocabulary import NOTIFYING_STATES
from cavra_router import SERVICE, domain, planning, records
from cavra_router import repository as repo
from cavra_router.peers import Peers
from cavra_runtime.dispatch import HandlerTable, Message
from cavra_runtime.inbox import once
from cavra_runtime.outbox import enqueue
from cavra_runtime.service import QueryTable

log = structlog.get_logger()
EVENTS_CONSUMER = "router-schedule-events"
COMMANDS_CONSUMER = "router-commands"


@dataclass(frozen=True)
class Deps:
    pool: asyncpg.Pool
    peers: Peers
    clock: Callable[[], datetime]
    auto_generated_by: str


async def on_schedule_evaluated(message: Message[ScheduleEvaluatedV1], deps: Deps) -> None:
    """Plan when a schedule becomes due soon or stale: once per schedule, state and due date, and
    never for an evaluation the schedule has moved past (no longer what the scheduler reports)."""
    evaluated = message.contract
    report = evaluated.report.as_json_dict()
    stale = False
    configured = None
    if evaluated.status in NOTIFYING_STATES:
        # A backlog (router down, consumer behind) may hold evaluations the schedule has moved past:
        # plan only what the scheduler still says now.
        current = await deps.peers.schedule_report(evaluated.schedule_id)  # TimeoutError: retried
        stale = not _still_current(evaluated, current.report)
        configured = await deps.peers.configured_providers()
    now = deps.clock()
    plan_id = planning.new_plan_id()
    async with once(deps.pool, EVENTS_CONSUMER, message.envelope) as conn:
        if conn is None:
            return
        if evaluated.status not in NOTIFYING_STATES:
            return
        if stale:
            log.info(
                "plan.stale_evaluation_skipped", schedule_id=evaluated.schedule_id, status=evaluated.status
            )
            return
        if not await repo.claim_auto_plan(
            conn, evaluated.schedule_id, evaluated.status, evaluated.next_due_at, plan_id
        ):
            log.info("plan.already_planned", schedule_id=evaluated.schedule_id, status=evaluated.status)
            return
        plan, event = planning.build(
            report,
            plan_id=plan_id,
            requested_provider="all",
            routing_policy=None,
            force=False,
            generated_by=deps.auto_generated_by,
            configured=configured,
            now=now,
        )
        await planning.store(
            conn,
            plan,
            event,
            trigger="schedule_evaluated",
            delivery=DeliveryOptions(),
            cause=message.envelope,
            now=now,
        )
    _log_created(plan, trigger="schedule_evaluated")


def _still_current(evaluated: ScheduleEvaluatedV1, report: dict[str, Any] | None) -> bool:
    """Does the scheduler still see the schedule as the event says (a backlog may be behind)?"""
    if report is None:
        return False  # the schedule is gone
    schedule = report.get("schedule") or {}
    return report.get("status") == evaluated.status and schedule.get("next_due_at") == evaluated.next_due_at


async def _reject(deps: Deps, message: Message[Any], status_code: int, problems: list[FieldProblem]) -> None:
    async with once(deps.pool, COMMANDS_CONSUMER, message.envelope) as conn:
        if conn is None:
            return
        rejected = PlanRejectedV1(status_code=status_code, problems=problems)
        await enqueue(conn, make_envelope(rejected, producer=SERVICE, cause=message.envelope), schema=SERVICE)


async def on_plan_command(message: Message[PlanNotificationV1], deps: Deps) -> None:
    """Plan on demand (the deliver endpoint); a route to an unconfigured provider rejects the command."""
    command = message.contract
    answer = await deps.peers.schedule_report(command.schedule_id)  # TimeoutError: transient, retried
    if answer.report is None:
        problem = FieldProblem(field="schedule_id", message=answer.error or "no schedule report")
        await _reject(deps, message, answer.status_code, [problem])
        return
    configured = await deps.peers.configured_providers()
    now = deps.clock()
    plan, event = planning.build(
        answer.report,
        plan_id=planning.new_plan_id(),
        requested_provider=command.provider,
        routing_policy=command.routing_policy,
        force=command.force,
        generated_by=command.generated_by,
        configured=configured,
        now=now,
    )
    if plan["unconfigured_providers"]:
        missing = ", ".join(plan["unconfigured_providers"])
        problem = FieldProblem(field="provider", message=f"connector provider is not configured: {missing}")
        await _reject(deps, message, 400, [problem])
        return
    async with once(deps.pool, COMMANDS_CONSUMER, message.envelope) as conn:
        if conn is None:
            return
        await planning.store(
            conn, plan, event, trigger="api", delivery=command.delivery, cause=message.envelope, now=now
        )
    _log_created(plan, trigger="api")


def _log_created(plan: dict[str, Any], *, trigger: str) -> None:
    if planning.REJECTION in plan:
        return  # planning.store enqueued PlanRejectedV1 and logged plan.rejected
    log.info(
        "plan.created",
        plan_id=plan["plan_id"],
        schedule_id=plan["schedule_id"],
        trigger=trigger,
        deliverable=plan["deliverable_route_count"],
        suppressed=plan["suppressed_route_count"],
    )


SCHEDULE_EVENTS: HandlerTable[Deps] = {ScheduleEvaluatedV1: on_schedule_evaluated}
"""Handlers of the router's schedule-event consumer."""

COMMANDS: HandlerTable[Deps] = {PlanNotificationV1: on_plan_command}
"""Handlers of the router's command consumer."""


# --- queries --------------------------------------------------------------------------------


def _row(record: asyncpg.Record) -> dict[str, Any]:
    row = dict(record)
    row["created_at"] = row["created_at"].isoformat()
    row["maintenance_window_id"] = row["maintenance_window_id"] or ""
    row["maintenance_window_reason"] = row["maintenance_window_reason"] or ""
    return row


async def route_history(query: RouteHistoryQueryV1, deps: Deps) -> QueryReplyV1:
    filters = {k: getattr(query, k) for k in ("schedule_id", "provider", "owner", "action", "category")}
    async with deps.pool.acquire() as conn:
        rows, total, has_more = await repo.route_history(
            conn, filters, query.limit, query.offset, query.sort, with_total=query.with_total
        )
    result: dict[str, Any] = {
        "schema_version": ROUTING_HISTORY_SCHEMA,
        "product": "CAVRA",
        "items": [_row(r) for r in rows],
        **({} if total is None else {"total": total}),
        "limit": query.limit,
        "offset": query.offset,
        "has_more": has_more,
        "sort": query.sort or ROUTE_HISTORY_DEFAULT_SORT,
        "filters": filters,
    }
    return QueryReplyV1(ok=True, result=result)


async def suppression_trend(query: SuppressionTrendQueryV1, deps: Deps) -> QueryReplyV1:
    filters = {k: getattr(query, k) for k in ("schedule_id", "provider", "owner")}
    now = deps.clock()
    async with deps.pool.acquire() as conn, conn.transaction():
        counts, latest = await repo.suppression_counts(conn, filters)
        trend = domain.build_suppression_trend(
            category_counts=counts["category"],
            owner_counts=counts["owner"],
            provider_counts=counts["provider"],
            schedule_counts=counts["schedule_id"],
            latest_events=[_row(r) for r in latest],
            filters=filters,
            generated_by=query.generated_by,
            now=now,
        )
        if not await repo.store_trend(conn, trend, now):
            stored_at = await repo.stored_trend_created_at(conn, trend["trend_id"])
            now = stored_at or now
    return QueryReplyV1(
        ok=True, result={"trend": trend, "metadata": records.trend_metadata(trend, now.isoformat())}
    )


async def plan(query: PlanQueryV1, deps: Deps) -> QueryReplyV1:
    async with deps.pool.acquire() as conn:
        row = await repo.get_plan(conn, query.plan_id)
    if row is None:
        return QueryReplyV1(ok=False, status_code=404, error=f"plan_id not found: {query.plan_id}")
    document = row["document"]
    return QueryReplyV1(
        ok=True,
        result={"plan": document, "metadata": records.plan_metadata(document), "trigger": row["trigger"]},
    )


QUERIES: QueryTable[Deps] = {
    RouteHistoryQueryV1: route_history,
    SuppressionTrendQueryV1: suppression_trend,
    PlanQueryV1: plan,
}
"""The router's query handlers, one per contract."""
