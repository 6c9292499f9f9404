"""Executive report handlers: schedule-run and deliver commands from the gateway; report, runs and run
queries. One handler table (``COMMANDS``) for the executive consumer, one query table (``QUERIES``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import structlog

from cavra_contracts.actors import ActorV1
from cavra_contracts.envelope import Envelope
from cavra_contracts.executive import (
    DeliverExecutiveReportV1,
    ExecutiveReportQueryV1,
    ExecutiveRequestRejectedV1,
    ExecutiveRunQueryV1,
    ExecutiveRunsQueryV1,
    ExecutiveScheduleV1,
    RunExecutiveReportV1,
)
from cavra_contracts.queries import QueryReplyV1
from cavra_contracts.scheduler import FieldProblem
from cavra_runtime.dispatch import HandlerTable, Message
from cavra_runtime.inbox import once
from cavra_runtime.service import QueryTable

from . import records, report, windows, workflow
from . import repository as repo
from .settings import ExecutiveSettings
from .source import Connectors, RecoveryReports, RecoverySourceUnavailable
from .subscriptions import EXECUTIVE_CONSUMER

log = structlog.get_logger()


@dataclass(frozen=True)
class ExecutiveDeps:
    pool: asyncpg.Pool
    clock: Callable[[], datetime]
    source: RecoveryReports
    connectors: Connectors
    settings: ExecutiveSettings


async def _refuse(conn: asyncpg.Connection, exc: workflow.Rejected, cause: Envelope) -> None:
    problems = [FieldProblem.model_validate(problem) for problem in exc.problems]
    await workflow.emit(
        conn, ExecutiveRequestRejectedV1(status_code=exc.status_code, problems=problems), cause, "rejected"
    )
    log.info("executive.rejected", status_code=exc.status_code, problem=str(exc))


async def _compose_now(
    deps: ExecutiveDeps, schedule: ExecutiveScheduleV1, recovery_slo_minutes: int, generated_by: str
) -> workflow.Composed:
    """This cadence's latest complete window, as of now (``Rejected`` 503 when the source is away)."""
    zone = deps.settings.zone(schedule.time_zone)
    now = deps.clock()
    window = windows.latest_complete(now, schedule.interval_minutes, zone)
    try:
        return await workflow.compose(
            deps.source,
            at=now,
            window=window,
            previous=windows.previous_window(window, schedule.interval_minutes, zone),
            recovery_slo_minutes=recovery_slo_minutes,
            generated_by=generated_by,
        )
    except RecoverySourceUnavailable as exc:
        raise workflow.Rejected(
            503, "recovery_source", f"the recovery report is unavailable: {exc}"
        ) from None


async def _record_api_run(
    conn: asyncpg.Connection,
    deps: ExecutiveDeps,
    composed: workflow.Composed,
    *,
    schedule: ExecutiveScheduleV1,
    recovery_slo_minutes: int,
    providers: list[str] | None,
    actor: ActorV1,
    trigger: str,
    cause: Envelope,
    define: bool,
) -> workflow.Recorded:
    zone = deps.settings.zone(schedule.time_zone)
    now = deps.clock()
    run_id = report.run_id_for({"command_id": cause.message_id, "trigger": trigger})
    next_at = windows.next_run(now, schedule.interval_minutes, zone, schedule.at_local_time)
    recorded = await workflow.record_run(
        conn,
        composed,
        run_id=run_id,
        schedule=workflow.schedule_view(schedule, zone),
        trigger=trigger,
        actor=actor,
        now=now,
        next_run_at=next_at if define and schedule.enabled else None,
        cause=cause,
    )
    if define:
        await repo.define_schedule(
            conn,
            {
                "interval_minutes": schedule.interval_minutes,
                "cadence": schedule.label(),
                "time_zone": str(zone),
                "at_local_time": schedule.at_local_time,
                "recovery_slo_minutes": recovery_slo_minutes,
                "providers": providers,
                "enabled": schedule.enabled,
                "due_at": next_at,
                "defined_by_run": run_id,
                "defined_by": actor.model_dump(mode="json"),
                "updated_at": now,
            },
        )
    return recorded


async def on_run(message: Message[RunExecutiveReportV1], deps: ExecutiveDeps) -> None:
    """Generate and store a run now; its schedule (re)defines the cadence (enabled) or stops it."""
    command = message.contract
    try:
        composed: workflow.Composed | None = await _compose_now(
            deps, command.schedule, command.recovery_slo_minutes, command.actor.actor
        )
        problem = None
    except workflow.Rejected as exc:
        composed, problem = None, exc
    async with once(deps.pool, EXECUTIVE_CONSUMER, message.envelope) as conn:
        if conn is None:
            return
        if composed is None:
            assert problem is not None
            await _refuse(conn, problem, message.envelope)
            return
        recorded = await _record_api_run(
            conn,
            deps,
            composed,
            schedule=command.schedule,
            recovery_slo_minutes=command.recovery_slo_minutes,
            providers=command.providers,
            actor=command.actor,
            trigger="api",
            cause=message.envelope,
            define=True,
        )
    log.info(
        "executive.run_recorded",
        run_id=recorded.run["run_id"],
        executive_report_id=recorded.run["executive_report_id"],
        enabled=command.schedule.enabled,
    )


