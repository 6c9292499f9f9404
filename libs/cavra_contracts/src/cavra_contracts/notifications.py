"""Notification plans (router) and connector delivery (delivery): documents and messages.

Public schema_version strings kept from the original CAVRA:

* ``cavra.go-backend-pilot.rollback-drill-notification-plan.v1`` — the plan;
* ``cavra.go-backend-pilot.rollback-drill-notification.v1`` — the notification event
  (event_type ``cavra.go_backend.rollback_drill.notification``);
* ``cavra.go-backend-pilot.rollback-drill-routing-history.v1`` — flattened route history;
* ``cavra.go-backend-pilot.rollback-drill-routing-suppression-trend.v1`` — suppression trend;
* ``cavra.connector.delivery.v1`` — a redacted delivery result.
"""

from __future__ import annotations

from typing import ClassVar, Final, Literal

from pydantic import Field

from cavra_contracts.base import Contract, UtcDatetime
from cavra_contracts.limits import (
    MAX_ID_LENGTH,
    MAX_OFFSET,
    MAX_PLAN_ID_LENGTH,
    MAX_PROVIDER_LENGTH,
    MAX_PROVIDER_SELECTION_LENGTH,
    MAX_RETRIES,
    MAX_ROUTE_HISTORY_LIMIT,
    MAX_TEXT_LENGTH,
    MAX_TIMEOUT_SECONDS,
)
from cavra_contracts.scheduler import FieldProblem
from cavra_contracts.schedules import Identifier, RoutingPolicy
from cavra_contracts.sorting import WITH_TOTAL_HELP, RouteHistorySort
from cavra_contracts.subjects import MessageSpec
from cavra_contracts.vocabulary import (
    AlertLevel,
    DeliveryOutcome,
    ReadinessStatus,
    RouteAction,
    RouteCategory,
)

PLAN_SCHEMA = "cavra.go-backend-pilot.rollback-drill-notification-plan.v1"
NOTIFICATION_SCHEMA = "cavra.go-backend-pilot.rollback-drill-notification.v1"
NOTIFICATION_EVENT_TYPE: Final = "cavra.go_backend.rollback_drill.notification"
ROUTING_HISTORY_SCHEMA = "cavra.go-backend-pilot.rollback-drill-routing-history.v1"
SUPPRESSION_TREND_SCHEMA = "cavra.go-backend-pilot.rollback-drill-routing-suppression-trend.v1"
DELIVERY_SCHEMA = "cavra.connector.delivery.v1"
DELIVERY_RECORD_KIND = "release-connector-delivery"
NOTIFICATION_SOURCE = "go_backend_rollback_drill_notification"
TREND_KIND = "go-backend-rollback-drill-routing-suppression-trend"


class MaintenanceWindowRefV1(Contract):
    """The maintenance window that suppressed a route (public-safe: id, span, reason)."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt",
        "router",
        "maintenance_window_ref",
        "cavra.drillops.router.maintenance-window-ref.v1",
        channel=False,
    )

    window_id: str
    start_at: str
    end_at: str
    reason: str


class OwnerAvailabilityV1(Contract):
    """Whether the owner's calendar let the route reach them, and why."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt", "router", "owner_availability", "cavra.drillops.router.owner-availability.v1", channel=False
    )

    available: bool = True
    reason: str = ""
    start_at: str | None = None
    end_at: str | None = None


