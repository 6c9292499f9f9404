"""Rollback drill schedules and drill history: ``/runtime/go-pilot/rollback-drill*``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Header, Path, Query
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from cavra_contracts.limits import MAX_OFFSET, MAX_TEXT_LENGTH
from cavra_contracts.scheduler import (
    CommandRejectedV1,
    DrillRunRecordedV1,
    HistoryReportQueryV1,
    ListSchedulesQueryV1,
    RecordDrillRunV1,
    ScheduleReportQueryV1,
    ScheduleUpsertedV1,
    UpsertScheduleV1,
)
from cavra_contracts.schedules import DrillRunV1, RollbackDrillScheduleV1
from cavra_gateway.deps import State
from cavra_gateway.errors import problem_response, rejection_response, validation_problems
from cavra_gateway.messaging import Told, ask, tell

router = APIRouter(prefix="/runtime/go-pilot", tags=["rollback drills"])

SCHEDULE_ID = Query(default=None, description="Which schedule; default the only/first one.", max_length=128)
IDEMPOTENCY_KEY = Header(
    default=None, description="Repeat a request safely: the same key is applied once.", max_length=128
)
ACCEPTED_DOC: dict[int | str, dict[str, Any]] = {
    202: {
        "description": "Stored and queued: the scheduler did not answer within CAVRA_COMMAND_WAIT_SECONDS, "
        "or (`status: duplicate`) this Idempotency-Key was already accepted. Poll `poll`."
    }
}


def _accepted(told: Told, poll: str) -> JSONResponse:
    status = "duplicate" if told.duplicate else "accepted"
    return JSONResponse(
        status_code=202, content={"status": status, "message_id": told.command.message_id, "poll": poll}
    )


def _rejected(event: dict[str, Any]) -> JSONResponse:
    rejected = CommandRejectedV1.model_validate(event)
    return rejection_response(rejected.status_code, rejected.problems)


@router.get(
    "/rollback-drill-schedule", summary="Schedule report (cavra.go-backend-pilot.rollback-drill-schedule.v1)"
)
async def schedule_report(state: State, schedule_id: str | None = SCHEDULE_ID) -> dict[str, Any]:
    return await ask(state, ScheduleReportQueryV1(schedule_id=schedule_id))


@router.get(
    "/rollback-drills", summary="Drill history report (cavra.go-backend-pilot.rollback-drill-history.v1)"
)
async def history_report(state: State, schedule_id: str | None = SCHEDULE_ID) -> dict[str, Any]:
    return await ask(state, HistoryReportQueryV1(schedule_id=schedule_id))


@router.get("/rollback-drill-schedules", summary="Every schedule with its current readiness")
async def list_schedules(
    state: State,
    limit: int = Query(default=100, ge=1, le=1000),
    offset: int = Query(default=0, ge=0, le=MAX_OFFSET),
) -> dict[str, Any]:
    return await ask(state, ListSchedulesQueryV1(limit=limit, offset=offset))


@router.put(
    "/rollback-drill-schedules/{schedule_id}",
    summary="Create or replace a schedule (cavra.go-backend-rollback-drill-schedule.v1)",
    responses={
        200: {"description": "Replaced"},
        201: {"description": "Created"},
        **ACCEPTED_DOC,
        422: {"description": "Invalid schedule; `errors` names every offending field"},
    },
)
async def put_schedule(
    state: State,
    schedule_id: str = Path(max_length=128),
    body: dict[str, Any] = Body(...),
    requested_by: str = Query(default="console", max_length=200),
    idempotency_key: str | None = IDEMPOTENCY_KEY,
) -> JSONResponse:
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
    command = UpsertScheduleV1(schedule=schedule, requested_by=requested_by)
    told = await tell(
        state,
        command,
        outcomes=[ScheduleUpsertedV1.MESSAGE.subject, CommandRejectedV1.MESSAGE.subject],
        subject=f"schedule/{schedule_id}",
        message_id=idempotency_key,
    )
    outcome = told.outcome
    if outcome is None:
        return _accepted(told, f"/runtime/go-pilot/rollback-drill-schedule?schedule_id={schedule_id}")
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


@router.post(
    "/rollback-drills",
    summary="Record an executed rollback drill; a passing drill moves its schedule forward",
    responses={
        201: {"description": "Recorded"},
        **ACCEPTED_DOC,
        404: {"description": "schedule_id names no schedule"},
        422: {"description": "Invalid drill; `errors` names every offending field"},
    },
)
async def record_drill(
    state: State,
    body: dict[str, Any] = Body(...),
    requested_by: str = Query(default="console", max_length=200),
    idempotency_key: str | None = IDEMPOTENCY_KEY,
) -> JSONResponse:
    environment = body.pop("environment", "")
    if not isinstance(environment, str) or len(environment) > MAX_TEXT_LENGTH:
        message = f"must be a string of at most {MAX_TEXT_LENGTH} characters"
        return problem_response(422, "invalid drill", [{"field": "environment", "message": message}])
    try:
        drill = DrillRunV1.model_validate(body)
    except ValidationError as exc:
        return problem_response(422, "invalid drill", validation_problems(exc))
    command = RecordDrillRunV1(drill=drill, environment=environment, requested_by=requested_by)
    told = await tell(
        state,
        command,
        outcomes=[DrillRunRecordedV1.MESSAGE.subject, CommandRejectedV1.MESSAGE.subject],
        subject=f"drill/{drill.drill_id}",
        message_id=idempotency_key,
    )
    outcome = told.outcome
    if outcome is None:
        return _accepted(told, "/runtime/go-pilot/rollback-drills")
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
