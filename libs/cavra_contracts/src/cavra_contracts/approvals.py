"""Governed execution of approval-bound retries (spec §3.16, §4.5, stricter than the original).

An operator acknowledges a retry decision (``accepted`` by default); an approval plan lists, per failed
delivery and provider, ``request_approval`` / ``wait_for_retry_ack`` / ``already_approved`` and opens
an approval request bound to the decision's digest for each ``request_approval`` row; an approver who
is neither the retry's acknowledger nor the plan's requester decides it (separation of duties). An
approval is one-shot, expires (to decide, then to execute), a later ``denied`` revokes it, and a live
execution whose digest differs from the approved one is refused. Every refusal and expiry is an event.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import ClassVar, Final, Literal, get_args

from pydantic import Field

from cavra_contracts.actors import ActorV1
from cavra_contracts.base import Contract
from cavra_contracts.evidence import RecordedEvent
from cavra_contracts.families import Family
from cavra_contracts.limits import MAX_ID_LENGTH, MAX_OFFSET, MAX_PROVIDER_LENGTH, MAX_REF_LENGTH
from cavra_contracts.subjects import MessageSpec

SERVICE = "delivery"

RetryAckState = Literal["accepted", "deferred", "escalated", "resolved", "dismissed"]
RETRY_ACK_STATES: Final = tuple(get_args(RetryAckState))
RETRY_ACK_STATES_MESSAGE: Final = (
    "acknowledgement_state must be accepted, deferred, escalated, resolved, or dismissed"
)
ACKED_STATES: Final = frozenset({"accepted", "resolved"})
"""Retry acknowledgements that let an approval be requested (spec §3.16)."""

ApprovalState = Literal["approved", "denied", "deferred", "expired"]
APPROVAL_STATES: Final = tuple(get_args(ApprovalState))
APPROVAL_STATES_MESSAGE: Final = "approval_state must be approved, denied, deferred, or expired"
ApprovalRequestState = Literal["pending", "approved", "denied", "deferred", "expired", "consumed"]

RETRY_ACK_SCHEMA: Final = "cavra.go-backend-pilot.rollback-drill-acknowledgement-audit-delivery-retry-ack.v1"
RETRY_ACK_KIND: Final = "go-backend-rollback-drill-acknowledgement-audit-delivery-retry-ack"
APPROVAL_PLAN_SCHEMA: Final = (
    "cavra.go-backend-pilot.rollback-drill-acknowledgement-audit-delivery-retry-execution-approval-plan.v1"
)
APPROVAL_PLAN_KIND: Final = (
    "go-backend-rollback-drill-acknowledgement-audit-delivery-retry-execution-approval-plan"
)
APPROVAL_DECISION_SCHEMA: Final = (
    "cavra.go-backend-pilot.rollback-drill-acknowledgement-audit-delivery-"
    "retry-execution-approval-decision.v1"
)
APPROVAL_DECISION_KIND: Final = (
    "go-backend-rollback-drill-acknowledgement-audit-delivery-retry-execution-approval-decision"
)
MAX_APPROVAL_ROWS: Final = 1000
"""Keys one approval plan covers (the oldest failures first); the rest wait for the next plan."""

APPROVAL_ACTIONS: Final = {
    "already_approved": ("retry execution already has approved execution evidence", False),
    "wait_for_retry_ack": ("retry execution requires accepted retry acknowledgement before approval", False),
    "request_approval": ("retry execution is acknowledged and ready for governed approval", True),
}
"""Spec §3.16: approval plan action -> (reason, approval_required)."""


def approval_action(*, approved: bool, acked: bool, require_retry_ack: bool) -> str:
    """Spec §3.16: the action of one approval plan row."""
    if approved:
        return "already_approved"
    if require_retry_ack and not acked:
        return "wait_for_retry_ack"
    return "request_approval"


def separation_problem(approver: str, *, requested_by: str, acknowledged_by: Collection[str]) -> str | None:
    """Why ``approver`` may not decide, or ``None``: never the requester nor an acknowledger of the retry."""
    if approver == requested_by:
        return f"{approver} requested this approval and cannot decide it (separation of duties)"
    if approver in acknowledged_by:
        return f"{approver} acknowledged this retry and cannot approve it (separation of duties)"
    return None


class AcknowledgeRetryV1(Contract):
    """Spec §1.5 #24: acknowledge one decision of a stored retry plan."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "cmd",
        SERVICE,
        "acknowledge_retry",
        "cavra.drillops.delivery.acknowledge-retry.v1",
        summary="POST AD/retry-plans/{retry_plan_id}/acknowledgements.",
    )

    retry_plan_id: str = Field(max_length=MAX_ID_LENGTH)
    provider: str = Field(min_length=1, max_length=MAX_PROVIDER_LENGTH)
    origin_job_id: str = Field(default="", max_length=MAX_ID_LENGTH, description="delivery_id / audit_id.")
    acknowledgement_state: RetryAckState = "accepted"
    external_ref: str = Field(default="", max_length=MAX_REF_LENGTH)
    notes: str = Field(default="", max_length=2000)
    actor: ActorV1


