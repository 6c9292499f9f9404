"""Retry handlers: plan, worker run, schedule, acknowledgement, approval plan and decision commands from
the gateway (one table, ``COMMANDS``) and their queries (``QUERIES``). Every command is applied once
(inbox) and answers with its event, or a :class:`RetryRequestRejectedV1` naming the field."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import structlog

from cavra_contracts.approvals import (
    AcknowledgeRetryV1,
    ApprovalsQueryV1,
    DecideApprovalV1,
    GenerateApprovalPlanV1,
)
from cavra_contracts.base import Contract
from cavra_contracts.envelope import Envelope
from cavra_contracts.families import family_spec
from cavra_contracts.queries import QueryReplyV1
from cavra_contracts.retries import (
    GenerateRetryPlanV1,
    RetryExecutionsQueryV1,
    RetryPlanGeneratedV1,
    RetryPlanQueryV1,
    RetryRequestRejectedV1,
    RunRetryWorkerV1,
    SetWorkerScheduleV1,
    WorkerRunCompletedV1,
    WorkerRunsQueryV1,
    WorkerScheduleQueryV1,
    WorkerScheduleSetV1,
    hash_id,
    window,
)
from cavra_contracts.scheduler import FieldProblem
from cavra_contracts.timestamps import iso
from cavra_delivery.retries import approval_repository as approvals_repo
from cavra_delivery.retries import governance, records, workers
from cavra_delivery.retries import repository as repo
from cavra_delivery.retries import runs_repository as runs_repo
from cavra_delivery.retries.events import emit
from cavra_runtime.dispatch import HandlerTable, Message
from cavra_runtime.inbox import once
from cavra_runtime.service import QueryTable

log = structlog.get_logger()
RETRIES_CONSUMER = "delivery-retries"


@dataclass(frozen=True)
class RetryDeps:
    pool: asyncpg.Pool
    clock: Callable[[], datetime]
    windows: governance.Windows


async def _reject(conn: asyncpg.Connection, exc: governance.Rejected, cause: Envelope) -> None:
    problem = FieldProblem(field=exc.field, message=str(exc))
    await emit(conn, RetryRequestRejectedV1(status_code=exc.status_code, problems=[problem]), cause)
    log.info("retry.rejected", status_code=exc.status_code, field=exc.field)


async def on_generate_plan(message: Message[GenerateRetryPlanV1], deps: RetryDeps) -> None:
    command = message.contract
    spec = family_spec(command.family)
    async with once(deps.pool, RETRIES_CONSUMER, message.envelope) as conn:
        if conn is None:
            return
        plan = await workers.generate_plan(
            conn,
            spec,
            command.policy,
            retry_plan_id=hash_id(spec.retry_plan_prefix, {"command_id": message.envelope.message_id}),
            generated_by=command.generated_by,
            now=deps.clock(),
        )
        event = RetryPlanGeneratedV1(
            record=records.plan_record(spec, plan),
            family=spec.name,
            retry_plan_id=plan["retry_plan_id"],
            actor=command.actor,
        )
        await emit(conn, event, message.envelope)
    log.info(
        "retry.plan_generated",
        family=spec.name,
        retry_plan_id=plan["retry_plan_id"],
        decisions=plan["decision_count"],
    )


async def on_run_worker(message: Message[RunRetryWorkerV1], deps: RetryDeps) -> None:
    command = message.contract
    spec = family_spec(command.family)
    request = workers.RunRequest(
        spec=spec,
        run_id=hash_id(spec.worker_run_prefix, {"command_id": message.envelope.message_id}),
        dry_run=command.dry_run,
        policy=command.policy,
        schedule=command.schedule,
        max_retry_deliveries=command.max_retry_deliveries,
        scheduled=command.scheduled,
        generated_by=command.generated_by,
        actor=command.actor,
    )
    async with once(deps.pool, RETRIES_CONSUMER, message.envelope) as conn:
        if conn is None:
            return
        run, plan, results = await workers.run_worker(conn, request, deps.clock, message.envelope)
        event = WorkerRunCompletedV1(
            record=records.run_record(spec, run),
            family=spec.name,
            run_id=run["run_id"],
            retry_record=records.plan_record(spec, plan).document(),
            retry_results=results,
            actor=command.actor,
        )
        await emit(conn, event, message.envelope)
    log.info(
        "retry.worker_run",
        family=spec.name,
        run_id=run["run_id"],
        dry_run=command.dry_run,
        selected=run["summary"]["selected_retry_count"],
    )


async def on_set_schedule(message: Message[SetWorkerScheduleV1], deps: RetryDeps) -> None:
    command = message.contract
    schedule = workers.stored_schedule(command.schedule)
    async with once(deps.pool, RETRIES_CONSUMER, message.envelope) as conn:
        if conn is None:
            return
        now = deps.clock()
        _, due_at = window(now, command.schedule.interval_minutes)
        await runs_repo.upsert_schedule(
            conn, command.family, schedule, command.policy.model_dump(), due_at, now, command.actor.actor
        )
        view = schedule | {"due_at": iso(due_at), "updated_by": command.actor.actor}
        await emit(
            conn,
            WorkerScheduleSetV1(family=command.family, schedule=view, actor=command.actor),
            message.envelope,
        )


async def _governed(
    message: Message[Any], deps: RetryDeps, apply: Callable[[asyncpg.Connection, datetime], Any]
) -> None:
    async with once(deps.pool, RETRIES_CONSUMER, message.envelope) as conn:
        if conn is None:
            return
        try:
            async with conn.transaction():  # a refusal leaves nothing of the command but its claim
                outcome: Contract = await apply(conn, deps.clock())
        except governance.Rejected as exc:
            await _reject(conn, exc, message.envelope)
            return
        await emit(conn, outcome, message.envelope)
    log.info("retry.governed", outcome=type(outcome).__name__)


async def on_acknowledge(message: Message[AcknowledgeRetryV1], deps: RetryDeps) -> None:
    await _governed(message, deps, lambda conn, now: governance.acknowledge(conn, message.contract, now))


async def on_approval_plan(message: Message[GenerateApprovalPlanV1], deps: RetryDeps) -> None:
    await _governed(
        message,
        deps,
        lambda conn, now: governance.approval_plan(
            conn, message.contract, message.envelope.message_id, now, deps.windows
        ),
    )


async def on_decide(message: Message[DecideApprovalV1], deps: RetryDeps) -> None:
    await _governed(
        message, deps, lambda conn, now: governance.decide(conn, message.contract, now, deps.windows)
    )


COMMANDS: HandlerTable[RetryDeps] = {
    GenerateRetryPlanV1: on_generate_plan,
    RunRetryWorkerV1: on_run_worker,
    SetWorkerScheduleV1: on_set_schedule,
    AcknowledgeRetryV1: on_acknowledge,
    GenerateApprovalPlanV1: on_approval_plan,
    DecideApprovalV1: on_decide,
}
"""Handlers of the retries command consumer."""


# --- queries ------------------------------------------------------------------------------------


def _page(items: list[Any], total: int, query: Any, **heading: Any) -> QueryReplyV1:
    """One page of a listing query (``limit`` / ``offset``), after the ``heading`` fields."""
    return QueryReplyV1(
        ok=True,
        result={**heading, "items": items, "total": total, "limit": query.limit, "offset": query.offset},
    )


async def retry_plan(query: RetryPlanQueryV1, deps: RetryDeps) -> QueryReplyV1:
    async with deps.pool.acquire() as conn:
        plan = await repo.plan(conn, query.retry_plan_id)
        if plan is None:
            return QueryReplyV1(
                ok=False, status_code=404, error=f"retry plan not found: {query.retry_plan_id}"
            )
        page = await repo.decisions(conn, query.retry_plan_id, query.limit, query.offset)
    spec = family_spec(plan["family"])
    document = records.plan_document(spec, plan, []) | {
        "retry_decisions": [records.decision_view(r) for r in page]
    }
    metadata = records.plan_record(spec, records.plan_document(spec, plan, page)).document()
    return QueryReplyV1(
        ok=True, result={"plan": document, "metadata": metadata, "limit": query.limit, "offset": query.offset}
    )


async def worker_runs(query: WorkerRunsQueryV1, deps: RetryDeps) -> QueryReplyV1:
    spec = family_spec(query.family)
    history_schema = spec.worker_run_schema.replace("worker-run.v1", "worker-history.v1")
    async with deps.pool.acquire() as conn:
        if query.dashboard:
            totals = await runs_repo.run_totals(conn, query.family)
            latest, _ = await runs_repo.runs(conn, query.family, None, 10, 0)
        else:
            rows, total = await runs_repo.runs(conn, query.family, query.dry_run, query.limit, query.offset)
    if query.dashboard:
        result: dict[str, Any] = {
            "schema_version": spec.worker_run_schema.replace("worker-run.v1", "worker-dashboard.v1"),
            "family": spec.name,
            "generated_at": iso(deps.clock()),
            "alert_level": "critical" if totals["retryable_count"] else "healthy",
            **{
                name: int(totals[name])
                for name in (
                    "run_count",
                    "dry_run_count",
                    "executed_count",
                    "retryable_count",
                    "selected_retry_count",
                )
            },
            "latest": [row["document"] for row in latest],
        }
        return QueryReplyV1(ok=True, result=result)
    return _page(
        [row["document"] for row in rows], total, query, schema_version=history_schema, product="CAVRA"
    )


async def retry_executions(query: RetryExecutionsQueryV1, deps: RetryDeps) -> QueryReplyV1:
    async with deps.pool.acquire() as conn:
        rows, total = await runs_repo.executions(conn, query.family, query.run_id, query.limit, query.offset)
    return _page([row["document"] for row in rows], total, query)


async def approvals(query: ApprovalsQueryV1, deps: RetryDeps) -> QueryReplyV1:
    async with deps.pool.acquire() as conn:
        rows, total = await approvals_repo.approvals(
            conn, query.state, query.family, query.limit, query.offset, query.approval_id
        )
    return _page([records.approval_view(row) for row in rows], total, query)


async def worker_schedule(query: WorkerScheduleQueryV1, deps: RetryDeps) -> QueryReplyV1:
    async with deps.pool.acquire() as conn:
        row = await runs_repo.schedule(conn, query.family)
    view = None
    if row is not None:
        view = dict(row) | {"due_at": iso(row["due_at"]), "updated_at": iso(row["updated_at"])}
    return QueryReplyV1(ok=True, result={"family": query.family, "schedule": view})


QUERIES: QueryTable[RetryDeps] = {
    RetryPlanQueryV1: retry_plan,
    WorkerRunsQueryV1: worker_runs,
    RetryExecutionsQueryV1: retry_executions,
    ApprovalsQueryV1: approvals,
    WorkerScheduleQueryV1: worker_schedule,
}
"""The retry query handlers, one per contract."""
