"""Connector recovery playbooks and closures, the recovery SLO report and recovery escalations (spec
§1.5 #27-28, §1.6 #29-32): ``/runtime/go-pilot/rollback-drill-notifications/acknowledgements/
audit-delivery/...``.

Mutations are commands to the delivery service carrying the verified actor (its name is recorded as
``generated_by`` / ``closed_by`` / ``acknowledged_by``, whatever the body says); reads are queries. The
report is computed on every read and never stored.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from cavra_contracts.base import Timestamp
from cavra_contracts.deliveries import MessageDeliveredV1
from cavra_contracts.families import Family
from cavra_contracts.limits import (
    MAX_ID_LENGTH,
    MAX_OFFSET,
    MAX_TEXT_LENGTH,
)
from cavra_contracts.notifications import DeliveryOptions, DeliveryStatusQueryV1
from cavra_contracts.recovery import (
    DEFAULT_PAGE,
    DEFAULT_RECOVERY_SLO_MINUTES,
    DEFAULT_REPORT_ROWS,
    MAX_PAGE,
    MAX_RECOVERY_SLO_MINUTES,
    MAX_REPORT_ROWS,
    AcknowledgeRecoveryEscalationV1,
    CloseRecoveryV1,
    ConnectorRecoveryClosedV1,
    ConnectorRecoveryPlaybookGeneratedV1,
    DeliverRecoveryEscalationV1,
    GenerateRecoveryPlaybookV1,
    PlanRecoveryEscalationV1,
    RecoveryEscalationAcknowledgedV1,
    RecoveryEscalationDeliveryRequestedV1,
    RecoveryEscalationPlannedV1,
    RecoveryEscalationPlanQueryV1,
    RecoveryEscalationPlansQueryV1,
    RecoveryPlaybooksQueryV1,
    RecoveryReportQueryV1,
    RecoveryRequestRejectedV1,
)
from cavra_gateway.answers import Answer, answering, recorded
from cavra_gateway.api_models import Accepted
from cavra_gateway.auth import Operator, Viewer
from cavra_gateway.deps import State
from cavra_gateway.errors import error_responses, problem_response
from cavra_gateway.idempotency import IDEMPOTENCY_KEY, run_command
from cavra_gateway.messaging import Command, Told, Waits, ask, outcomes_of
from cavra_gateway.params import TEXT
from cavra_gateway.routes.recovery_models import (
    PLAN_ID,
    ClosureRequest,
    EscalationAckRequest,
    EscalationDeliveryRequest,
    EscalationPlanRequest,
    PlaybookRequest,
)

AD = "/runtime/go-pilot/rollback-drill-notifications/acknowledgements/audit-delivery"
router = APIRouter(prefix=AD, tags=["recovery"], responses=error_responses(422, 503))
COMMAND_ERRORS = error_responses(400, 404, 409, 413, 422, 503)

Outcome = TypeVar(
    "Outcome",
    ConnectorRecoveryPlaybookGeneratedV1,
    ConnectorRecoveryClosedV1,
    RecoveryEscalationPlannedV1,
    RecoveryEscalationDeliveryRequestedV1,
    RecoveryEscalationAcknowledgedV1,
)


def _answering(
    contract: type[Outcome], respond: Callable[[Outcome, Told, Waits], Awaitable[JSONResponse]]
) -> Answer:
    """202 while no outcome has come, the rejection's problems, else ``respond``."""
    return answering(contract, respond, rejected=RecoveryRequestRejectedV1)


def _command(contract: Any, outcome: type[Any], subject: str, **extra: Any) -> Command:
    return Command(
        contract, outcomes=outcomes_of(outcome, RecoveryRequestRejectedV1), subject=subject, **extra
    )


@router.post(
    "/connector-recovery-playbook",
    summary="Build and store a connector recovery playbook from repeated delivery failures (spec 3.18)",
    responses={
        200: {"description": "{playbook, metadata, actor}"},
        202: {"model": Accepted},
        **COMMAND_ERRORS,
    },
)
async def recovery_playbook(
    state: State, request: Request, actor: Operator, body: PlaybookRequest, key: str | None = IDEMPOTENCY_KEY
) -> Response:
    contract = GenerateRecoveryPlaybookV1(
        min_failure_count=body.min_failure_count, lookback_hours=body.lookback_hours, actor=actor
    )

    async def respond(event: ConnectorRecoveryPlaybookGeneratedV1, told: Told, waits: Waits) -> JSONResponse:
        return recorded("playbook", event)

    command = _command(contract, ConnectorRecoveryPlaybookGeneratedV1, "recovery/playbook")
    return await run_command(
        state, request, key, command, _answering(ConnectorRecoveryPlaybookGeneratedV1, respond)
    )


