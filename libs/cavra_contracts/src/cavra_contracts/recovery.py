"""Connector recovery: playbooks, closures, the recovery SLO report and recovery escalations
(spec §3.18-3.20), owned by the delivery service (its ``recovery`` package).

The recovery report is a query: it is computed from the stored execution records, playbooks and
closures whenever it is asked for and never written (the original persists one on every read).
The reporting service builds the executive report from it (:class:`RecoveryReportQueryV1`).

Commands come from the gateway carrying the verified actor; each is answered by one event (the
record it stored, a :class:`RecordedEvent`) or by :class:`RecoveryRequestRejectedV1` (nothing stored).
"""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field, StringConstraints

from cavra_contracts.actors import ActorV1
from cavra_contracts.base import Contract, UtcDatetime
from cavra_contracts.evidence import RecordedEvent
from cavra_contracts.failures import RequestRefused
from cavra_contracts.families import Family
from cavra_contracts.limits import (
    MAX_EVIDENCE_REFS,
    MAX_ID_LENGTH,
    MAX_OFFSET,
    MAX_PLAN_ID_LENGTH,
    MAX_PROVIDER_LENGTH,
    MAX_PROVIDER_SELECTION_LENGTH,
    MAX_REF_LENGTH,
    MAX_TEXT_LENGTH,
)
from cavra_contracts.notifications import DeliveryOptions
from cavra_contracts.recovery_names import (
    CLOSED_STATES,
    CLOSURE_KIND,
    CLOSURE_PREFIX,
    CLOSURE_SCHEMA,
    CLOSURE_STATE_MESSAGE,
    CLOSURE_STATES,
    DEFAULT_LOOKBACK_HOURS,
    DEFAULT_MAX_ROUTES,
    DEFAULT_MIN_FAILURE_COUNT,
    DEFAULT_PAGE,
    DEFAULT_RECOVERY_SLO_MINUTES,
    DEFAULT_REPORT_ROWS,
    ESCALATION_ACK_KIND,
    ESCALATION_ACK_PREFIX,
    ESCALATION_ACK_SCHEMA,
    ESCALATION_ACK_STATE_MESSAGE,
    ESCALATION_ACK_STATES,
    ESCALATION_DELIVERY_KIND,
    ESCALATION_EVENT_TYPE,
    ESCALATION_JOB_PREFIX,
    ESCALATION_PLAN_KIND,
    ESCALATION_PLAN_PREFIX,
    ESCALATION_PLAN_SCHEMA,
    MAX_LOOKBACK_HOURS,
    MAX_MIN_FAILURE_COUNT,
    MAX_PAGE,
    MAX_RECOVERY_SLO_MINUTES,
    MAX_REPORT_ROWS,
    MAX_ROUTES,
    PLAYBOOK_KIND,
    PLAYBOOK_PREFIX,
    PLAYBOOK_SCHEMA,
    RECOVERY_REPORT_SCHEMA,
    REPORT_PREFIX,
    Category,
    ClosureState,
    EscalationAckState,
    recovery_category,
)
from cavra_contracts.subjects import MessageSpec

SERVICE = "delivery"

Provider = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=MAX_PROVIDER_LENGTH, pattern=r"^[A-Za-z0-9_-]+$"
    ),
]
VerificationRef = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_REF_LENGTH)
]


