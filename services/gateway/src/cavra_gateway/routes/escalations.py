"""Escalation plans (spec §3.6): ``POST .../escalation-plan`` builds and stores one, ``GET
.../escalation-plans/{plan_id}`` reads a stored one back with its routes paged."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from cavra_contracts.escalations import (
    DEFAULT_PLAN_ROUTE_PAGE,
    MAX_PLAN_ROUTE_PAGE,
    EscalationPlanGeneratedV1,
    EscalationPlanQueryV1,
    GenerateEscalationPlanV1,
)
from cavra_contracts.limits import MAX_OFFSET, MAX_PLAN_ID_LENGTH, MAX_TEXT_LENGTH
from cavra_contracts.schedules import RoutingPolicy
from cavra_gateway.api_models import Accepted
from cavra_gateway.auth import Operator, Viewer
from cavra_gateway.deps import State
from cavra_gateway.errors import error_responses
from cavra_gateway.idempotency import IDEMPOTENCY_KEY, run_command
from cavra_gateway.messaging import Command, Told, Waits, accepted, ask, outcomes_of
from cavra_gateway.params import ID_PATTERN

router = APIRouter(
    prefix="/runtime/go-pilot/rollback-drill-notifications",
    tags=["escalation"],
    responses=error_responses(422, 503),
)


class EscalationPlanRequest(BaseModel):
    """Body of POST .../escalation-plan."""

    model_config = ConfigDict(extra="forbid")

    policy: RoutingPolicy = Field(
        default_factory=dict,
        description="acknowledgement_minutes, default_slo.acknowledgement_minutes, owner_routes / "
        "routing_rules (an owner rule's acknowledgement_minutes wins for its providers).",
    )
    generated_by: str = Field(
        default="console", min_length=1, max_length=MAX_TEXT_LENGTH, description="Ignored: the caller is."
    )
    route_limit: int = Field(
        default=DEFAULT_PLAN_ROUTE_PAGE,
        ge=0,
        le=MAX_PLAN_ROUTE_PAGE,
        description="Routes in the answer (`route_count`: all); the rest: GET .../escalation-plans/{id}.",
    )


class EscalationPlanAnswer(BaseModel):
    """``{plan, metadata}``; ``plan.routes`` holds the first ``limit`` routes."""

    plan: dict[str, Any]
    metadata: dict[str, Any]
    limit: int
    offset: int


@router.post(
    "/escalation-plan",
    summary="Build and store an escalation plan (cavra.go-backend-pilot.rollback-drill-notification-"
    "escalation-plan.v1) over the latest plan of every schedule",
    responses={
        200: {"model": EscalationPlanAnswer},
        202: {"model": Accepted, "description": "Queued: no plan within CAVRA_COMMAND_WAIT_SECONDS."},
        **error_responses(409, 413, 422, 503),
    },
)
async def escalation_plan(
    state: State,
    request: Request,
    body: EscalationPlanRequest,
    actor: Operator,
    key: str | None = IDEMPOTENCY_KEY,
) -> Response:
    command = Command(
        GenerateEscalationPlanV1(policy=body.policy, generated_by=actor.actor, actor=actor),
        outcomes=outcomes_of(EscalationPlanGeneratedV1),
        subject="escalation-plan",
    )

    async def answer(told: Told, waits: Waits) -> JSONResponse:
        outcome = await told.outcome(waits.outcome)
        if outcome is None:
            return accepted(told)
        generated = EscalationPlanGeneratedV1.model_validate(outcome.payload)
        stored = await ask(state, EscalationPlanQueryV1(plan_id=generated.plan_id, limit=body.route_limit))
        return JSONResponse(status_code=200, content=stored)

    return await run_command(state, request, key, command, answer)


@router.get(
    "/escalation-plans/{plan_id}",
    summary="A stored escalation plan with a page of its routes",
    responses={200: {"model": EscalationPlanAnswer}, **error_responses(404)},
)
async def stored_escalation_plan(
    state: State,
    _: Viewer,
    plan_id: str = Path(max_length=MAX_PLAN_ID_LENGTH, pattern=ID_PATTERN),
    limit: int = Query(default=DEFAULT_PLAN_ROUTE_PAGE, ge=0, le=MAX_PLAN_ROUTE_PAGE),
    offset: int = Query(default=0, ge=0, le=MAX_OFFSET),
) -> dict[str, Any]:
    return await ask(state, EscalationPlanQueryV1(plan_id=plan_id, limit=limit, offset=offset))