@router.post(
    "/connector-recovery-playbooks/{playbook_id}/closures",
    summary="Close (or reopen) the recovery of one provider of a stored playbook",
    responses={
        200: {"description": "{closure, metadata, actor}"},
        202: {"model": Accepted},
        **COMMAND_ERRORS,
    },
)
async def recovery_closure(
    state: State,
    request: Request,
    actor: Operator,
    body: ClosureRequest,
    playbook_id: str = Path(max_length=MAX_ID_LENGTH, pattern=r"^[A-Za-z0-9._:@-]+$"),
    key: str | None = IDEMPOTENCY_KEY,
) -> Response:
    contract = CloseRecoveryV1(
        playbook_id=playbook_id,
        provider=body.provider,
        closure_state=body.closure_state,
        external_ref=body.external_ref,
        notes=body.notes,
        verification_refs=body.verification_refs,
        actor=actor,
    )

    async def respond(event: ConnectorRecoveryClosedV1, told: Told, waits: Waits) -> JSONResponse:
        return recorded("closure", event)

    command = _command(contract, ConnectorRecoveryClosedV1, f"recovery/playbook/{playbook_id}")
    return await run_command(state, request, key, command, _answering(ConnectorRecoveryClosedV1, respond))


@router.get("/connector-recovery-playbooks", summary="Stored playbooks, newest first, with closure states")
async def recovery_playbooks(
    state: State,
    _: Viewer,
    playbook_id: str = Query(default="", max_length=MAX_ID_LENGTH, pattern=r"^[A-Za-z0-9._:@-]*$"),
    limit: int = Query(default=DEFAULT_PAGE, ge=1, le=MAX_PAGE),
    offset: int = Query(default=0, ge=0, le=MAX_OFFSET),
) -> dict[str, Any]:
    return await ask(state, RecoveryPlaybooksQueryV1(playbook_id=playbook_id, limit=limit, offset=offset))


@router.get(
    "/retry-recovery-report",
    summary="The recovery SLO report (spec 3.19), computed now and never stored",
    description="`report` (retry-recovery-report.v1), `metadata` (its metadata record, computed), the "
    "`escalation_plan` it implies (not stored) and closure-time `statistics` over the window.",
)
async def recovery_report(
    state: State,
    _: Viewer,
    recovery_slo_minutes: int = Query(
        default=DEFAULT_RECOVERY_SLO_MINUTES, ge=1, le=MAX_RECOVERY_SLO_MINUTES
    ),
    generated_by: str = Query(default="console", min_length=1, max_length=MAX_TEXT_LENGTH, pattern=TEXT),
    family: Family | None = Query(default=None),
    row_limit: int = Query(default=DEFAULT_REPORT_ROWS, ge=0, le=MAX_REPORT_ROWS),
    window_start: Timestamp | None = Query(default=None),
    window_end: Timestamp | None = Query(default=None),
) -> Any:
    if window_start is not None and window_end is not None and window_end <= window_start:
        return problem_response(
            422, "invalid window", [{"field": "query.window_end", "message": "must be after window_start"}]
        )
    query = RecoveryReportQueryV1(
        recovery_slo_minutes=recovery_slo_minutes,
        generated_by=generated_by,
        family=family,
        row_limit=row_limit,
        window_start=window_start,
        window_end=window_end,
    )
    result = await ask(state, query)
    return {**result, "metadata": report_metadata(result["report"])}


def report_metadata(report: dict[str, Any]) -> dict[str, Any]:
    """rows / breached+failed / open, as the original's record of it (not stored here)."""
    return {
        "schema_version": "cavra.evidence.metadata.v1",
        "product": "CAVRA",
        "session_id": report["report_id"],
        "created_at": report["generated_at"],
        "signer": report["generated_by"],
        "decision_count": report["recovery_playbook_provider_count"],
        "blocked_count": report["recovery_slo_breached_count"] + report["execution_failed_count"],
        "approval_required_count": report["recovery_open_count"],
        "metadata_kind": "go-backend-rollback-drill-acknowledgement-audit-delivery-retry-recovery-report",
        "report_id": report["report_id"],
        "alert_level": report["alert_level"],
        "execution_count": report["execution_count"],
        "execution_failed_count": report["execution_failed_count"],
        "recovery_slo_breached_count": report["recovery_slo_breached_count"],
        "stored": False,
    }


@router.post(
    "/recovery-escalation-plan",
    summary="Build and store a recovery escalation plan from a fresh recovery report (spec 3.20)",
    responses={200: {"description": "{plan, metadata, actor}"}, 202: {"model": Accepted}, **COMMAND_ERRORS},
)
async def recovery_escalation_plan(
    state: State,
    request: Request,
    actor: Operator,
    body: EscalationPlanRequest,
    key: str | None = IDEMPOTENCY_KEY,
) -> Response:
    contract = PlanRecoveryEscalationV1(recovery_slo_minutes=body.recovery_slo_minutes, actor=actor)

    async def respond(event: RecoveryEscalationPlannedV1, told: Told, waits: Waits) -> JSONResponse:
        stored = await ask(state, RecoveryEscalationPlanQueryV1(plan_id=event.plan_id))
        return JSONResponse(
            status_code=200,
            content={
                "plan": stored["plan"],
                "metadata": stored["metadata"],
                "actor": event.actor.model_dump(),
            },
        )

    command = _command(contract, RecoveryEscalationPlannedV1, "recovery/escalation-plan")
    return await run_command(state, request, key, command, _answering(RecoveryEscalationPlannedV1, respond))


