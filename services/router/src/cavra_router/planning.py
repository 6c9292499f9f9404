"""Build a plan, store it with its route decisions, and emit NotificationPlannedV1 (one transaction).

A plan over a size limit is never stored nor published; PlanRejectedV1 (422, naming the field
to shrink) is enqueued instead, so every caller (the deliver command and automatic plans alike)
rejects it the same way: ``build`` counts the routes first and returns a *rejected* plan past
``MAX_ROUTES_PER_PLAN`` without building a route; ``store`` measures the event and rejects one
past ``MAX_EVENT_BYTES`` (only reachable with long names far beyond ASCII).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

import asyncpg
import structlog

from cavra_contracts.envelope import Envelope, make_envelope
from cavra_contracts.limits import MAX_EVENT_BYTES, MAX_ROUTES_PER_PLAN
from cavra_contracts.notifications import (
    DeliveryOptions,
    NotificationContentV1,
    NotificationPlannedV1,
    NotificationPlanV1,
    PlanRejectedV1,
)
from cavra_contracts.scheduler import FieldProblem
from cavra_router import SERVICE, domain
from cavra_router import repository as repo
from cavra_runtime.outbox import enqueue

log = structlog.get_logger()

REJECTION = "rejection"
"""Key of a rejected plan's problem: ``{status_code, field, message}``."""


def new_plan_id() -> str:
    """Plan ids are unique per plan (the original's content hash made identical re-plans collide)."""
    return f"gordn-{secrets.token_hex(8)}"


def build(
    report: dict[str, Any],
    *,
    plan_id: str,
    requested_provider: str,
    routing_policy: dict[str, Any] | None,
    force: bool,
    generated_by: str,
    configured: Sequence[str] | None,
    now: datetime,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The plan and its notification event (pure), or a rejected plan (see ``rejected_plan``)."""
    try:
        plan = domain.build_notification_plan(
            report,
            plan_id=plan_id,
            requested_provider=requested_provider,
            available_providers=configured,
            configured_providers=configured,
            generated_by=generated_by,
            force=force,
            routing_policy=routing_policy,
            max_routes=MAX_ROUTES_PER_PLAN,
            now=now,
        )
    except domain.PlanTooLarge as exc:
        return rejected_plan(plan_id, report, field=exc.field, message=str(exc)), {}
    event = domain.build_notification_event(report, plan=plan, generated_by=generated_by, now=now)
    return plan, event


def history_rows(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """The route-history rows of a plan; each route decision gets its route id (its row's id) first,
    so the plan document, the history, the event and every delivery name a route the same way."""
    rows = []
    for decision in plan["route_decisions"]:
        row = domain.route_history_row(plan, decision, created_at=plan["generated_at"])
        decision["route_id"] = row["route_id"]
        rows.append(row | {"route_key": decision["route_key"]})
    return rows


def planned_event(
    plan: dict[str, Any],
    event: dict[str, Any],
    *,
    trigger: Literal["schedule_evaluated", "api"],
    delivery: DeliveryOptions,
) -> NotificationPlannedV1:
    """The typed NotificationPlannedV1 of a plan whose route decisions carry their route ids."""
    return NotificationPlannedV1(
        plan=NotificationPlanV1.model_validate(plan),
        content=NotificationContentV1.model_validate(event),
        trigger=trigger,
        delivery=delivery,
    )


def rejected_plan(plan_id: str, report: dict[str, Any], *, field: str, message: str) -> dict[str, Any]:
    """A plan that must not be stored: no routes, and the problem under ``REJECTION``."""
    schedule = report.get("schedule")
    schedule_id = str(schedule.get("schedule_id") or "") if isinstance(schedule, dict) else ""
    return {
        "plan_id": plan_id,
        "schedule_id": schedule_id,
        "route_decisions": [],
        "unconfigured_providers": [],
        "deliverable_route_count": 0,
        "suppressed_route_count": 0,
        REJECTION: _problem(field, message),
    }


def _problem(field: str, message: str) -> dict[str, Any]:
    return {"status_code": 422, "field": field, "message": message}


async def store(
    conn: asyncpg.Connection,
    plan: dict[str, Any],
    event: dict[str, Any],
    *,
    trigger: Literal["schedule_evaluated", "api"],
    delivery: DeliveryOptions,
    cause: Envelope,
    now: datetime,
) -> Envelope:
    """Store the plan and its decisions and enqueue NotificationPlannedV1 in the caller's transaction.

    A rejected plan, or one whose event would be past ``MAX_EVENT_BYTES``, stores nothing and
    enqueues PlanRejectedV1 (caused by ``cause``) instead.
    """
    rejection = plan.get(REJECTION)
    if rejection is not None:
        return await _reject(conn, plan, rejection, cause=cause)
    rows = history_rows(plan)
    planned = planned_event(plan, event, trigger=trigger, delivery=delivery)
    envelope = make_envelope(planned, producer=SERVICE, subject=f"plan/{plan['plan_id']}", cause=cause)
    size = len(envelope.to_json())
    if size > MAX_EVENT_BYTES:
        message = f"the plan's event would take {size} bytes; an event holds at most {MAX_EVENT_BYTES}"
        return await _reject(conn, plan, _problem("owners", message), cause=cause)
    await repo.insert_plan(conn, plan, event, trigger=trigger, generated_at=now, rows=rows)
    await enqueue(conn, envelope, schema=SERVICE)
    return envelope


async def _reject(
    conn: asyncpg.Connection, plan: dict[str, Any], rejection: dict[str, Any], *, cause: Envelope
) -> Envelope:
    rejected = PlanRejectedV1(
        status_code=rejection["status_code"],
        problems=[FieldProblem(field=rejection["field"], message=rejection["message"])],
    )
    envelope = make_envelope(rejected, producer=SERVICE, cause=cause)
    await enqueue(conn, envelope, schema=SERVICE)
    log.warning(
        "plan.rejected",
        plan_id=plan["plan_id"],
        schedule_id=plan["schedule_id"],
        field=rejection["field"],
        problem=rejection["message"],
    )
    return envelope
