"""Notification plans, delivery, route history and suppression trends:
``/runtime/go-pilot/rollback-drill-notifications/...``."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from cavra_contracts.limits import MAX_OFFSET, MAX_PROVIDER_SELECTION_LENGTH
from cavra_contracts.notifications import (
    DELIVERY_SCHEMA,
    ConnectorsQueryV1,
    DeliveryOptions,
    DeliveryStatusQueryV1,
    NotificationDeliveredV1,
    NotificationPlannedV1,
    PlanNotificationV1,
    PlanQueryV1,
    PlanRejectedV1,
    RouteHistoryQueryV1,
    SuppressionTrendQueryV1,
)
from cavra_contracts.scheduler import ScheduleReportQueryV1
from cavra_contracts.schedules import Identifier, RoutingPolicy
from cavra_contracts.sorting import ROUTE_HISTORY_DEFAULT_SORT, WITH_TOTAL_HELP, RouteHistorySort, allowed
from cavra_gateway.api_models import Accepted, Delivered
from cavra_gateway.auth import Operator, Viewer
from cavra_gateway.deps import GatewayState, State
from cavra_gateway.errors import error_responses, problem_response, rejection_response
from cavra_gateway.idempotency import IDEMPOTENCY_KEY, run_command
from cavra_gateway.messaging import Command, Told, Waits, accepted, ask, outcomes_of
from cavra_gateway.params import ID_OR_EMPTY, ID_PATTERN, TEXT

router = APIRouter(
    prefix="/runtime/go-pilot/rollback-drill-notifications",
    tags=["notifications"],
    responses=error_responses(422, 503),
)

SORT_HELP = (
    f"One of {', '.join(allowed(RouteHistorySort))}; `-x` is the exact reverse of `x`. "
    f"Default {ROUTE_HISTORY_DEFAULT_SORT} (newest first, then route id)."
)

PROVIDER_LIST = r"^(all|[A-Za-z0-9_-]+(\s*,\s*[A-Za-z0-9_-]+)*)$"


class DeliverRequest(BaseModel):
    """Body of POST .../deliver."""

    model_config = ConfigDict(extra="forbid")

    schedule_id: Identifier | None = Field(
        default=None,
        description="Default: the only/first schedule. 1-128 characters of A-Z a-z 0-9 . _ : @ -",
    )
    provider: str = Field(
        default="all",
        pattern=PROVIDER_LIST,
        max_length=MAX_PROVIDER_SELECTION_LENGTH,
        description="`all` or a comma list.",
    )
    routing_policy: RoutingPolicy | None = None
    retries: int | None = Field(
        default=None, ge=0, le=10, description="Default: the connector's own `retries`, else 2."
    )
    timeout_seconds: float | None = Field(
        default=None, ge=0.1, le=120, description="Per attempt. Default: the connector's own, else 10."
    )
    force: bool = False
    generated_by: str = Field(
        default="console",
        min_length=1,
        max_length=200,
        description="Ignored: the plan's generated_by is the authenticated actor's name.",
    )


def _plan_poll(plan_id: str) -> str:
    return f"/runtime/go-pilot/rollback-drill-notifications/plans/{plan_id}"


async def _delivery_status(state: GatewayState, plan_id: str) -> dict[str, Any]:
    return await ask(state, DeliveryStatusQueryV1(plan_id=plan_id))


def _delivery_view(status: dict[str, Any]) -> dict[str, Any]:
    return {
        "schema_version": DELIVERY_SCHEMA,
        "plan_id": status["plan_id"],
        "complete": status["complete"],
        "success": status["success"],
        "deliveries": status["deliveries"],
    }


@router.post(
    "/deliver",
    summary="Plan notifications for a schedule and deliver its deliverable routes",
    responses={
        200: {
            "model": Delivered,
            "description": "Planned and, when a route was deliverable, delivered (see `delivery`).",
        },
        202: {
            "model": Delivered | Accepted,
            "description": "Queued (no plan within CAVRA_COMMAND_WAIT_SECONDS: `status` accepted), "
            "or planned but not delivered within CAVRA_DELIVERY_WAIT_SECONDS: poll `poll`.",
        },
        **error_responses(400, 404, 409, 413, 422, 503),
    },
)
async def deliver(
    state: State, actor: Operator, request: Request, body: DeliverRequest, key: str | None = IDEMPOTENCY_KEY
) -> Response:
    command = Command(
        PlanNotificationV1(
            schedule_id=body.schedule_id,
            provider=body.provider,
            routing_policy=body.routing_policy,
            force=body.force,
            generated_by=actor.actor,
            delivery=DeliveryOptions(retries=body.retries, timeout_seconds=body.timeout_seconds),
        ),
        outcomes=outcomes_of(NotificationPlannedV1, PlanRejectedV1),
        downstream=outcomes_of(NotificationDeliveredV1),
        subject=f"schedule/{body.schedule_id or '*'}",
    )

    async def answer(told: Told, waits: Waits) -> JSONResponse:
        return await _answer_deliver(state, told, waits)

    return await run_command(state, request, key, command, answer, precheck=lambda: _no_connectors(state))


async def _no_connectors(state: GatewayState) -> JSONResponse | None:
    connectors = await ask(state, ConnectorsQueryV1())
    if connectors.get("configured"):
        return None
    problem = connectors.get("error") or "connector config is not configured"
    title = (
        "connector config is not configured"
        if "not configured" in problem
        else "connector config is unusable"
    )
    return problem_response(400, title, [{"field": "CAVRA_CONNECTOR_CONFIG", "message": problem}])


async def _answer_deliver(state: GatewayState, told: Told, waits: Waits) -> JSONResponse:
    outcome = await told.outcome(waits.outcome)
    if outcome is None:
        return accepted(told)
    if outcome.type == PlanRejectedV1.MESSAGE.subject:
        rejected = PlanRejectedV1.model_validate(outcome.payload)
        return rejection_response(rejected.status_code, rejected.problems)
    planned = NotificationPlannedV1.model_validate(outcome.payload)
    stored = await ask(state, PlanQueryV1(plan_id=planned.plan.plan_id))
    plan = stored["plan"]
    schedule = await ask(state, ScheduleReportQueryV1(schedule_id=plan["schedule_id"] or None))
    response: dict[str, Any] = {
        "schedule": schedule,
        "plan": plan,
        "delivery": None,
        "plan_metadata": stored["metadata"],
        "metadata": None,
        "success": True,
        "event_id": plan["schedule_id"] or plan["plan_id"],
    }
    if not plan["deliverable_route_count"]:
        return JSONResponse(status_code=200, content=response)
    delivered = await told.downstream(waits.downstream)
    if delivered is None:
        pending = response | {"success": None, "poll": _plan_poll(plan["plan_id"])}
        return JSONResponse(status_code=202, content=pending)
    status = await _delivery_status(state, plan["plan_id"])
    response |= {
        "delivery": _delivery_view(status),
        "metadata": status["record"],
        "success": status["success"],
    }
    return JSONResponse(status_code=200, content=response)


@router.get(
    "/plans/{plan_id}",
    summary="One stored plan with its delivery evidence so far",
    responses=error_responses(404),
)
async def plan(
    state: State, _: Viewer, plan_id: str = Path(max_length=64, pattern=ID_PATTERN)
) -> dict[str, Any]:
    stored = await ask(state, PlanQueryV1(plan_id=plan_id))
    view: dict[str, Any] = {
        "plan": stored["plan"],
        "plan_metadata": stored["metadata"],
        "delivery": None,
        "metadata": None,
        "success": True,
        "complete": True,
    }
    if not stored["plan"]["deliverable_route_count"]:
        return view  # nothing to deliver: complete, as the deliver response said
    status = await _delivery_status(state, plan_id)
    return view | {
        "delivery": _delivery_view(status),
        "metadata": status["record"],
        "success": status["success"] if status["complete"] else None,
        "complete": status["complete"],
    }


@router.get(
    "/connectors",
    summary="Configured connectors: type, host, breaker state (quarantine), broken entries; never secrets",
)
async def connectors(state: State, _: Viewer) -> dict[str, Any]:
    return await ask(state, ConnectorsQueryV1())


Category = Literal["", "maintenance_window", "owner_calendar", "healthy_schedule", "other", "deliver"]


@router.get("/routes", summary="Route history (cavra.go-backend-pilot.rollback-drill-routing-history.v1)")
async def routes(
    state: State,
    _: Viewer,
    schedule_id: str = Query(default="", max_length=128, pattern=ID_OR_EMPTY),
    provider: str = Query(default="", max_length=64, pattern=TEXT),
    owner: str = Query(
        default="",
        max_length=200,
        pattern=TEXT,
        description="Case-insensitive substring of owner or escalation owner.",
    ),
    action: Literal["", "deliver", "suppress"] = Query(default=""),
    category: Category = Query(default=""),
    limit: int = Query(default=50, ge=1, le=500),
    offset: int = Query(default=0, ge=0, le=MAX_OFFSET),
    sort: RouteHistorySort = Query(default="", description=SORT_HELP),
    with_total: bool = Query(default=True, description=WITH_TOTAL_HELP),
) -> dict[str, Any]:
    query = RouteHistoryQueryV1(
        schedule_id=schedule_id,
        provider=provider,
        owner=owner,
        action=action,
        category=category,
        limit=limit,
        offset=offset,
        sort=sort,
        with_total=with_total,
    )
    return await ask(state, query)


@router.get(
    "/suppression-trends",
    summary="Suppression trend (cavra.go-backend-pilot.rollback-drill-routing-suppression-trend.v1)",
    description="Counts suppressed routes by category, owner, provider and schedule. Stored as metadata kind "
    "go-backend-rollback-drill-routing-suppression-trend once per distinct content: "
    "a read that finds nothing changed writes nothing. Its generated_by is the caller's name.",
)
async def suppression_trends(
    state: State,
    viewer: Viewer,
    schedule_id: str = Query(default="", max_length=128, pattern=ID_OR_EMPTY),
    provider: str = Query(default="", max_length=64, pattern=TEXT),
    owner: str = Query(default="", max_length=200, pattern=TEXT),
) -> dict[str, Any]:
    query = SuppressionTrendQueryV1(
        schedule_id=schedule_id, provider=provider, owner=owner, generated_by=viewer.actor
    )
    return await ask(state, query)
