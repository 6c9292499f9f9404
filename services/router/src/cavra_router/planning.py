"""Build a plan, store it with its route decisions, and emit NotificationPlannedV1 (one transaction)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

import asyncpg

from cavra_contracts.envelope import Envelope, make_envelope
from cavra_contracts.notifications import (
    DeliveryOptions,
    NotificationContentV1,
    NotificationPlannedV1,
    NotificationPlanV1,
)
from cavra_router import SERVICE, domain
from cavra_router import repository as repo
from cavra_runtime.outbox import enqueue


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
    """The plan and its notification event (pure)."""
    plan = domain.build_notification_plan(
        report,
        plan_id=plan_id,
        requested_provider=requested_provider,
        available_providers=configured,
        configured_providers=configured,
        generated_by=generated_by,
        force=force,
        routing_policy=routing_policy,
        now=now,
    )
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
    """Store the plan and its decisions and enqueue NotificationPlannedV1 in the caller's transaction."""
    rows = history_rows(plan)
    await repo.insert_plan(conn, plan, event, trigger=trigger, generated_at=now, rows=rows)
    planned = planned_event(plan, event, trigger=trigger, delivery=delivery)
    envelope = make_envelope(planned, producer=SERVICE, subject=f"plan/{plan['plan_id']}", cause=cause)
    await enqueue(conn, envelope, schema=SERVICE)
    return envelope
