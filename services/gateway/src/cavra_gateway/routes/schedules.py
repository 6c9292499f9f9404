"""Rollback drill schedules and drill history: ``/runtime/go-pilot/rollback-drill*``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from cavra_contracts.limits import MAX_OFFSET, MAX_TEXT_LENGTH
from cavra_contracts.scheduler import (
    CommandRejectedV1,
    DrillRunRecordedV1,
    HistoryReportQueryV1,
    ListSchedulesQueryV1,
    RecordDrillRunV1,
    ScheduleListV1,
    ScheduleReportQueryV1,
    ScheduleUpsertedV1,
    UpsertScheduleV1,
)
from cavra_contracts.schedules import (
    DrillRunV1,
    RollbackDrillHistoryReportV1,
    RollbackDrillScheduleReportV1,
    RollbackDrillScheduleV1,
)
from cavra_gateway.api_models import Accepted, DrillRecorded, ScheduleWritten, body_schema
from cavra_gateway.auth import Operator, Viewer, refuse_claimed_identity
from cavra_gateway.deps import State
from cavra_gateway.errors import error_responses, problem_response, rejection_response, validation_problems
from cavra_gateway.idempotency import IDEMPOTENCY_KEY, run_command
from cavra_gateway.messaging import Command, Told, Waits, accepted, ask, outcomes_of
from cavra_gateway.params import ID_PATTERN

router = APIRouter(prefix="/runtime/go-pilot", tags=["rollback drills"], responses=error_responses(422, 503))
COMMAND_ERRORS = error_responses(409, 413, 422, 503)

SCHEDULE_ID = Query(
    default=None,
    description="Which schedule; default the only/first one.",
    max_length=128,
    pattern=ID_PATTERN,
)
ACCEPTED_DOC: dict[int | str, dict[str, Any]] = {
    202: {
        "model": Accepted,
        "description": "Stored and queued: the scheduler did not answer within CAVRA_COMMAND_WAIT_SECONDS. "
        "Poll `poll`, or repeat the request with the same Idempotency-Key.",
    }
}


def _rejected(event: dict[str, Any]) -> JSONResponse:
    rejected = CommandRejectedV1.model_validate(event)
    return rejection_response(rejected.status_code, rejected.problems)


@router.get(
    "/rollback-drill-schedule",
    summary="Schedule report (cavra.go-backend-pilot.rollback-drill-schedule.v1)",
    responses={200: {"model": RollbackDrillScheduleReportV1}, **error_responses(404)},
)
async def schedule_report(state: State, _: Viewer, schedule_id: str | None = SCHEDULE_ID) -> dict[str, Any]:
    return await ask(state, ScheduleReportQueryV1(schedule_id=schedule_id))


@router.get(
    "/rollback-drills",
    summary="Drill history report (cavra.go-backend-pilot.rollback-drill-history.v1)",
    responses={200: {"model": RollbackDrillHistoryReportV1}, **error_responses(404)},
)
async def history_report(state: State, _: Viewer, schedule_id: str | None = SCHEDULE_ID) -> dict[str, Any]:
    return await ask(state, HistoryReportQueryV1(schedule_id=schedule_id))


@router.get(
    "/rollback-drill-schedules",
    summary="Every schedule with its current readiness",
    responses={200: {"model": ScheduleListV1}},
)
async def list_schedules(
    state: State,
    _: Viewer,
    limit: int = Query(default=100, ge=1, le=1000),
    offset: int = Query(default=0, ge=0, le=MAX_OFFSET),
) -> dict[str, Any]:
    return await ask(state, ListSchedulesQueryV1(limit=limit, offset=offset))


@router.put(
    "/rollback-drill-schedules/{schedule_id}",
    summary="Create or replace a schedule (cavra.go-backend-rollback-drill-schedule.v1)",
    openapi_extra=body_schema(RollbackDrillScheduleV1, optional=("schedule_id",)),
    responses={
        200: {"model": ScheduleWritten, "description": "Replaced"},
        201: {"model": ScheduleWritten, "description": "Created"},
        **ACCEPTED_DOC,
        **COMMAND_ERRORS,
    },
)
async def put_schedule(
    state: State,
    actor: Operator,
    request: Request,
    schedule_id: str = Path(max_length=128),
    body: dict[str, Any] = Body(...),
    key: str | None = IDEMPOTENCY_KEY,
) -> Response:
    if refused := refuse_claimed_identity(body):
        return refused
    if "schedule_id" in body and body["schedule_id"] != schedule_id:
        return problem_response(
            422,
            "invalid schedule",
            [{"field": "schedule_id", "message": "must equal the schedule_id in the path"}],
        )
    try:
        schedule = RollbackDrillScheduleV1.model_validate({**body, "schedule_id": schedule_id})
    except ValidationError as exc:
        return problem_response(422, "invalid schedule", validation_problems(exc))
    command = Command(
        UpsertScheduleV1(schedule=schedule, requested_by=actor.actor),
        outcomes=outcomes_of(ScheduleUpsertedV1, CommandRejectedV1),
        subject=f"schedule/{schedule.schedule_id}",
    )
    poll = f"/runtime/go-pilot/rollback-drill-schedule?schedule_id={schedule.schedule_id}"

    async def answer(told: Told, waits: Waits) -> JSONResponse:
        outcome = await told.outcome(waits.outcome)
        if outcome is None:
            return accepted(told, poll)
        if outcome.type == CommandRejectedV1.MESSAGE.subject:
            return _rejected(outcome.payload)
        upserted = ScheduleUpsertedV1.model_validate(outcome.payload)
        return JSONResponse(
            status_code=201 if upserted.created else 200,
            content={
                "schedule": upserted.state.model_dump(mode="json"),
                "created": upserted.created,
                "message_id": told.command.message_id,
                "event_id": outcome.message_id,
            },
        )

    return await run_command(state, request, key, command, answer)


@router.post(
    "/rollback-drills",
    summary="Record an executed rollback drill; a passing drill moves its schedule forward",
    openapi_extra=body_schema(DrillRunV1),
    responses={
        201: {"model": DrillRecorded, "description": "Recorded"},
        **ACCEPTED_DOC,
        **error_responses(404),
        **COMMAND_ERRORS,
    },
)
async def record_drill(
    state: State,
    actor: Operator,
    request: Request,
    body: dict[str, Any] = Body(...),
    key: str | None = IDEMPOTENCY_KEY,
) -> Response:
    if refused := refuse_claimed_identity(body):
        return refused
    fields = dict(body)
    environment = fields.pop("environment", "")
    if not isinstance(environment, str) or len(environment) > MAX_TEXT_LENGTH:
        message = f"must be a string of at most {MAX_TEXT_LENGTH} characters"
        return problem_response(422, "invalid drill", [{"field": "environment", "message": message}])
    try:
        drill = DrillRunV1.model_validate(fields)
    except ValidationError as exc:
        return problem_response(422, "invalid drill", validation_problems(exc))
    command = Command(
        RecordDrillRunV1(drill=drill, environment=environment, requested_by=actor.actor),
        outcomes=outcomes_of(DrillRunRecordedV1, CommandRejectedV1),
        subject=f"drill/{drill.drill_id}",
    )

    async def answer(told: Told, waits: Waits) -> JSONResponse:
        outcome = await told.outcome(waits.outcome)
        if outcome is None:
            return accepted(told, "/runtime/go-pilot/rollback-drills")
        if outcome.type == CommandRejectedV1.MESSAGE.subject:
            return _rejected(outcome.payload)
        recorded = DrillRunRecordedV1.model_validate(outcome.payload)
        return JSONResponse(
            status_code=201,
            content={
                "drill": recorded.drill.as_json_dict(),
                "created": recorded.created,
                "advanced_schedule_id": recorded.advanced_schedule_id,
                "next_due_at": recorded.next_due_at,
                "message_id": told.command.message_id,
                "event_id": outcome.message_id,
            },
        )

    return await run_command(state, request, key, command, answer)