class RecoveryReportQueryV1(Contract):
    """Compute the recovery SLO report now (spec §3.19), with the recovery escalation plan it implies
    (spec §3.20, not stored) and closure-time statistics over a window.

    Reply result: ``{"report": <retry-recovery-report.v1>, "escalation_plan": <recovery-escalation-plan.v1,
    not stored>, "statistics": {"window_start", "window_end", "closure_count", "closure_minutes_median",
    "closure_minutes_p90", "closure_state_counts", "execution_count", "execution_status_counts",
    "playbook_provider_count", "open_count", "breached_count"}}`` — the statistics count what happened
    inside ``[window_start, window_end)`` (closures by ``closed_at``, executions by ``executed_at``,
    playbooks by ``generated_at``); without a window they cover everything.
    """

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "qry",
        SERVICE,
        "recovery_report",
        "cavra.drillops.delivery.recovery-report-query.v1",
        summary="Reply: {report: retry-recovery-report.v1, escalation_plan (not stored), statistics}.",
    )

    recovery_slo_minutes: int = Field(default=DEFAULT_RECOVERY_SLO_MINUTES, ge=1, le=MAX_RECOVERY_SLO_MINUTES)
    at: UtcDatetime | None = Field(default=None, description="Evaluate as of this moment (default: now).")
    window_start: UtcDatetime | None = None
    window_end: UtcDatetime | None = None
    generated_by: str = Field(default="console", min_length=1, max_length=MAX_TEXT_LENGTH)
    family: Family | None = Field(
        default=None, description="Only the execution records of this family (default: every family)."
    )
    row_limit: int = Field(
        default=DEFAULT_REPORT_ROWS,
        ge=0,
        le=MAX_REPORT_ROWS,
        description="Recovery rows in the answer, most urgent first (the counts cover every row).",
    )


# --- commands -------------------------------------------------------------------------------------


class GenerateRecoveryPlaybookV1(Contract):
    """Build and store a connector recovery playbook from repeated delivery failures (spec §3.18)."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "cmd",
        SERVICE,
        "generate_recovery_playbook",
        "cavra.drillops.delivery.generate-recovery-playbook.v1",
        summary="Answered by ConnectorRecoveryPlaybookGeneratedV1.",
    )

    min_failure_count: int = Field(default=DEFAULT_MIN_FAILURE_COUNT, ge=1, le=MAX_MIN_FAILURE_COUNT)
    lookback_hours: int = Field(default=DEFAULT_LOOKBACK_HOURS, ge=1, le=MAX_LOOKBACK_HOURS)
    actor: ActorV1


class CloseRecoveryV1(Contract):
    """Record a closure of one provider of a stored playbook (spec §3.18)."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "cmd",
        SERVICE,
        "close_recovery",
        "cavra.drillops.delivery.close-recovery.v1",
        summary="Answered by ConnectorRecoveryClosedV1, or a 404 rejection (unknown playbook or provider).",
    )

    playbook_id: str = Field(min_length=1, max_length=MAX_ID_LENGTH)
    provider: Provider
    closure_state: ClosureState = "resolved"
    external_ref: str = Field(default="", max_length=MAX_REF_LENGTH)
    notes: str = Field(default="", max_length=2000)
    verification_refs: list[VerificationRef] = Field(default_factory=list, max_length=MAX_EVIDENCE_REFS)
    actor: ActorV1


class PlanRecoveryEscalationV1(Contract):
    """Build and store a recovery escalation plan from a fresh recovery report (spec §3.20)."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "cmd",
        SERVICE,
        "plan_recovery_escalation",
        "cavra.drillops.delivery.plan-recovery-escalation.v1",
        summary="Answered by RecoveryEscalationPlannedV1.",
    )

    recovery_slo_minutes: int = Field(default=DEFAULT_RECOVERY_SLO_MINUTES, ge=1, le=MAX_RECOVERY_SLO_MINUTES)
    actor: ActorV1


class DeliverRecoveryEscalationV1(Contract):
    """Deliver a stored plan (or ``latest``) to the operations channels (spec §3.20, #31)."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "cmd",
        SERVICE,
        "deliver_recovery_escalation",
        "cavra.drillops.delivery.deliver-recovery-escalation.v1",
        summary="Answered by RecoveryEscalationDeliveryRequestedV1 (its MessageDeliveredV1 follows).",
    )

    plan_id: str = Field(min_length=1, max_length=MAX_ID_LENGTH, description="A plan id or `latest`.")
    provider: str = Field(
        default="",
        max_length=MAX_PROVIDER_SELECTION_LENGTH,
        pattern=r"^$|^[A-Za-z0-9_-]+(\s*,\s*[A-Za-z0-9_-]+)*$",
        description="Comma list overriding the policy's operations channels (empty: the policy's).",
    )
    recovery_slo_minutes: int = Field(default=DEFAULT_RECOVERY_SLO_MINUTES, ge=1, le=MAX_RECOVERY_SLO_MINUTES)
    max_routes: int = Field(default=DEFAULT_MAX_ROUTES, ge=1, le=MAX_ROUTES)
    delivery: DeliveryOptions = Field(default_factory=DeliveryOptions)
    actor: ActorV1


