"""Executive recovery reports (spec §1.7 #42-44, §3.21): ``AD/recovery-executive-report...``.

``GET`` computes a report and stores nothing (JSON, or a readable HTML / PDF document); a schedule
run and a delivery are commands to the reporting service carrying the verified actor; stored runs
are read back with queries.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from cavra_contracts.deliveries import MessageDeliveredV1
from cavra_contracts.executive import (
    DEFAULT_MAX_RISKS,
    MAX_RISKS,
    MAX_RUN_PROVIDERS,
    MAX_RUNS_PAGE,
    RUN_ID_PATTERN,
    DeliverExecutiveReportV1,
    ExecutiveReportDeliveryRequestedV1,
    ExecutiveReportQueryV1,
    ExecutiveReportRunRecordedV1,
    ExecutiveRequestRejectedV1,
    ExecutiveRunQueryV1,
    ExecutiveRunsQueryV1,
    ExecutiveScheduleV1,
    Providers,
    RunExecutiveReportV1,
    normalized_providers,
)
from cavra_contracts.limits import MAX_PROVIDER_LENGTH, MAX_RETRIES, MAX_TEXT_LENGTH, MAX_TIMEOUT_SECONDS
from cavra_contracts.notifications import DeliveryOptions
from cavra_contracts.recovery import DEFAULT_RECOVERY_SLO_MINUTES, MAX_RECOVERY_SLO_MINUTES
from cavra_gateway.answers import Answer, answering
from cavra_gateway.api_models import Accepted
from cavra_gateway.auth import Operator, Viewer
from cavra_gateway.deps import State
from cavra_gateway.documents import render
from cavra_gateway.errors import error_responses, problem_response
from cavra_gateway.idempotency import IDEMPOTENCY_KEY, run_command
from cavra_gateway.messaging import Command, Told, Waits, ask, outcomes_of

AD = "/runtime/go-pilot/rollback-drill-notifications/acknowledgements/audit-delivery"
REPORT = "/recovery-executive-report"
router = APIRouter(prefix=AD, tags=["executive"], responses=error_responses(422, 503))
COMMAND_ERRORS = error_responses(400, 404, 409, 413, 422, 503)
Format = Literal["json", "html", "pdf"]
FORMAT = Query(default="json", description="json (default), html (a readable document) or pdf.")
PROVIDER_LIST = r"^[A-Za-z0-9_-]+(\s*,\s*[A-Za-z0-9_-]+)*$"


class ScheduleBody(ExecutiveScheduleV1):
    """``schedule``: interval (divides a day or whole days), cadence label, enabled, IANA time zone,
    ``at_local_time`` HH:MM."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ScheduleRunRequest(BaseModel):
    """Body of POST .../recovery-executive-report/schedule-run."""

    model_config = ConfigDict(extra="forbid")

    schedule: ScheduleBody = Field(default_factory=ScheduleBody)
    recovery_slo_minutes: int = Field(default=DEFAULT_RECOVERY_SLO_MINUTES, ge=1, le=MAX_RECOVERY_SLO_MINUTES)
    providers: Providers | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_RUN_PROVIDERS,
        description="Where scheduled runs are delivered; default CAVRA_EXECUTIVE_REPORT_PROVIDERS.",
    )
    generated_by: str | None = Field(
        default=None, max_length=MAX_TEXT_LENGTH, description="Ignored: the verified actor is recorded."
    )

    @field_validator("providers")
    @classmethod
    def _names(cls, value: Providers | None) -> Providers | None:
        return normalized_providers(value)  # the command's own check: a name it refuses is a 422 here


