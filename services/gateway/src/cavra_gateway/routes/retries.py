"""Retry plans, worker runs, worker history and dashboards, execution records and worker schedules of every
delivery family (spec §1.4-1.7): one route builder, the family a parameter (:data:`FAMILY_PATHS`).

Mutations are commands to the delivery service carrying the verified actor (its name is the record's
``generated_by``, whatever the body says); reads are queries. Live executions come back ``pending`` in
the run's answer; ``GET .../retry-executions?run_id=`` reads them when they complete.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from cavra_contracts.families import FAMILIES, Family
from cavra_contracts.limits import (
    MAX_ID_LENGTH,
    MAX_OFFSET,
    MAX_RETRIES,
    MAX_TEXT_LENGTH,
    MAX_TIMEOUT_SECONDS,
)
from cavra_contracts.retries import (
    MAX_DECISION_PAGE,
    GenerateRetryPlanV1,
    RetryExecutionsQueryV1,
    RetryPlanGeneratedV1,
    RetryPlanQueryV1,
    RetryPolicyV1,
    RetryRequestRejectedV1,
    RunRetryWorkerV1,
    SetWorkerScheduleV1,
    WorkerRunCompletedV1,
    WorkerRunsQueryV1,
    WorkerScheduleQueryV1,
    WorkerScheduleSetV1,
    WorkerScheduleV1,
    clamp_deliveries,
    requested_dry_run,
)
from cavra_gateway import answers
from cavra_gateway.answers import Answer, Outcome, recorded
from cavra_gateway.api_models import Accepted
from cavra_gateway.auth import Operator, Viewer
from cavra_gateway.deps import State
from cavra_gateway.errors import error_responses
from cavra_gateway.idempotency import IDEMPOTENCY_KEY, run_command
from cavra_gateway.messaging import Command, ask, outcomes_of
from cavra_gateway.params import ID_PATTERN

NP = "/runtime/go-pilot/rollback-drill-notifications"
AD = f"{NP}/acknowledgements/audit-delivery"
router = APIRouter(tags=["retries"], responses=error_responses(422, 503))
COMMAND_ERRORS = error_responses(400, 404, 409, 413, 422, 503)

FAMILY_PATHS: dict[Family, tuple[str, str]] = {
    "audit": (f"{AD}/retry-plan", f"{AD}/worker-run"),
    "recovery_escalation": (
        f"{AD}/recovery-escalations/retry-plan",
        f"{AD}/recovery-escalations/retry-worker-run",
    ),
    "recovery_escalation_health_alert": (
        f"{AD}/recovery-escalations/retry-health-alerts/retry-plan",
        f"{AD}/recovery-escalations/retry-health-alerts/retry-worker-run",
    ),
    "executive_report": (
        f"{AD}/recovery-executive-report/delivery-retry-plan",
        f"{AD}/recovery-executive-report/delivery-retry-worker-run",
    ),
    "executive_report_health_alert": (
        f"{AD}/recovery-executive-report/delivery-retry-health-alerts/retry-plan",
        f"{AD}/recovery-executive-report/delivery-retry-health-alerts/retry-worker-run",
    ),
    "audit_health_alert": (
        f"{AD}/worker-health-alerts/retry-plan",
        f"{AD}/worker-health-alerts/retry-worker-run",
    ),
    "notification": (f"{NP}/delivery-retry-plan", f"{NP}/delivery-retry-worker-run"),
    "escalation": (f"{NP}/escalations/delivery-retry-plan", f"{NP}/escalations/delivery-retry-worker-run"),
}
"""Per family: (POST retry plan, POST worker run)."""


class RetryPlanRequest(BaseModel):
    """Body of POST .../retry-plan (every family)."""

    model_config = ConfigDict(extra="forbid")

    retry_policy: RetryPolicyV1 = Field(
        default_factory=RetryPolicyV1,
        description="max_retry_attempts (max_retries), retry_delay_minutes (delay_minutes), "
        "backoff_multiplier (multiplier), allow_immediate_retry.",
    )
    generated_by: str | None = Field(
        default=None, max_length=MAX_TEXT_LENGTH, description="Ignored: the verified actor is recorded."
    )


class WorkerRunRequest(RetryPlanRequest):
    """Body of POST .../worker-run (every family)."""

    dry_run: bool | None = Field(default=None, description="Default: not execute.")
    execute: bool = False
    schedule: WorkerScheduleV1 = Field(
        default_factory=WorkerScheduleV1,
        description="interval_minutes, cadence, enabled (keeps the family's worker running on its own), "
        "execute (scheduled runs are dry runs unless set).",
    )
    max_retry_deliveries: int = Field(default=5, ge=-1_000_000, le=1_000_000, description="Clamped to 1..25.")
    provider: str | None = Field(
        default=None,
        max_length=MAX_TEXT_LENGTH,
        description="Ignored: a retry goes to the provider that failed.",
    )
    max_routes: int | None = Field(
        default=None, ge=0, le=10_000, description="Ignored (the stored message is re-sent)."
    )
    max_risks: int | None = Field(
        default=None, ge=0, le=10_000, description="Ignored (the stored message is re-sent)."
    )
    retries: int | None = Field(default=None, ge=0, le=MAX_RETRIES)
    timeout_seconds: float | None = Field(default=None, ge=0.1, le=MAX_TIMEOUT_SECONDS)


def answering(contract: type[Outcome], respond: Callable[[Outcome], JSONResponse]) -> Answer:
    """Answer a retry command: 202 while no outcome has come, a rejection's problems, else ``respond``."""
    return answers.answering(
        contract, lambda done, _told, _waits: respond(done), rejected=RetryRequestRejectedV1
    )