class AcknowledgeRecoveryEscalationV1(Contract):
    """Acknowledge a stored plan for one provider (spec §3.20, #32)."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "cmd",
        SERVICE,
        "acknowledge_recovery_escalation",
        "cavra.drillops.delivery.acknowledge-recovery-escalation.v1",
        summary="Answered by RecoveryEscalationAcknowledgedV1, or a 404 rejection.",
    )

    plan_id: str = Field(min_length=1, max_length=MAX_ID_LENGTH)
    provider: Provider
    acknowledgement_state: EscalationAckState = "acknowledged"
    external_ref: str = Field(default="", max_length=MAX_REF_LENGTH)
    notes: str = Field(default="", max_length=2000)
    escalation_reason: str = Field(default="", max_length=MAX_TEXT_LENGTH)
    actor: ActorV1


# --- events ---------------------------------------------------------------------------------------


class ConnectorRecoveryPlaybookGeneratedV1(RecordedEvent):
    """A playbook was stored (``record.payload`` is the §3.18 playbook)."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt",
        SERVICE,
        "connector_recovery_playbook_generated",
        "cavra.drillops.delivery.connector-recovery-playbook-generated.v1",
        summary=f"Record kind {PLAYBOOK_KIND}.",
    )

    playbook_id: str
    actor: ActorV1


class ConnectorRecoveryClosedV1(RecordedEvent):
    """A closure was stored (``record.payload`` is the §3.18 closure)."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt",
        SERVICE,
        "connector_recovery_closed",
        "cavra.drillops.delivery.connector-recovery-closed.v1",
        summary=f"Record kind {CLOSURE_KIND}.",
    )

    closure_id: str
    playbook_id: str
    provider: str
    actor: ActorV1


class RecoveryEscalationPlannedV1(RecordedEvent):
    """A recovery escalation plan was stored (``record.payload`` is the §3.20 plan)."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt",
        SERVICE,
        "recovery_escalation_planned",
        "cavra.drillops.delivery.recovery-escalation-planned.v1",
        summary=f"Record kind {ESCALATION_PLAN_KIND}.",
    )

    plan_id: str
    actor: ActorV1


class RecoveryEscalationDeliveryRequestedV1(RecordedEvent):
    """A plan's delivery job was enqueued (its MessageDeliveredV1 follows, job_id = ``job_id``)."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt",
        SERVICE,
        "recovery_escalation_delivery_requested",
        "cavra.drillops.delivery.recovery-escalation-delivery-requested.v1",
        summary=f"Record kind {ESCALATION_DELIVERY_KIND}; the DeliverMessageV1 went out with it.",
    )

    plan_id: str
    job_id: str = Field(max_length=MAX_PLAN_ID_LENGTH)
    providers: list[str]
    plan_created: bool = Field(default=False, description="`latest` found no plan: this one was built.")
    actor: ActorV1


class RecoveryEscalationAcknowledgedV1(RecordedEvent):
    """An acknowledgement of a plan was stored (``record.payload`` is the §3.20 ack)."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt",
        SERVICE,
        "recovery_escalation_acknowledged",
        "cavra.drillops.delivery.recovery-escalation-acknowledged.v1",
        summary=f"Record kind {ESCALATION_ACK_KIND}.",
    )

    acknowledgement_id: str
    plan_id: str
    provider: str
    actor: ActorV1


