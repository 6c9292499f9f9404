"""When an unacknowledged route needs something, and what is sent then (pure).

A deliver route of the current plan has two instants: ``reminder_due_at`` (the plan's
``generated_at`` + ``reminder_minutes``, only when below the SLO) and ``breach_due_at``
(``generated_at`` + its SLO). Its ``due_at`` is the earlier of those still pending; at the
reminder the owner is re-notified once, at the breach the route is escalated once to its
escalation owner. Both go out as a delivery job (``DeliverMessageV1``) whose id is fixed by the
route and the kind, so a retried timer can never send one twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from cavra_contracts.deliveries import (
    ESCALATION_SOURCE,
    DeliverMessageV1,
    DeliveryTargetV1,
    FactV1,
    MessageContentV1,
)
from cavra_contracts.escalations import EscalationKind, RouteEscalatedV1
from cavra_contracts.notifications import RouteDecisionV1
from cavra_contracts.timestamps import iso
from cavra_contracts.vocabulary import ALERT_CRITICAL, ALERT_WARNING

from .plan import age_minutes

REMINDER: Final = "reminder"
ESCALATION: Final = "escalation"
EVENT_TYPES: Final = {
    REMINDER: "cavra.go_backend.rollback_drill.notification_reminder",
    ESCALATION: "cavra.go_backend.rollback_drill.notification_escalation",
}


@dataclass(frozen=True)
class TrackedRoute:
    """A deliver route of the current plan of a schedule, with its timers."""

    route_id: str
    plan_id: str
    schedule_id: str
    position: int
    provider: str
    owner: str
    escalation_owner: str
    escalation_providers: tuple[str, ...]
    acknowledgement_minutes: int
    generated_at: datetime
    reminder_due_at: datetime | None
    breach_due_at: datetime
    reminded_at: datetime | None = None
    escalated_at: datetime | None = None


def tracked_routes(
    decisions: list[RouteDecisionV1], *, plan_id: str, generated_at: datetime
) -> list[TrackedRoute]:
    """The deliver routes of a plan with their reminder and breach instants."""
    tracked = []
    for position, decision in enumerate(decisions):
        if decision.action != "deliver":
            continue
        minutes = decision.acknowledgement_minutes
        reminder = decision.reminder_minutes
        tracked.append(
            TrackedRoute(
                route_id=decision.route_id,
                plan_id=plan_id,
                schedule_id=decision.schedule_id,
                position=position,
                provider=decision.provider,
                owner=decision.owner,
                escalation_owner=decision.escalation_owner or decision.owner,
                escalation_providers=tuple(decision.escalation_providers),
                acknowledgement_minutes=minutes,
                generated_at=generated_at,
                reminder_due_at=(
                    generated_at + timedelta(minutes=reminder)
                    if reminder is not None and 0 < reminder < minutes
                    else None
                ),
                breach_due_at=generated_at + timedelta(minutes=minutes),
            )
        )
    return tracked


def next_due(route: TrackedRoute) -> datetime | None:
    """The next instant the timer must look at ``route`` (None: nothing left to send)."""
    if route.escalated_at is not None:
        return None
    if route.reminder_due_at is not None and route.reminded_at is None:
        return min(route.reminder_due_at, route.breach_due_at)
    return route.breach_due_at


def step(route: TrackedRoute, now: datetime) -> EscalationKind | None:
    """What is due at ``now``: the escalation at the breach (inclusive), else a pending reminder.

    A reminder whose breach has also come is not sent: the escalation supersedes it.
    """
    if route.escalated_at is not None:
        return None
    if now >= route.breach_due_at:
        return "escalation"
    if route.reminder_due_at is not None and route.reminded_at is None and now >= route.reminder_due_at:
        return "reminder"
    return None


def job_id(kind: EscalationKind, route_id: str) -> str:
    """The delivery job id of a route's reminder or escalation: one per route and kind, ever."""
    return f"{kind}-{route_id}"


