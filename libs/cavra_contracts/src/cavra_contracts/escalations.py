"""Escalation of unacknowledged notification routes (spec §3.6, beyond it: automatic escalation).

The escalation service keeps, per route of the latest plan of each schedule, its acknowledgement
state and when it breaches its SLO. An escalation plan (:class:`EscalationPlanGeneratedV1`) is the
on-demand view; :class:`RouteEscalatedV1` records what the service did by itself: a reminder to
the owner before the breach, or the one escalation to the escalation owner at the breach.
"""

from __future__ import annotations

from typing import ClassVar, Final, Literal

from cavra_contracts.base import Contract
from cavra_contracts.subjects import MessageSpec
from cavra_contracts.vocabulary import AlertLevel

SERVICE = "escalation"

ESCALATION_PLAN_SCHEMA: Final = "cavra.go-backend-pilot.rollback-drill-notification-escalation-plan.v1"
ESCALATION_PLAN_KIND: Final = "go-backend-rollback-drill-notification-escalation-plan"

RecommendedAction = Literal["escalate_missed_drill_notification", "wait_for_acknowledgement", "no_action"]


class EscalationPlanGeneratedV1(Contract):
    """An escalation plan was built and stored (its routes are asked for with the plan query)."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt",
        SERVICE,
        "escalation_plan_generated",
        "cavra.drillops.escalation.escalation-plan-generated.v1",
        summary="Summary of a stored escalation plan (routes by query: a plan may hold 100,000).",
    )

    plan_id: str
    generated_at: str
    generated_by: str
    alert_level: AlertLevel
    acknowledgement_minutes: int
    route_count: int
    outstanding_count: int
    breached_count: int


class RouteEscalatedV1(Contract):
    """The service escalated a route by itself: a reminder to its owner, or the escalation at the breach."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt",
        SERVICE,
        "route_escalated",
        "cavra.drillops.escalation.route-escalated.v1",
        summary="Automatic reminder or escalation of an unacknowledged route (sent as job job_id).",
    )

    escalation_id: str
    kind: Literal["reminder", "escalation"]
    route_id: str
    plan_id: str
    schedule_id: str
    provider: str
    owner: str
    escalation_owner: str
    providers: list[str]
    """Where it was sent: the escalation owner's providers (the route's own when the policy names none)."""
    job_id: str
    acknowledgement_minutes: int
    age_minutes: float
    due_at: str
    escalated_at: str


__all__ = ["EscalationPlanGeneratedV1", "RouteEscalatedV1"]