class RouteDecisionV1(Contract):
    """One owner x provider route of a plan and what was decided for it."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt", "router", "route_decision", "cavra.drillops.router.route-decision.v1", channel=False
    )

    route_id: str = Field(
        description="The router's id of this route decision (gordroute-...), unique per plan and route; "
        "carried into provider payloads and delivery evidence; acknowledgements key on it."
    )
    route_key: str = Field(description="Stable key of the schedule x provider x owner route across plans.")
    schedule_id: str
    provider: str
    owner: str
    acknowledgement_minutes: int
    escalation_owner: str
    action: RouteAction
    reason: str
    category: RouteCategory
    maintenance_window: MaintenanceWindowRefV1 | None = None
    owner_availability: OwnerAvailabilityV1 = Field(default_factory=OwnerAvailabilityV1)
    escalation_providers: list[str] = Field(
        default_factory=list,
        description="Where an escalation of this route goes: the escalation owner's providers in the "
        "routing policy (empty: the route's own provider).",
    )
    reminder_minutes: int | None = Field(
        default=None, description="Re-notify the owner once this many minutes after the plan, before the SLO."
    )


class NotificationPlanV1(Contract):
    """The typed plan every consumer reads: ``cavra.go-backend-pilot.rollback-drill-notification-plan.v1``
    without the owner routes and controls of the stored document (``GET .../plans/{plan_id}`` has those)."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt", "router", "notification_plan", PLAN_SCHEMA, channel=False
    )

    schema_version: Literal["cavra.go-backend-pilot.rollback-drill-notification-plan.v1"] = (
        "cavra.go-backend-pilot.rollback-drill-notification-plan.v1"
    )
    product: str = "CAVRA"
    plan_id: str
    schedule_id: str
    generated_at: str
    generated_by: str
    status: ReadinessStatus
    alert_level: AlertLevel
    eligible_providers: list[str]
    selected_providers: list[str]
    acknowledgement_required_providers: list[str]
    suppressed_providers: list[str]
    unconfigured_providers: list[str]
    owners: list[str]
    route_decisions: list[RouteDecisionV1]
    deliverable_route_count: int
    suppressed_route_count: int
    maintenance_suppressed_count: int
    calendar_suppressed_count: int
    healthy_suppressed_count: int
    next_due_at: str
    reason: str

    def deliverable(self) -> list[RouteDecisionV1]:
        """The routes to deliver, in plan order."""
        return [decision for decision in self.route_decisions if decision.action == "deliver"]


class NotificationSummaryV1(Contract):
    """The schedule facts a notification states (from the notification event's ``summary``)."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt",
        "router",
        "notification_summary",
        "cavra.drillops.router.notification-summary.v1",
        channel=False,
    )

    environment: str = ""
    latest_drill_id: str = ""
    latest_executed_at: str = ""
    next_due_at: str = ""
    days_until_due: float | None = None
    stale: bool = False
    due_soon: bool = False
    interval_days: int | None = None


class NotificationContentV1(Contract):
    """What every route of a plan says (from ``cavra.go-backend-pilot.rollback-drill-notification.v1``)."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt",
        "router",
        "notification_content",
        "cavra.drillops.router.notification-content.v1",
        channel=False,
    )

    title: str
    message: str
    runbook_ref: str = ""
    evidence_refs: list[str] = Field(default_factory=list)
    summary: NotificationSummaryV1 = Field(default_factory=NotificationSummaryV1)


class DeliveryOptions(Contract):
    """How hard to try: attempts are ``retries + 1`` per route, each bounded by ``timeout_seconds``."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt", "router", "delivery_options", "cavra.drillops.delivery-options.v1", channel=False
    )

    retries: int | None = Field(default=None, ge=0, le=MAX_RETRIES)
    timeout_seconds: float | None = Field(default=None, gt=0, le=MAX_TIMEOUT_SECONDS)


# --- router ---------------------------------------------------------------------------------


class PlanNotificationV1(Contract):
    """Build a notification plan now (and deliver its deliverable routes)."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "cmd",
        "router",
        "plan_notification",
        "cavra.drillops.router.plan-notification.v1",
        summary="Build a notification plan on demand (POST .../rollback-drill-notifications/deliver).",
    )

    schedule_id: Identifier | None = None
    provider: str = Field(default="all", max_length=MAX_PROVIDER_SELECTION_LENGTH)
    routing_policy: RoutingPolicy | None = None
    force: bool = False
    generated_by: str = Field(default="console", max_length=MAX_TEXT_LENGTH)
    delivery: DeliveryOptions = Field(default_factory=DeliveryOptions)


class NotificationPlannedV1(Contract):
    """A plan was built: the typed plan and what its notifications say, sized for its consumers."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt",
        "router",
        "notification_planned",
        "cavra.drillops.router.notification-planned.v1",
        summary="A notification plan (typed route decisions) and what its notifications say.",
    )

    plan: NotificationPlanV1
    content: NotificationContentV1
    trigger: Literal["schedule_evaluated", "api"]
    delivery: DeliveryOptions = Field(default_factory=DeliveryOptions)


class PlanRejectedV1(Contract):
    """A plan command could not be carried out; nothing was stored."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt",
        "router",
        "plan_rejected",
        "cavra.drillops.router.plan-rejected.v1",
        summary="A plan command was rejected (unknown schedule, no report, ...).",
    )

    status_code: int
    problems: list[FieldProblem]