def plan_answer(generated: RetryPlanGeneratedV1) -> JSONResponse:
    return recorded("plan", generated)


def run_answer(completed: WorkerRunCompletedV1) -> JSONResponse:
    return recorded(
        "run",
        completed,
        retry_metadata=completed.retry_record,
        retry_results=completed.retry_results,
    )


def add_family_routes(family: Family, plan_path: str, run_path: str) -> None:
    """POST retry plan and POST worker run of ``family``."""

    async def retry_plan(
        state: State,
        request: Request,
        actor: Operator,
        body: RetryPlanRequest,
        key: str | None = IDEMPOTENCY_KEY,
    ) -> Response:
        command = Command(
            GenerateRetryPlanV1(
                family=family, policy=body.retry_policy, generated_by=actor.actor, actor=actor
            ),
            outcomes=outcomes_of(RetryPlanGeneratedV1, RetryRequestRejectedV1),
            subject=f"retries/{family}",
        )
        return await run_command(state, request, key, command, answering(RetryPlanGeneratedV1, plan_answer))

    async def worker_run(
        state: State,
        request: Request,
        actor: Operator,
        body: WorkerRunRequest,
        key: str | None = IDEMPOTENCY_KEY,
    ) -> Response:
        command = Command(
            RunRetryWorkerV1(
                family=family,
                dry_run=requested_dry_run(body.dry_run, body.execute),
                policy=body.retry_policy,
                schedule=body.schedule,
                max_retry_deliveries=clamp_deliveries(body.max_retry_deliveries),
                generated_by=actor.actor,
                actor=actor,
            ),
            outcomes=outcomes_of(WorkerRunCompletedV1, RetryRequestRejectedV1),
            subject=f"retries/{family}",
        )
        return await run_command(state, request, key, command, answering(WorkerRunCompletedV1, run_answer))

    responses: dict[int | str, dict[str, Any]] = {202: {"model": Accepted}, **COMMAND_ERRORS}
    router.add_api_route(
        plan_path,
        retry_plan,
        methods=["POST"],
        name=f"{family}_retry_plan",
        summary=f"Retry plan of the {family} family (spec §3.12): retry, wait or suppress",
        responses=responses,
    )
    router.add_api_route(
        run_path,
        worker_run,
        methods=["POST"],
        name=f"{family}_worker_run",
        summary=f"Worker run of the {family} family (spec §3.13): dry run unless execute",
        responses=responses,
    )


