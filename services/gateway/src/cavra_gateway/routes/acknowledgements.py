"""Acknowledgements of notification routes: single, bulk, route actions (Ack / Escalate / Resolve) one by
one or over a filter scope, and the route states they change:
``/runtime/go-pilot/rollback-drill-notifications/...``.

Every mutation is one ``RecordAcknowledgementsV1`` command carrying the verified actor (its name is
what is recorded as ``acknowledged_by``, whatever the body says; a claimed identity in the body is a 422);
the acknowledgement service applies it whole or not at all (``ack_commands``).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cavra_contracts.acknowledgements import (
    MAX_BULK_ROUTES,
    MAX_NOTES_LENGTH,
    MAX_ROUTE_STATES_LIMIT,
    MAX_SCOPE_ROUTES,
    AckTargetV1,
    RouteScopeV1,
    RouteStatesQueryV1,
)
from cavra_contracts.limits import (
    MAX_ID_LENGTH,
    MAX_OFFSET,
    MAX_OWNER_LENGTH,
    MAX_PLAN_ID_LENGTH,
    MAX_PROVIDER_LENGTH,
    MAX_REF_LENGTH,
    MAX_TEXT_LENGTH,
)
from cavra_contracts.sorting import ROUTE_STATES_DEFAULT_SORT, WITH_TOTAL_HELP, RouteStatesSort, allowed
from cavra_contracts.vocabulary import normalize_provider
from cavra_gateway.api_models import Accepted, body_schema
from cavra_gateway.auth import Operator, Viewer, refuse_claimed_identity
from cavra_gateway.deps import State
from cavra_gateway.errors import error_responses, problem_response
from cavra_gateway.idempotency import IDEMPOTENCY_KEY
from cavra_gateway.messaging import (
    ask,
)
from cavra_gateway.params import ID_OR_EMPTY, ID_PATTERN, TEXT
from cavra_gateway.routes.ack_commands import (
    PREFIX,
    bulk_view,
    command,
    invalid,
    parse_state,
    record,
    single_view,
    state_problem,
)

router = APIRouter(prefix=PREFIX, tags=["acknowledgements"], responses=error_responses(422, 503))
SORT_HELP = (
    f"One of {', '.join(allowed(RouteStatesSort))}; `-x` is the exact reverse of `x`. "
    f"Default {ROUTE_STATES_DEFAULT_SORT} (schedule, provider, owner, route id); `age` = youngest "
    "first, `-breached` = breached first; route id breaks every tie."
)
COMMAND_ERRORS = error_responses(404, 409, 413, 422, 503)
ACCEPTED: dict[int | str, dict[str, Any]] = {
    202: {
        "model": Accepted,
        "description": "Queued: no outcome within CAVRA_COMMAND_WAIT_SECONDS. Poll `poll`, or repeat the "
        "request with the same Idempotency-Key.",
    }
}

ACTIONS: dict[str, str] = {"ack": "acknowledged", "escalate": "escalated", "resolve": "resolved"}
"""Route actions of the console and the state each records."""


class _Body(BaseModel):
    # Unknown fields are ignored (bodies of the original API also carry actor_claims, which is never
    # trusted); every known field is bounded.
    model_config = ConfigDict(extra="ignore")


class AckRequest(_Body):
    """Body of POST .../{schedule_id}/acknowledgements."""

    provider: str = Field(min_length=1, max_length=MAX_PROVIDER_LENGTH, pattern=TEXT)
    acknowledgement_state: str = Field(
        default="acknowledged", max_length=64, description="acknowledged, dismissed, escalated or resolved"
    )
    plan_id: str = Field(
        default="", max_length=MAX_PLAN_ID_LENGTH, pattern=ID_OR_EMPTY, description="Default: current plan."
    )
    owner: str = Field(
        default="", max_length=MAX_OWNER_LENGTH, pattern=TEXT, description="Default: every owner."
    )
    external_ref: str = Field(default="", max_length=MAX_REF_LENGTH, pattern=TEXT)
    notes: str = Field(default="", max_length=MAX_NOTES_LENGTH)
    acknowledged_by: str | None = Field(
        default=None, max_length=MAX_TEXT_LENGTH, description="Ignored: the verified actor is recorded."
    )


class BulkRoute(_Body):
    """One route of a bulk acknowledgement."""

    schedule_id: str = Field(min_length=1, max_length=MAX_ID_LENGTH, pattern=ID_PATTERN)
    provider: str = Field(min_length=1, max_length=MAX_PROVIDER_LENGTH, pattern=TEXT)
    plan_id: str = Field(default="", max_length=MAX_PLAN_ID_LENGTH, pattern=ID_OR_EMPTY)
    owner: str = Field(default="", max_length=MAX_OWNER_LENGTH, pattern=TEXT)
    external_ref: str = Field(default="", max_length=MAX_REF_LENGTH, pattern=TEXT)
    notes: str = Field(default="", max_length=MAX_NOTES_LENGTH)


class BulkRequest(_Body):
    """Body of POST .../acknowledgements/bulk: all routes are stored, or none."""

    routes: list[BulkRoute] = Field(min_length=1, max_length=MAX_BULK_ROUTES)
    acknowledgement_state: str = Field(default="acknowledged", max_length=64)
    plan_id: str = Field(default="", max_length=MAX_PLAN_ID_LENGTH, pattern=ID_OR_EMPTY)
    external_ref: str = Field(default="", max_length=MAX_REF_LENGTH, pattern=TEXT)
    notes: str = Field(default="", max_length=MAX_NOTES_LENGTH)
    acknowledged_by: str | None = Field(default=None, max_length=MAX_TEXT_LENGTH)


class RouteActionRequest(_Body):
    """Body of POST .../routes/{route_id}/actions."""

    action: Literal["ack", "escalate", "resolve"]
    external_ref: str = Field(default="", max_length=MAX_REF_LENGTH, pattern=TEXT)
    notes: str = Field(default="", max_length=MAX_NOTES_LENGTH)


class ScopeFilter(BaseModel):
    """Which routes of the current plans: every field given must match (a misspelt field is refused,
    never ignored: it would widen the scope)."""

    model_config = ConfigDict(extra="forbid")

    schedule_id: str = Field(default="", max_length=MAX_ID_LENGTH, pattern=ID_OR_EMPTY)
    owner: str = Field(default="", max_length=MAX_OWNER_LENGTH, pattern=TEXT)
    provider: str = Field(default="", max_length=MAX_PROVIDER_LENGTH, pattern=TEXT)
    route_id: str = Field(default="", max_length=MAX_ID_LENGTH, pattern=ID_OR_EMPTY)
    state: Literal["", "outstanding", "acknowledged", "dismissed", "escalated", "resolved"] = ""
    breached: bool | None = None

    def contract(self) -> RouteScopeV1:
        provider = normalize_provider(self.provider) if self.provider else ""
        return RouteScopeV1.model_validate(self.model_dump() | {"provider": provider})


class ScopeActionRequest(RouteActionRequest):
    """Body of POST .../routes/actions: one action over every route of the current plans in ``scope``."""

    model_config = ConfigDict(extra="forbid")

    scope: ScopeFilter
    expected_count: int | None = Field(
        default=None, ge=0, le=MAX_SCOPE_ROUTES, description="The count the caller saw; 409 when it changed."
    )


# --- routes --------------------------------------------------------------------------------------


@router.post(
    "/{schedule_id}/acknowledgements",
    summary="Acknowledge a schedule's routes on one provider "
    "(cavra.go-backend-pilot.rollback-drill-notification-ack.v1)",
    description="Covers every owner on that provider in the plan (default: the schedule's current plan), "
    "or one `owner`. `acknowledged_by` is always the verified caller.",
    openapi_extra=body_schema(AckRequest),
    responses={201: {"description": "Recorded"}, **ACCEPTED, **COMMAND_ERRORS},
)
async def acknowledge(
    state: State,
    request: Request,
    actor: Operator,
    schedule_id: str = Path(max_length=MAX_ID_LENGTH, pattern=ID_PATTERN),
    body: Any = Body(...),
    key: str | None = IDEMPOTENCY_KEY,
) -> Response:
    if isinstance(body, dict) and (refused := refuse_claimed_identity(body)):
        return refused
    try:
        parsed = AckRequest.model_validate(body)
    except ValidationError as exc:
        return invalid(exc)
    ack_state = parse_state(parsed.acknowledgement_state)
    if ack_state is None:
        return state_problem()
    target = AckTargetV1(
        schedule_id=schedule_id,
        provider=normalize_provider(parsed.provider),
        plan_id=parsed.plan_id,
        owner=parsed.owner,
    )
    told = command(
        "single",
        ack_state,
        actor,
        subject=f"schedule/{schedule_id}",
        targets=[target],
        external_ref=parsed.external_ref,
        notes=parsed.notes,
    )
    return await record(state, request, key, told, single_view)


@router.post(
    "/acknowledgements/bulk",
    summary="Acknowledge 1-100 routes at once, atomically "
    "(cavra.go-backend-pilot.rollback-drill-bulk-acknowledgement.v1)",
    openapi_extra=body_schema(BulkRequest),
    responses={201: {"description": "Every route recorded"}, **ACCEPTED, **COMMAND_ERRORS},
)
async def bulk(
    state: State, request: Request, actor: Operator, body: Any = Body(...), key: str | None = IDEMPOTENCY_KEY
) -> Response:
    if isinstance(body, dict) and (refused := refuse_claimed_identity(body)):
        return refused
    routes = body.get("routes") if isinstance(body, dict) else None
    if not isinstance(routes, list) or not routes:
        return problem_response(
            422, "invalid request", [{"field": "routes", "message": "routes are required"}]
        )
    if len(routes) > MAX_BULK_ROUTES:
        message = f"bulk acknowledgement is limited to {MAX_BULK_ROUTES} routes"
        return problem_response(422, "invalid request", [{"field": "routes", "message": message}])
    try:
        parsed = BulkRequest.model_validate(body)
    except ValidationError as exc:
        return invalid(exc)
    ack_state = parse_state(parsed.acknowledgement_state)
    if ack_state is None:
        return state_problem()
    targets = [
        AckTargetV1(
            schedule_id=route.schedule_id,
            provider=normalize_provider(route.provider),
            plan_id=route.plan_id or parsed.plan_id,
            owner=route.owner,
            external_ref=route.external_ref,
            notes=route.notes,
        )
        for route in parsed.routes
    ]
    told = command(
        "bulk",
        ack_state,
        actor,
        subject=f"schedule/{targets[0].schedule_id}",
        targets=targets,
        external_ref=parsed.external_ref,
        notes=parsed.notes,
    )
    return await record(state, request, key, told, bulk_view(parsed.acknowledgement_state))


def parse(model: type[RouteActionRequest], body: Any) -> RouteActionRequest | JSONResponse:
    """``body`` as ``model``, or the 422 naming what is wrong (a claimed identity included)."""
    if isinstance(body, dict) and (refused := refuse_claimed_identity(body)):
        return refused
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        return invalid(exc)


@router.post(
    "/routes/{route_id}/actions",
    summary="Ack, Escalate or Resolve one route (recorded with actor, time, before and after state)",
    openapi_extra=body_schema(RouteActionRequest),
    responses={201: {"description": "Recorded"}, **ACCEPTED, **COMMAND_ERRORS},
)
async def route_action(
    state: State,
    request: Request,
    actor: Operator,
    route_id: str = Path(max_length=MAX_ID_LENGTH, pattern=ID_PATTERN),
    body: Any = Body(...),
    key: str | None = IDEMPOTENCY_KEY,
) -> Response:
    parsed = parse(RouteActionRequest, body)
    if isinstance(parsed, JSONResponse):
        return parsed
    told = command(
        "route_action",
        ACTIONS[parsed.action],
        actor,
        subject=f"route/{route_id}",
        targets=[AckTargetV1(route_id=route_id)],
        external_ref=parsed.external_ref,
        notes=parsed.notes,
    )
    return await record(state, request, key, told, single_view)


@router.post(
    "/routes/actions",
    summary="Ack, Escalate or Resolve every route of the current plans matching a filter scope",
    description=f"At most {MAX_SCOPE_ROUTES} routes; with `expected_count` (what the caller was shown) a "
    "scope that changed meanwhile is refused with 409 and nothing is recorded.",
    openapi_extra=body_schema(ScopeActionRequest),
    responses={201: {"description": "Every route recorded"}, **ACCEPTED, **COMMAND_ERRORS},
)
async def scope_action(
    state: State,
    request: Request,
    actor: Operator,
    body: Any = Body(...),
    key: str | None = IDEMPOTENCY_KEY,
) -> Response:
    parsed = parse(ScopeActionRequest, body)
    if isinstance(parsed, JSONResponse):
        return parsed
    assert isinstance(parsed, ScopeActionRequest)
    scope = parsed.scope.contract()
    told = command(
        "scope",
        ACTIONS[parsed.action],
        actor,
        subject=f"schedule/{scope.schedule_id or '*'}",
        scope=scope,
        expected_count=parsed.expected_count,
        external_ref=parsed.external_ref,
        notes=parsed.notes,
    )
    return await record(state, request, key, told, bulk_view(ACTIONS[parsed.action]))


@router.get(
    "/acknowledgements/routes",
    summary="Routes of the current plan of each schedule with their state, age, SLO and breach",
    description="`total` is how many routes the same filter would touch in POST .../routes/actions.",
)
async def route_states(
    state: State,
    actor: Viewer,
    schedule_id: str = Query(default="", max_length=MAX_ID_LENGTH, pattern=ID_OR_EMPTY),
    owner: str = Query(default="", max_length=MAX_OWNER_LENGTH, pattern=TEXT),
    provider: str = Query(default="", max_length=MAX_PROVIDER_LENGTH, pattern=TEXT),
    route_id: str = Query(default="", max_length=MAX_ID_LENGTH, pattern=ID_OR_EMPTY),
    route_state: Literal["", "outstanding", "acknowledged", "dismissed", "escalated", "resolved"] = Query(
        default="", alias="state"
    ),
    breached: bool | None = Query(default=None),
    limit: int = Query(default=50, ge=0, le=MAX_ROUTE_STATES_LIMIT),
    offset: int = Query(default=0, ge=0, le=MAX_OFFSET),
    sort: RouteStatesSort = Query(default="", description=SORT_HELP),
    with_total: bool = Query(default=True, description=WITH_TOTAL_HELP),
) -> dict[str, Any]:
    scope = ScopeFilter(
        schedule_id=schedule_id,
        owner=owner,
        provider=provider,
        route_id=route_id,
        state=route_state,
        breached=breached,
    ).contract()
    return await ask(
        state, RouteStatesQueryV1(scope=scope, limit=limit, offset=offset, sort=sort, with_total=with_total)
    )