class DeliverRequest(BaseModel):
    """Body of POST .../recovery-executive-report/schedule-runs/{run_id}/deliver."""

    model_config = ConfigDict(extra="forbid")

    provider: str | None = Field(
        default=None,
        max_length=MAX_RUN_PROVIDERS * (MAX_PROVIDER_LENGTH + 2),
        pattern=PROVIDER_LIST,
        description="A provider or comma list; default CAVRA_EXECUTIVE_REPORT_PROVIDERS.",
    )
    max_risks: int = Field(default=DEFAULT_MAX_RISKS, ge=1, le=MAX_RISKS)
    schedule: ScheduleBody = Field(
        default_factory=lambda: ScheduleBody(enabled=False), description="Only for `latest` with no run."
    )
    recovery_slo_minutes: int = Field(default=DEFAULT_RECOVERY_SLO_MINUTES, ge=1, le=MAX_RECOVERY_SLO_MINUTES)
    retries: int | None = Field(default=None, ge=0, le=MAX_RETRIES)
    timeout_seconds: float | None = Field(default=None, ge=0.1, le=MAX_TIMEOUT_SECONDS)
    generated_by: str | None = Field(
        default=None, max_length=MAX_TEXT_LENGTH, description="Ignored: the verified actor is recorded."
    )

    def providers(self) -> list[str] | None:
        if not self.provider:
            return None
        return [part.strip() for part in self.provider.split(",") if part.strip()]

    @field_validator("provider")
    @classmethod
    def _few(cls, value: str | None) -> str | None:
        if value and len(value.split(",")) > MAX_RUN_PROVIDERS:
            raise ValueError(f"at most {MAX_RUN_PROVIDERS} providers")
        return value


async def _document(report: dict[str, Any], fmt: Format, run: dict[str, Any] | None) -> Response:
    page = render.html(report, run=run)
    if fmt == "html":
        return HTMLResponse(page)
    try:
        body = await render.pdf(page)
    except render.RendererBusy:
        return problem_response(503, "the PDF renderer is busy; try again", [])
    name = (run or {}).get("run_id") or report["executive_report_id"]
    return Response(
        body,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'},
    )


@router.get(
    REPORT,
    summary="The executive recovery report now (cavra.go-backend-pilot.rollback-drill-acknowledgement-"
    "audit-delivery-recovery-executive-report.v1); stores nothing",
    description="`format=json`: `{report, metadata}` (metadata computed, not stored); `html`: a readable "
    "document with SVG charts; `pdf`: the same document as an attachment.",
    responses={200: {"content": {"text/html": {}, "application/pdf": {}}}},
)
async def executive_report(
    state: State,
    actor: Viewer,
    recovery_slo_minutes: int = Query(
        default=DEFAULT_RECOVERY_SLO_MINUTES, ge=1, le=MAX_RECOVERY_SLO_MINUTES
    ),
    format: Format = FORMAT,  # noqa: A002 - the public parameter name
) -> Response:
    answer = await ask(
        state, ExecutiveReportQueryV1(recovery_slo_minutes=recovery_slo_minutes, generated_by=actor.actor)
    )
    if format == "json":
        return JSONResponse({"report": answer["report"], "metadata": answer["metadata"]})
    return await _document(answer["report"], format, None)


Recorded = TypeVar("Recorded", ExecutiveReportRunRecordedV1, ExecutiveReportDeliveryRequestedV1)


def _answering(
    contract: type[Recorded], respond: Callable[[Recorded, Told, Waits], Awaitable[JSONResponse]]
) -> Answer:
    """Answer a command: 202 while no outcome has come, the rejection's problems, else ``respond``."""
    return answering(
        contract, respond, rejected=ExecutiveRequestRejectedV1, poll=f"{AD}{REPORT}/schedule-runs"
    )


@router.post(
    f"{REPORT}/schedule-run",
    summary="Generate and store a schedule run now; an enabled schedule (re)defines the cadence",
    description="The run covers the latest complete window of the schedule (windows on day boundaries of "
    "`schedule.time_zone`); the reporting service then generates and delivers a run at every window end "
    "(or `at_local_time`) until a schedule run with `enabled: false` stops it.",
    responses={200: {"description": "Stored"}, 202: {"model": Accepted}, **COMMAND_ERRORS},
)
async def schedule_run(
    state: State,
    request: Request,
    actor: Operator,
    body: ScheduleRunRequest,
    key: str | None = IDEMPOTENCY_KEY,
) -> Response:
    command = Command(
        RunExecutiveReportV1(
            schedule=ExecutiveScheduleV1.model_validate(body.schedule.model_dump()),
            recovery_slo_minutes=body.recovery_slo_minutes,
            providers=body.providers,
            actor=actor,
        ),
        outcomes=outcomes_of(ExecutiveReportRunRecordedV1, ExecutiveRequestRejectedV1),
        subject="executive-report/schedule-run",
    )

    async def respond(recorded: ExecutiveReportRunRecordedV1, told: Told, waits: Waits) -> JSONResponse:
        stored = await ask(state, ExecutiveRunQueryV1(run_id=recorded.run_id))
        content = {
            **stored,
            "next_run_at": recorded.next_run_at or None,
            "actor": recorded.actor.model_dump(),
        }
        return JSONResponse(status_code=200, content=content)

    return await run_command(state, request, key, command, _answering(ExecutiveReportRunRecordedV1, respond))