for _family, (_plan, _run) in FAMILY_PATHS.items():
    add_family_routes(_family, _plan, _run)


FAMILY_QUERY = Query(default="audit", description=f"One of {', '.join(FAMILIES)}.")


@router.get(
    f"{AD}/retry-plans/{{retry_plan_id}}",
    summary="A stored retry plan with a page of its decisions",
    responses=error_responses(404),
)
async def stored_retry_plan(
    state: State,
    _: Viewer,
    retry_plan_id: str = Path(max_length=MAX_ID_LENGTH, pattern=ID_PATTERN),
    limit: int = Query(default=100, ge=0, le=MAX_DECISION_PAGE),
    offset: int = Query(default=0, ge=0, le=MAX_OFFSET),
) -> dict[str, Any]:
    return await ask(state, RetryPlanQueryV1(retry_plan_id=retry_plan_id, limit=limit, offset=offset))


@router.get(f"{AD}/worker-runs", summary="Worker history (spec §3.13), newest first")
async def worker_runs(
    state: State,
    _: Viewer,
    family: Family = FAMILY_QUERY,
    dry_run: bool | None = Query(default=None),
    limit: int = Query(default=50, ge=0, le=500),
    offset: int = Query(default=0, ge=0, le=MAX_OFFSET),
) -> dict[str, Any]:
    return await ask(state, WorkerRunsQueryV1(family=family, dry_run=dry_run, limit=limit, offset=offset))


@router.get(f"{AD}/worker-dashboard", summary="Worker dashboard (spec §3.13)")
async def worker_dashboard(state: State, _: Viewer, family: Family = FAMILY_QUERY) -> dict[str, Any]:
    return await ask(state, WorkerRunsQueryV1(family=family, dashboard=True))


@router.get(f"{AD}/retry-executions", summary="Retry execution records (spec §3.16, §3.22), newest first")
async def retry_executions(
    state: State,
    _: Viewer,
    family: Family | None = Query(default=None),
    run_id: str = Query(default="", max_length=MAX_ID_LENGTH, pattern=r"^[A-Za-z0-9._:@-]*$"),
    limit: int = Query(default=50, ge=0, le=500),
    offset: int = Query(default=0, ge=0, le=MAX_OFFSET),
) -> dict[str, Any]:
    return await ask(state, RetryExecutionsQueryV1(family=family, run_id=run_id, limit=limit, offset=offset))


SCHEDULE_PATH = f"{NP}/retries/{{family}}/worker-schedule"


@router.get(SCHEDULE_PATH, summary="A family's worker schedule (null when none is set)")
async def worker_schedule(state: State, _: Viewer, family: Family) -> dict[str, Any]:
    return await ask(state, WorkerScheduleQueryV1(family=family))


class WorkerScheduleRequest(BaseModel):
    """Body of PUT .../retries/{family}/worker-schedule."""

    model_config = ConfigDict(extra="forbid")

    schedule: WorkerScheduleV1
    retry_policy: RetryPolicyV1 = Field(default_factory=RetryPolicyV1)


@router.put(
    SCHEDULE_PATH,
    summary="Set a family's worker schedule: the worker runs on its own every interval_minutes",
    responses={202: {"model": Accepted}, **COMMAND_ERRORS},
)
async def set_worker_schedule(
    state: State,
    request: Request,
    actor: Operator,
    family: Family,
    body: WorkerScheduleRequest,
    key: str | None = IDEMPOTENCY_KEY,
) -> Response:
    command = Command(
        SetWorkerScheduleV1(family=family, schedule=body.schedule, policy=body.retry_policy, actor=actor),
        outcomes=outcomes_of(WorkerScheduleSetV1, RetryRequestRejectedV1),
        subject=f"retries/{family}",
    )

    def respond(done: WorkerScheduleSetV1) -> JSONResponse:
        return JSONResponse(
            status_code=200,
            content={"family": done.family, "schedule": done.schedule, "actor": done.actor.model_dump()},
        )

    return await run_command(state, request, key, command, answering(WorkerScheduleSetV1, respond))