class RecoveryRequestRejectedV1(RequestRefused):
    """A recovery command was refused; nothing was stored or sent."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt",
        SERVICE,
        "recovery_request_rejected",
        "cavra.drillops.delivery.recovery-request-rejected.v1",
        summary="400 unconfigured provider, 404 unknown playbook / plan / provider.",
    )


# --- queries --------------------------------------------------------------------------------------


class RecoveryPlaybooksQueryV1(Contract):
    """Stored playbooks, newest first, each with its providers and their latest closure state."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "qry",
        SERVICE,
        "recovery_playbooks",
        "cavra.drillops.delivery.recovery-playbooks-query.v1",
        summary="Reply: {items, total, limit, offset}.",
    )

    playbook_id: str = Field(default="", max_length=MAX_ID_LENGTH, description="One playbook (empty: any).")
    limit: int = Field(default=DEFAULT_PAGE, ge=1, le=MAX_PAGE)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)


class RecoveryEscalationPlansQueryV1(Contract):
    """Stored recovery escalation plans, newest first."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "qry",
        SERVICE,
        "recovery_escalation_plans",
        "cavra.drillops.delivery.recovery-escalation-plans-query.v1",
        summary="Reply: {items, total, limit, offset}.",
    )

    limit: int = Field(default=DEFAULT_PAGE, ge=1, le=MAX_PAGE)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)


class RecoveryEscalationPlanQueryV1(Contract):
    """One stored plan with its deliveries and acknowledgements (404 unknown)."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "qry",
        SERVICE,
        "recovery_escalation_plan",
        "cavra.drillops.delivery.recovery-escalation-plan-query.v1",
        summary="Reply: {plan, metadata, deliveries, acknowledgements}.",
    )

    plan_id: str = Field(min_length=1, max_length=MAX_ID_LENGTH)


__all__ = [
    "CLOSED_STATES",
    "CLOSURE_KIND",
    "CLOSURE_PREFIX",
    "CLOSURE_SCHEMA",
    "CLOSURE_STATES",
    "CLOSURE_STATE_MESSAGE",
    "DEFAULT_LOOKBACK_HOURS",
    "DEFAULT_MAX_ROUTES",
    "DEFAULT_MIN_FAILURE_COUNT",
    "DEFAULT_PAGE",
    "DEFAULT_RECOVERY_SLO_MINUTES",
    "DEFAULT_REPORT_ROWS",
    "ESCALATION_ACK_KIND",
    "ESCALATION_ACK_PREFIX",
    "ESCALATION_ACK_SCHEMA",
    "ESCALATION_ACK_STATES",
    "ESCALATION_ACK_STATE_MESSAGE",
    "ESCALATION_DELIVERY_KIND",
    "ESCALATION_EVENT_TYPE",
    "ESCALATION_JOB_PREFIX",
    "ESCALATION_PLAN_KIND",
    "ESCALATION_PLAN_PREFIX",
    "ESCALATION_PLAN_SCHEMA",
    "MAX_LOOKBACK_HOURS",
    "MAX_MIN_FAILURE_COUNT",
    "MAX_PAGE",
    "MAX_RECOVERY_SLO_MINUTES",
    "MAX_REPORT_ROWS",
    "MAX_ROUTES",
    "PLAYBOOK_KIND",
    "PLAYBOOK_PREFIX",
    "PLAYBOOK_SCHEMA",
    "RECOVERY_REPORT_SCHEMA",
    "REPORT_PREFIX",
    "AcknowledgeRecoveryEscalationV1",
    "Category",
    "CloseRecoveryV1",
    "ClosureState",
    "ConnectorRecoveryClosedV1",
    "ConnectorRecoveryPlaybookGeneratedV1",
    "DeliverRecoveryEscalationV1",
    "EscalationAckState",
    "GenerateRecoveryPlaybookV1",
    "PlanRecoveryEscalationV1",
    "RecoveryEscalationAcknowledgedV1",
    "RecoveryEscalationDeliveryRequestedV1",
    "RecoveryEscalationPlanQueryV1",
    "RecoveryEscalationPlannedV1",
    "RecoveryEscalationPlansQueryV1",
    "RecoveryPlaybooksQueryV1",
    "RecoveryReportQueryV1",
    "RecoveryRequestRejectedV1",
    "recovery_category",
]