RUN_ID = Path(max_length=64, pattern=RUN_ID_PATTERN, description="A run id, or `latest`.")


@router.post(
    f"{REPORT}/schedule-runs/{{run_id}}/deliver",
    summary="Deliver a stored schedule run (`latest`: the newest, else one generated now)",
    description="Enqueues a delivery job (source go_backend_rollback_drill_acknowledgement_audit_recovery_"
    "executive_report) whose data is the delivery event (spec §3.21). An unknown run is a 404; a provider "
    "no configured connector serves is a 400 naming `provider`.",
    responses={
        200: {"description": "Requested (see `delivery`)"},
        202: {"model": Accepted},
        **COMMAND_ERRORS,
    },
)
async def deliver_run(
    state: State,
    request: Request,
    actor: Operator,
    body: DeliverRequest,
    run_id: str = RUN_ID,
    key: str | None = IDEMPOTENCY_KEY,
) -> Response:
    command = Command(
        DeliverExecutiveReportV1(
            run_id=run_id,
            providers=body.providers(),
            max_risks=body.max_risks,
            schedule=ExecutiveScheduleV1.model_validate(body.schedule.model_dump()),
            recovery_slo_minutes=body.recovery_slo_minutes,
            delivery=DeliveryOptions(retries=body.retries, timeout_seconds=body.timeout_seconds),
            actor=actor,
        ),
        outcomes=outcomes_of(ExecutiveReportDeliveryRequestedV1, ExecutiveRequestRejectedV1),
        downstream=outcomes_of(MessageDeliveredV1),
        subject=f"executive-report/{run_id}",
    )

    async def respond(
        requested: ExecutiveReportDeliveryRequestedV1, told: Told, waits: Waits
    ) -> JSONResponse:
        stored = await ask(state, ExecutiveRunQueryV1(run_id=requested.run_id))
        delivery: dict[str, Any] = {
            "status": "pending",
            "job_id": requested.job_id,
            "providers": requested.providers,
        }
        success = None
        delivered = await told.downstream(waits.downstream)
        if delivered is not None:
            message = MessageDeliveredV1.model_validate(delivered.payload)
            success = message.success
            delivery |= {"status": "delivered" if success else "failed", "record_id": message.record_id}
        return JSONResponse(
            status_code=200,
            content={
                "run": stored["run"],
                "delivery": delivery,
                "metadata": requested.record.document(),
                "run_metadata": stored["metadata"],
                "success": success,
                "event_id": requested.run_id,
                "actor": requested.actor.model_dump(),
            },
        )

    return await run_command(
        state, request, key, command, _answering(ExecutiveReportDeliveryRequestedV1, respond)
    )


@router.get(f"{REPORT}/schedule-runs", summary="Stored schedule runs, newest first, and the cadence")
async def schedule_runs(
    state: State,
    _: Viewer,
    limit: int = Query(default=50, ge=1, le=MAX_RUNS_PAGE),
    offset: int = Query(default=0, ge=0, le=1_000_000),
) -> dict[str, Any]:
    page = await ask(state, ExecutiveRunsQueryV1(limit=limit, offset=offset))
    return {"product": "CAVRA", **page}


@router.get(
    f"{REPORT}/schedule-runs/{{run_id}}",
    summary="One stored schedule run (`format=html|pdf`: its report as a document)",
    responses={200: {"content": {"text/html": {}, "application/pdf": {}}}, **error_responses(404)},
)
async def stored_run(
    state: State,
    _: Viewer,
    run_id: str = RUN_ID,
    format: Format = FORMAT,  # noqa: A002 - the public parameter name
) -> Response:
    stored = await ask(state, ExecutiveRunQueryV1(run_id=run_id))
    if format == "json":
        return JSONResponse(stored)
    run = stored["run"]
    return await _document(run["executive_report"], format, run)
