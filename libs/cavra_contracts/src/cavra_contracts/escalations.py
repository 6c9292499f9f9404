"""Escalation of unacknowledged notification routes (spec §3.6, beyond it: automatic escalation).

The escalation service keeps, per route of the latest plan of each schedule, its acknowledgement
state and when it breaches its SLO. An escalation plan (:class:`EscalationPlanGeneratedV1`) is the
on-demand view; :class:`RouteEscalatedV1` records what the service did by itself: a reminder to
the owner before the breach, or the one escalation to the escalation owner at the breach.
"""

from __future__ import annotations

from typing import ClassVar, Final, Literal

from pydantic import Field

from cavra_contracts.actors import ActorV1
from cavra_contracts.base import Contract
from cavra_contracts.limits import MAX_OFFSET, MAX_PLAN_ID_LENGTH, MAX_TEXT_LENGTH
from cavra_contracts.schedules import RoutingPolicy
from cavra_contracts.subjects import MessageSpec
from cavra_contracts.vocabulary import AlertLevel

SERVICE = "escalation"

ESCALATION_PLAN_SCHEMA: Final = "cavra.go-backend-pilot.rollback-drill-notification-escalation-plan.v1"
ESCALATION_PLAN_KIND: Final = "go-backend-rollback-drill-notification-escalation-plan"

ESCALATION_PLAN_ID_PREFIX: Final = "gordesc-"

RecommendedAction = Literal["escalate_missed_drill_notification", "wait_for_acknowledgement", "no_action"]
ESCALATE: Final = "escalate_missed_drill_notification"
WAIT: Final = "wait_for_acknowledgement"
NO_ACTION: Final = "no_action"

EscalationKind = Literal["reminder", "escalation"]
"""What the service sends by itself: a reminder to the owner, or the escalation at the breach."""

MAX_PLAN_ROUTE_PAGE: Final = 1000
"""Routes of a stored escalation plan in one answer (``route_limit``, ``limit``); a plan may hold 100,000."""
DEFAULT_PLAN_ROUTE_PAGE: Final = 500


class GenerateEscalationPlanV1(Contract):
    """Build an escalation plan now over the latest plan of every schedule, and store it."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "cmd",
        SERVICE,
        "generate_escalation_plan",
        "cavra.drillops.escalation.generate-escalation-plan.v1",
        summary="POST .../escalation-plan: policy (acknowledgement_minutes, default_slo, owner_routes).",
    )

    policy: RoutingPolicy = Field(default_factory=dict)
    generated_by: str = Field(default="console", min_length=1, max_length=MAX_TEXT_LENGTH)
    actor: ActorV1


class EscalationPlanQueryV1(Contract):
    """Ask for one stored escalation plan with a page of its routes (in plan order)."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "qry",
        SERVICE,
        "escalation_plan",
        "cavra.drillops.escalation.escalation-plan-query.v1",
        summary=f"Reply: {{plan: {ESCALATION_PLAN_SCHEMA} (routes paged), metadata, limit, offset}}.",
    )

    plan_id: str = Field(max_length=MAX_PLAN_ID_LENGTH)
    limit: int = Field(default=DEFAULT_PLAN_ROUTE_PAGE, ge=0, le=MAX_PLAN_ROUTE_PAGE)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)


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
    actor: ActorV1 | None = None


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
    kind: EscalationKind
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


class EscalationCancelledV1(Contract):
    """An acknowledgement cleared a route before its reminder or escalation was due: nothing will be sent."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt",
        SERVICE,
        "escalation_cancelled",
        "cavra.drillops.escalation.escalation-cancelled.v1",
        summary="The pending reminder / escalation of a route stopped (acknowledged or resolved first).",
    )

    route_id: str
    plan_id: str
    schedule_id: str
    provider: str
    owner: str
    acknowledgement_id: str
    acknowledgement_state: str
    cancelled: list[EscalationKind]
    """What will no longer be sent (the escalation, and the reminder when it was still due)."""
    breach_due_at: str
    cancelled_at: str


__all__ = [
    "ESCALATION_PLAN_KIND",
    "ESCALATION_PLAN_SCHEMA",
    "EscalationCancelledV1",
    "EscalationPlanGeneratedV1",
    "EscalationPlanQueryV1",
    "GenerateEscalationPlanV1",
    "RouteEscalatedV1",
]