@router.post(
    f"/recovery-escalations/{PLAN_ID}/deliver",
    summary="Deliver a recovery escalation plan (or `latest`) to the operations channels",
    description="Destinations: `provider`, else CAVRA_RECOVERY_ESCALATION_PROVIDERS, else every routable "
    "channel except the plan's failing connectors. An unknown plan is a 404, an unconfigured provider a 400.",
    responses={
        200: {"description": "Requested (delivery pending) or delivered"},
        202: {"model": Accepted},
        **COMMAND_ERRORS,
    },
)
async def deliver_recovery_escalation(
    state: State,
    request: Request,
    actor: Operator,
    body: EscalationDeliveryRequest,
    plan_id: str = Path(max_length=MAX_ID_LENGTH),
    key: str | None = IDEMPOTENCY_KEY,
) -> Response:
    contract = DeliverRecoveryEscalationV1(
        plan_id=plan_id,
        provider=body.provider,
        recovery_slo_minutes=body.recovery_slo_minutes,
        max_routes=body.max_routes,
        delivery=DeliveryOptions(retries=body.retries, timeout_seconds=body.timeout_seconds),
        actor=actor,
    )

    async def respond(event: RecoveryEscalationDeliveryRequestedV1, told: Told, waits: Waits) -> JSONResponse:
        stored = await ask(state, RecoveryEscalationPlanQueryV1(plan_id=event.plan_id))
        response: dict[str, Any] = {
            "plan": stored["plan"],
            "delivery": {"status": "pending", "job_id": event.job_id, "providers": event.providers},
            "plan_metadata": stored["metadata"],
            "metadata": event.record.document(),
            "success": None,
            "event_id": event.plan_id,
            "actor": event.actor.model_dump(),
        }
        delivered = await told.downstream(waits.downstream)
        if delivered is not None:
            message = MessageDeliveredV1.model_validate(delivered.payload)
            status = await ask(state, DeliveryStatusQueryV1(plan_id=event.job_id))
            response["delivery"] = message.model_dump(mode="json") | {
                "status": "delivered" if message.success else "failed",
                "providers": event.providers,
            }
            response["metadata"] = (status.get("record") or {}) | {"plan_id": event.plan_id}
            response["success"] = message.success
        return JSONResponse(status_code=200, content=response)

    command = _command(
        contract,
        RecoveryEscalationDeliveryRequestedV1,
        "recovery/escalation-delivery",
        downstream=outcomes_of(MessageDeliveredV1),
    )
    return await run_command(
        state, request, key, command, _answering(RecoveryEscalationDeliveryRequestedV1, respond)
    )


@router.post(
    f"/recovery-escalations/{PLAN_ID}/acknowledgements",
    summary="Acknowledge a recovery escalation plan for one provider",
    responses={
        200: {"description": "{acknowledgement, metadata, actor}"},
        202: {"model": Accepted},
        **COMMAND_ERRORS,
    },
)
async def acknowledge_recovery_escalation(
    state: State,
    request: Request,
    actor: Operator,
    body: EscalationAckRequest,
    plan_id: str = Path(max_length=MAX_ID_LENGTH),
    key: str | None = IDEMPOTENCY_KEY,
) -> Response:
    contract = AcknowledgeRecoveryEscalationV1(
        plan_id=plan_id,
        provider=body.provider,
        acknowledgement_state=body.acknowledgement_state,
        external_ref=body.external_ref,
        notes=body.notes,
        escalation_reason=body.escalation_reason,
        actor=actor,
    )

    async def respond(event: RecoveryEscalationAcknowledgedV1, told: Told, waits: Waits) -> JSONResponse:
        return recorded("acknowledgement", event)

    command = _command(contract, RecoveryEscalationAcknowledgedV1, f"recovery/escalation/{plan_id}")
    return await run_command(
        state, request, key, command, _answering(RecoveryEscalationAcknowledgedV1, respond)
    )


@router.get("/recovery-escalations", summary="Stored recovery escalation plans, newest first")
async def recovery_escalations(
    state: State,
    _: Viewer,
    limit: int = Query(default=DEFAULT_PAGE, ge=1, le=MAX_PAGE),
    offset: int = Query(default=0, ge=0, le=MAX_OFFSET),
) -> dict[str, Any]:
    return await ask(state, RecoveryEscalationPlansQueryV1(limit=limit, offset=offset))


@router.get(
    f"/recovery-escalations/{PLAN_ID}",
    summary="A stored recovery escalation plan with its deliveries and acknowledgements",
    responses=error_responses(404),
)
async def recovery_escalation(
    state: State, _: Viewer, plan_id: str = Path(max_length=MAX_ID_LENGTH)
) -> dict[str, Any]:
    return await ask(state, RecoveryEscalationPlanQueryV1(plan_id=plan_id))