def recipients(route: TrackedRoute, kind: EscalationKind) -> tuple[str, list[str]]:
    """Who is told and on which providers: the owner on the route's provider (reminder), or the
    escalation owner on the escalation providers (the route's own provider when none are named)."""
    if kind == "reminder":
        return route.owner, [route.provider]
    return route.escalation_owner, list(route.escalation_providers) or [route.provider]


def deliver_command(route: TrackedRoute, kind: EscalationKind, now: datetime) -> DeliverMessageV1:
    """The delivery job that reminds the owner or escalates the route."""
    owner, providers = recipients(route, kind)
    age = age_minutes((now - route.generated_at).total_seconds()) or 0.0
    facts = {
        "Schedule": route.schedule_id,
        "Plan": route.plan_id,
        "Route": route.route_id,
        "Owner": route.owner,
        "Provider": route.provider,
        "Escalation owner": route.escalation_owner,
        "Age (minutes)": f"{age:.2f}",
        "SLO (minutes)": str(route.acknowledgement_minutes),
    }
    if kind == "reminder":
        title = f"Reminder: acknowledge the rollback drill notification for {route.schedule_id}"
        text = (
            f"{route.owner} has not acknowledged the {route.provider} notification of plan {route.plan_id} "
            f"after {age:.2f} minutes; it escalates to {route.escalation_owner} at "
            f"{route.acknowledgement_minutes} minutes."
        )
    else:
        title = f"Escalated: rollback drill notification for {route.schedule_id} not acknowledged"
        text = (
            f"{route.owner} did not acknowledge the {route.provider} notification of plan {route.plan_id} "
            f"within its SLO of {route.acknowledgement_minutes} minutes (age {age:.2f} minutes); "
            f"escalated to {route.escalation_owner}."
        )
    return DeliverMessageV1(
        job_id=job_id(kind, route.route_id),
        source=ESCALATION_SOURCE,
        content=MessageContentV1(
            kind=f"rollback_drill_{kind}",
            event_type=EVENT_TYPES[kind],
            title=title,
            text=text,
            severity=ALERT_CRITICAL if kind == "escalation" else ALERT_WARNING,
            facts=[FactV1(title=name, value=value) for name, value in facts.items()],
            data={
                "kind": kind,
                "schedule_id": route.schedule_id,
                "plan_id": route.plan_id,
                "route_id": route.route_id,
                "owner": route.owner,
                "provider": route.provider,
                "escalation_owner": route.escalation_owner,
                "age_minutes": age,
                "acknowledgement_minutes": route.acknowledgement_minutes,
                "due_at": iso(due_instant(route, kind)),
            },
        ),
        targets=[
            DeliveryTargetV1(
                target_key=provider,
                provider=provider,
                owner=owner,
                route_id=route.route_id,
                schedule_id=route.schedule_id,
                plan_id=route.plan_id,
            )
            for provider in providers
        ],
        ack_links=True,
    )


def due_instant(route: TrackedRoute, kind: EscalationKind) -> datetime:
    if kind == "reminder" and route.reminder_due_at is not None:
        return route.reminder_due_at
    return route.breach_due_at


def escalated_event(route: TrackedRoute, kind: EscalationKind, now: datetime) -> RouteEscalatedV1:
    """What the service did, for the audit log and the read models."""
    _, providers = recipients(route, kind)
    job = job_id(kind, route.route_id)
    return RouteEscalatedV1(
        escalation_id=job,
        kind=kind,
        route_id=route.route_id,
        plan_id=route.plan_id,
        schedule_id=route.schedule_id,
        provider=route.provider,
        owner=route.owner,
        escalation_owner=route.escalation_owner,
        providers=providers,
        job_id=job,
        acknowledgement_minutes=route.acknowledgement_minutes,
        age_minutes=age_minutes((now - route.generated_at).total_seconds()) or 0.0,
        due_at=iso(due_instant(route, kind)),
        escalated_at=iso(now),
    )