async def on_deliver(message: Message[DeliverExecutiveReportV1], deps: ExecutiveDeps) -> None:
    """Deliver a stored run (``latest``: the newest, else a fresh one) to the configured providers."""
    command = message.contract
    available = await deps.connectors.routable_providers()  # TimeoutError: transient, retried
    async with deps.pool.acquire() as conn:
        stored = await repo.run(conn, command.run_id)
    composed: workflow.Composed | None = None
    problem: workflow.Rejected | None = None
    try:
        providers = workflow.check_providers(
            command.providers or deps.settings.default_providers(), available
        )
        if stored is None and command.run_id != "latest":
            raise workflow.Rejected(404, "run_id", "recovery executive report schedule run not found")
        if stored is None:
            composed = await _compose_now(
                deps, command.schedule, command.recovery_slo_minutes, command.actor.actor
            )
    except workflow.Rejected as exc:
        problem = exc
    async with once(deps.pool, EXECUTIVE_CONSUMER, message.envelope) as conn:
        if conn is None:
            return
        if problem is not None:
            await _refuse(conn, problem, message.envelope)
            return
        if composed is not None:
            run = (
                await _record_api_run(
                    conn,
                    deps,
                    composed,
                    schedule=command.schedule,
                    recovery_slo_minutes=command.recovery_slo_minutes,
                    providers=command.providers,
                    actor=command.actor,
                    trigger="delivery",
                    cause=message.envelope,
                    define=False,
                )
            ).run
        else:
            assert stored is not None
            run = stored[0].payload
        requested = await workflow.request_delivery(
            conn,
            run,
            providers=providers,
            max_risks=command.max_risks,
            options=command.delivery,
            actor=command.actor,
            trigger="api",
            now=deps.clock(),
            cause=message.envelope,
        )
    log.info(
        "executive.delivery_requested", run_id=requested.run_id, job_id=requested.job_id, providers=providers
    )


COMMANDS: HandlerTable[ExecutiveDeps] = {
    RunExecutiveReportV1: on_run,
    DeliverExecutiveReportV1: on_deliver,
}
"""Handlers of the executive consumer."""


# --- queries --------------------------------------------------------------------------------------


def _failure(exc: workflow.Rejected) -> QueryReplyV1:
    return QueryReplyV1(ok=False, status_code=exc.status_code, error=str(exc))


async def executive_report(query: ExecutiveReportQueryV1, deps: ExecutiveDeps) -> QueryReplyV1:
    """The report over the latest complete daily window, computed and never stored."""
    try:
        composed = await _compose_now(
            deps, ExecutiveScheduleV1(), query.recovery_slo_minutes, query.generated_by
        )
    except workflow.Rejected as exc:
        return _failure(exc)
    metadata = records.report_record(composed.report, deps.clock()).document()
    metadata.pop("recovery_executive_report")
    return QueryReplyV1(ok=True, result={"report": composed.report, "metadata": metadata, "stored": False})


def _run_view(found: tuple[Any, Any]) -> dict[str, Any]:
    run_record, report_record = found
    return {
        "run": run_record.payload,
        "metadata": run_record.document(),
        "report_metadata": report_record.document(),
    }


async def executive_run(query: ExecutiveRunQueryV1, deps: ExecutiveDeps) -> QueryReplyV1:
    async with deps.pool.acquire() as conn:
        found = await repo.run(conn, query.run_id)
    if found is None:
        return QueryReplyV1(
            ok=False, status_code=404, error="recovery executive report schedule run not found"
        )
    return QueryReplyV1(ok=True, result=_run_view(found))


def _listed(record: Any) -> dict[str, Any]:
    """A run's metadata without the embedded report: its schedule window and summary."""
    document: dict[str, Any] = record.document()
    run = document.pop(record.payload_key)
    return document | {"schedule": run["schedule"], "summary": run["summary"]}


async def executive_runs(query: ExecutiveRunsQueryV1, deps: ExecutiveDeps) -> QueryReplyV1:
    async with deps.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        items, total = await repo.runs_page(conn, query.limit, query.offset)
        schedule = await repo.schedule(conn)
    page = {
        "items": [_listed(record) for record in items],
        "total": total,
        "limit": query.limit,
        "offset": query.offset,
        "schedule": schedule,
    }
    return QueryReplyV1(ok=True, result=page)


QUERIES: QueryTable[ExecutiveDeps] = {
    ExecutiveReportQueryV1: executive_report,
    ExecutiveRunQueryV1: executive_run,
    ExecutiveRunsQueryV1: executive_runs,
}
"""The executive report queries, one per contract."""