class GenerateApprovalPlanV1(Contract):
    """Spec §1.5 #25: the approval plan of a family (approval requests for acknowledged retries)."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "cmd",
        SERVICE,
        "generate_approval_plan",
        "cavra.drillops.delivery.generate-approval-plan.v1",
        summary="POST AD/retry-execution-approval-plan.",
    )

    family: Family = "audit"
    require_retry_ack: bool = True
    actor: ActorV1


class DecideApprovalV1(Contract):
    """Spec §1.5 #26: an approver's decision on one candidate of an approval plan."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "cmd",
        SERVICE,
        "decide_approval",
        "cavra.drillops.delivery.decide-approval.v1",
        summary="POST AD/retry-execution-approval-plans/{approval_plan_id}/decisions.",
    )

    approval_plan_id: str = Field(max_length=MAX_ID_LENGTH)
    provider: str = Field(min_length=1, max_length=MAX_PROVIDER_LENGTH)
    origin_job_id: str = Field(default="", max_length=MAX_ID_LENGTH)
    retry_plan_id: str = Field(default="", max_length=MAX_ID_LENGTH)
    approval_state: ApprovalState = "approved"
    external_ref: str = Field(default="", max_length=MAX_REF_LENGTH)
    notes: str = Field(default="", max_length=2000)
    actor: ActorV1


class RetryAcknowledgedV1(RecordedEvent):
    """A retry acknowledgement was stored."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt", SERVICE, "retry_acknowledged", "cavra.drillops.delivery.retry-acknowledged.v1"
    )

    acknowledgement_id: str
    actor: ActorV1


class ApprovalPlanGeneratedV1(RecordedEvent):
    """An approval plan was stored (and its approval requests opened)."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt", SERVICE, "approval_plan_generated", "cavra.drillops.delivery.approval-plan-generated.v1"
    )

    approval_plan_id: str
    family: Family
    actor: ActorV1


class ApprovalDecidedV1(RecordedEvent):
    """An approval decision was stored (approved, denied, deferred or expired)."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt", SERVICE, "approval_decided", "cavra.drillops.delivery.approval-decided.v1"
    )

    decision_id: str
    approval_id: str
    approval_state: ApprovalState
    actor: ActorV1


class ApprovalRefusedV1(Contract):
    """An approval decision was refused: separation of duties, or the request is no longer decidable."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt", SERVICE, "approval_refused", "cavra.drillops.delivery.approval-refused.v1"
    )

    status_code: int
    approval_plan_id: str
    approval_id: str = ""
    provider: str
    reason: Literal["separation_of_duties", "approval_expired", "not_decidable"]
    message: str
    actor: ActorV1


class ApprovalExpiredV1(Contract):
    """An approval request or an approval expired unused."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt", SERVICE, "approval_expired", "cavra.drillops.delivery.approval-expired.v1"
    )

    approval_id: str
    family: Family
    provider: str
    origin_job_id: str
    digest: str
    stage: Literal["decide", "execute"]


class ApprovalsQueryV1(Contract):
    """Approval requests (pending, approved, ...) of one or every approval-bound family."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "qry", SERVICE, "approvals", "cavra.drillops.delivery.approvals-query.v1"
    )

    state: ApprovalRequestState | None = None
    family: Family | None = None
    approval_id: str = Field(default="", max_length=MAX_ID_LENGTH, description="One request (empty: any).")
    limit: int = Field(default=50, ge=0, le=500)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)


__all__ = [
    "APPROVAL_ACTIONS",
    "APPROVAL_STATES_MESSAGE",
    "RETRY_ACK_STATES_MESSAGE",
    "AcknowledgeRetryV1",
    "ApprovalDecidedV1",
    "ApprovalExpiredV1",
    "ApprovalPlanGeneratedV1",
    "ApprovalRefusedV1",
    "ApprovalsQueryV1",
    "DecideApprovalV1",
    "GenerateApprovalPlanV1",
    "RetryAcknowledgedV1",
    "approval_action",
    "separation_problem",
]