class RouteHistoryQueryV1(Contract):
    """Ask for flattened route decisions (spec §3.7), newest first."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "qry",
        "router",
        "route_history",
        "cavra.drillops.router.route-history-query.v1",
        summary=f"Reply: {ROUTING_HISTORY_SCHEMA}.",
    )

    schedule_id: str = Field(default="", max_length=MAX_ID_LENGTH)
    provider: str = Field(default="", max_length=MAX_PROVIDER_LENGTH)
    owner: str = Field(default="", max_length=MAX_TEXT_LENGTH)
    action: str = Field(default="", max_length=MAX_TEXT_LENGTH)
    category: str = Field(default="", max_length=MAX_TEXT_LENGTH)
    limit: int = Field(default=50, ge=1, le=MAX_ROUTE_HISTORY_LIMIT)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)
    sort: RouteHistorySort = Field(default="", description="Order of the page (empty: newest first).")
    with_total: bool = Field(default=True, description=WITH_TOTAL_HELP)


class SuppressionTrendQueryV1(Contract):
    """Ask for the suppression trend (spec §3.8); stored once per distinct content."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "qry",
        "router",
        "suppression_trend",
        "cavra.drillops.router.suppression-trend-query.v1",
        summary=f"Reply: {{trend: {SUPPRESSION_TREND_SCHEMA}, metadata}}.",
    )

    schedule_id: str = Field(default="", max_length=MAX_ID_LENGTH)
    provider: str = Field(default="", max_length=MAX_PROVIDER_LENGTH)
    owner: str = Field(default="", max_length=MAX_TEXT_LENGTH)
    generated_by: str = Field(default="console", max_length=MAX_TEXT_LENGTH)


class PlanQueryV1(Contract):
    """Ask for one stored plan."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "qry", "router", "plan", "cavra.drillops.router.plan-query.v1", summary="Reply: {plan, metadata}."
    )

    plan_id: str = Field(max_length=MAX_PLAN_ID_LENGTH)


# --- delivery -------------------------------------------------------------------------------


class AttemptEvidenceV1(Contract):
    """One HTTP attempt: never a URL path, header, body or secret."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt", "delivery", "attempt_evidence", "cavra.drillops.delivery.attempt-evidence.v1", channel=False
    )

    attempt: int
    status_code: int | None
    latency_ms: float
    outcome: str
    error_class: str | None
    retry_after_seconds: float | None = None


class RouteDeliveryV1(Contract):
    """Redacted evidence of delivering one route through one connector."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt", "delivery", "route_delivery", "cavra.drillops.delivery.route-delivery.v1", channel=False
    )

    delivery_id: str
    route_id: str = Field(description="The router's route id (RouteDecisionV1.route_id).")
    route_key: str
    plan_id: str = ""
    provider: str
    owner: str
    connector: str | None
    connector_type: str | None
    target_host: str | None
    outcome: DeliveryOutcome
    idempotency_key: str
    attempt_count: int
    status_code: int | None
    external_ref: str | None = None
    deduplicated: bool = False
    attempts: list[AttemptEvidenceV1]
    completed_at: UtcDatetime | None


class NotificationDeliveredV1(Contract):
    """``cavra.go_backend.rollback_drill.notification``: a plan's routes were delivered (or failed)."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt",
        "delivery",
        "rollback_drill_notification",
        "cavra.drillops.delivery.rollback-drill-notification-delivered.v1",
        summary="event_type cavra.go_backend.rollback_drill.notification: "
        "redacted delivery evidence of a plan.",
    )

    event_type: Literal["cavra.go_backend.rollback_drill.notification"] = NOTIFICATION_EVENT_TYPE
    plan_id: str
    schedule_id: str
    alert_level: str
    success: bool
    record_id: str
    connector_delivery_source: str = NOTIFICATION_SOURCE
    deliveries: list[RouteDeliveryV1]


class DeliveryStatusQueryV1(Contract):
    """Ask for the delivery evidence of one plan."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "qry",
        "delivery",
        "delivery_status",
        "cavra.drillops.delivery.delivery-status-query.v1",
        summary="Reply: {plan_id, complete, success, deliveries[], record}.",
    )

    plan_id: str = Field(max_length=MAX_PLAN_ID_LENGTH)


class ConnectorsQueryV1(Contract):
    """Ask which connectors are configured (names, types, problems; never secrets)."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "qry",
        "delivery",
        "connectors",
        "cavra.drillops.delivery.connectors-query.v1",
        summary="Reply: {configured, error, routable_providers, connectors: [{name, type, host, breaker, "
        "consecutive_failures, quarantined_until}], problems: {name: message}}.",
    )
