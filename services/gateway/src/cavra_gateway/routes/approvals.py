"""Governed execution of approval-bound retries (spec §1.5 #24-26, §3.16): retry acknowledgements by an
operator, approval plans, approval decisions by an approver who neither requested nor acknowledged the
retry, and the list of approval requests. Thin routes: validate, command the delivery service, answer."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from cavra_contracts.approvals import (
    APPROVAL_STATES,
    APPROVAL_STATES_MESSAGE,
    RETRY_ACK_STATES,
    RETRY_ACK_STATES_MESSAGE,
    AcknowledgeRetryV1,
    ApprovalDecidedV1,
    ApprovalExpiredV1,
    ApprovalPlanGeneratedV1,
    ApprovalRefusedV1,
    ApprovalRequestState,
    ApprovalsQueryV1,
    DecideApprovalV1,
    GenerateApprovalPlanV1,
    RetryAcknowledgedV1,
)
from cavra_contracts.families import Family
from cavra_contracts.limits import (
    MAX_ID_LENGTH,
    MAX_OFFSET,
    MAX_PROVIDER_LENGTH,
    MAX_REF_LENGTH,
    MAX_TEXT_LENGTH,
)
from cavra_contracts.retries import RetryRequestRejectedV1
from cavra_gateway.answers import awaited, recorded
from cavra_gateway.api_models import Accepted
from cavra_gateway.auth import Approver, Operator, Viewer
from cavra_gateway.deps import State
from cavra_gateway.errors import error_responses, problem_response
from cavra_gateway.idempotency import IDEMPOTENCY_KEY, run_command
from cavra_gateway.messaging import Command, Told, Waits, ask, outcomes_of
from cavra_gateway.params import ID_OR_EMPTY, ID_PATTERN, TEXT
from cavra_gateway.routes.retries import AD, answering

router = APIRouter(prefix=AD, tags=["approvals"], responses=error_responses(422, 503))
COMMAND_ERRORS = error_responses(400, 404, 409, 413, 422, 503)
PROVIDER = r"^[A-Za-z0-9_-]+$"


class RetryAckRequest(BaseModel):
    """Body of POST AD/retry-plans/{retry_plan_id}/acknowledgements."""

    model_config = ConfigDict(extra="forbid")

    provider: str = Field(min_length=1, max_length=MAX_PROVIDER_LENGTH, pattern=PROVIDER)
    acknowledgement_state: str = Field(default="accepted", max_length=32)
    delivery_id: str = Field(default="", max_length=MAX_ID_LENGTH, pattern=ID_OR_EMPTY)
    audit_id: str = Field(default="", max_length=MAX_ID_LENGTH, pattern=ID_OR_EMPTY)
    acknowledged_by: str | None = Field(
        default=None, max_length=MAX_TEXT_LENGTH, description="Ignored: the caller is."
    )
    external_ref: str = Field(default="", max_length=MAX_REF_LENGTH, pattern=TEXT)
    notes: str = Field(default="", max_length=2000, pattern=TEXT)

    @field_validator("acknowledgement_state")
    @classmethod
    def _known_state(cls, value: str) -> str:
        if value not in RETRY_ACK_STATES:
            raise ValueError(RETRY_ACK_STATES_MESSAGE)
        return value


class ApprovalPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    require_retry_ack: bool = True


class ApprovalPlanRequest(BaseModel):
    """Body of POST AD/retry-execution-approval-plan."""

    model_config = ConfigDict(extra="forbid")

    family: Family = "audit"
    approval_policy: ApprovalPolicy = Field(default_factory=ApprovalPolicy)
    generated_by: str | None = Field(
        default=None, max_length=MAX_TEXT_LENGTH, description="Ignored: the caller is."
    )


class DecisionRequest(BaseModel):
    """Body of POST AD/retry-execution-approval-plans/{approval_plan_id}/decisions."""

    model_config = ConfigDict(extra="forbid")

    provider: str = Field(min_length=1, max_length=MAX_PROVIDER_LENGTH, pattern=PROVIDER)
    approval_state: str = Field(default="approved", max_length=32)
    retry_plan_id: str = Field(default="", max_length=MAX_ID_LENGTH, pattern=ID_OR_EMPTY)
    delivery_id: str = Field(default="", max_length=MAX_ID_LENGTH, pattern=ID_OR_EMPTY)
    audit_id: str = Field(default="", max_length=MAX_ID_LENGTH, pattern=ID_OR_EMPTY)
    decided_by: str | None = Field(
        default=None, max_length=MAX_TEXT_LENGTH, description="Ignored: the caller is."
    )
    approved_by: str | None = Field(
        default=None, max_length=MAX_TEXT_LENGTH, description="Ignored: the caller is."
    )
    external_ref: str = Field(default="", max_length=MAX_REF_LENGTH, pattern=TEXT)
    notes: str = Field(default="", max_length=2000, pattern=TEXT)

    @field_validator("approval_state")
    @classmethod
    def _known_state(cls, value: str) -> str:
        if value not in APPROVAL_STATES:
            raise ValueError(APPROVAL_STATES_MESSAGE)
        return value


@router.post(
    "/retry-plans/{retry_plan_id}/acknowledgements",
    summary="Acknowledge a retry decision (default accepted): the first step of a governed retry",
    responses={202: {"model": Accepted}, **COMMAND_ERRORS},
)
async def acknowledge_retry(
    state: State,
    request: Request,
    actor: Operator,
    body: RetryAckRequest,
    retry_plan_id: str = Path(max_length=MAX_ID_LENGTH, pattern=ID_PATTERN),
    key: str | None = IDEMPOTENCY_KEY,
) -> Response:
    command = Command(
        AcknowledgeRetryV1(
            retry_plan_id=retry_plan_id,
            provider=body.provider,
            origin_job_id=body.delivery_id or body.audit_id,
            acknowledgement_state=body.acknowledgement_state,
            external_ref=body.external_ref,
            notes=body.notes,
            actor=actor,
        ),
        outcomes=outcomes_of(RetryAcknowledgedV1, RetryRequestRejectedV1),
        subject=f"retry-plan/{retry_plan_id}",
    )
    answer = answering(RetryAcknowledgedV1, lambda done: recorded("acknowledgement", done))
    return await run_command(state, request, key, command, answer)


@router.post(
    "/retry-execution-approval-plan",
    summary="Approval plan (request_approval / wait_for_retry_ack / already_approved), opening requests",
    responses={202: {"model": Accepted}, **COMMAND_ERRORS},
)
async def approval_plan(
    state: State,
    request: Request,
    actor: Operator,
    body: ApprovalPlanRequest,
    key: str | None = IDEMPOTENCY_KEY,
) -> Response:
    command = Command(
        GenerateApprovalPlanV1(
            family=body.family, require_retry_ack=body.approval_policy.require_retry_ack, actor=actor
        ),
        outcomes=outcomes_of(ApprovalPlanGeneratedV1, RetryRequestRejectedV1),
        subject=f"approvals/{body.family}",
    )
    answer = answering(ApprovalPlanGeneratedV1, lambda done: recorded("plan", done))
    return await run_command(state, request, key, command, answer)


@router.post(
    "/retry-execution-approval-plans/{approval_plan_id}/decisions",
    summary="Decide an approval request (approver; never the requester nor the acknowledger)",
    responses={202: {"model": Accepted}, **COMMAND_ERRORS},
)
async def decide_approval(
    state: State,
    request: Request,
    actor: Approver,
    body: DecisionRequest,
    approval_plan_id: str = Path(max_length=MAX_ID_LENGTH, pattern=ID_PATTERN),
    key: str | None = IDEMPOTENCY_KEY,
) -> Response:
    command = Command(
        DecideApprovalV1(
            approval_plan_id=approval_plan_id,
            provider=body.provider,
            origin_job_id=body.delivery_id or body.audit_id,
            retry_plan_id=body.retry_plan_id,
            approval_state=body.approval_state,
            external_ref=body.external_ref,
            notes=body.notes,
            actor=actor,
        ),
        outcomes=outcomes_of(ApprovalDecidedV1, ApprovalRefusedV1, ApprovalExpiredV1, RetryRequestRejectedV1),
        subject=f"approval-plan/{approval_plan_id}",
    )

    async def answer(told: Told, waits: Waits) -> JSONResponse:
        outcome = await awaited(told, waits, rejected=RetryRequestRejectedV1)
        if isinstance(outcome, JSONResponse):
            return outcome
        if outcome.type == ApprovalRefusedV1.MESSAGE.subject:
            refused = ApprovalRefusedV1.model_validate(outcome.payload)
            field = "actor" if refused.reason == "separation_of_duties" else "approval_state"
            return problem_response(
                refused.status_code, "refused", [{"field": field, "message": refused.message}]
            )
        if outcome.type == ApprovalExpiredV1.MESSAGE.subject:
            expired = ApprovalExpiredV1.model_validate(outcome.payload)
            message = f"approval request {expired.approval_id} expired before it was decided"
            return problem_response(409, "expired", [{"field": "approval_state", "message": message}])
        return recorded("decision", ApprovalDecidedV1.model_validate(outcome.payload))

    return await run_command(state, request, key, command, answer)


@router.get(
    "/retry-execution-approvals", summary="Approval requests (pending, approved, consumed, ...), newest first"
)
async def approval_requests(
    state: State,
    _: Viewer,
    approval_state: ApprovalRequestState | None = Query(default=None, alias="state"),
    family: Family | None = Query(default=None),
    approval_id: str = Query(default="", max_length=MAX_ID_LENGTH, pattern=ID_OR_EMPTY),
    limit: int = Query(default=50, ge=0, le=500),
    offset: int = Query(default=0, ge=0, le=MAX_OFFSET),
) -> dict[str, Any]:
    query = ApprovalsQueryV1(
        state=approval_state, family=family, approval_id=approval_id, limit=limit, offset=offset
    )
    return await ask(state, query)
