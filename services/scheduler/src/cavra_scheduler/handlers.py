"""Scheduler message handlers: commands from the bus and queries from the gateway.

Handlers are plain async functions of (typed message, deps); ``COMMANDS`` and ``QUERIES`` map
each contract to its handler. Decoding and the retry/reject rules are the dispatcher's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

from cavra_contracts.queries import QueryReplyV1
from cavra_contracts.scheduler import (
    CommandRejectedV1,
    FieldProblem,
    HistoryReportQueryV1,
    ListSchedulesQueryV1,
    RecordDrillRunV1,
    ScheduleReportQueryV1,
    UpsertScheduleV1,
)
from cavra_runtime.dispatch import HandlerTable, Message
from cavra_runtime.inbox import once
from cavra_runtime.service import QueryTable
from cavra_scheduler import repository as repo
from cavra_scheduler.evaluation import evaluate_history, evaluate_schedule, schedule_list
from cavra_scheduler.events import emit
from cavra_scheduler.store import Context, Rejected, record_drill, store_schedule

CONSUMER = "scheduler-commands"


@dataclass(frozen=True)
class Deps:
    pool: asyncpg.Pool
    ctx: Context


async def _reject(deps: Deps, message: Message[Any], status_code: int, problems: list[FieldProblem]) -> None:
    envelope = message.envelope
    async with once(deps.pool, CONSUMER, envelope) as conn:
        if conn is None:
            return
        rejected = CommandRejectedV1(command_type=envelope.type, status_code=status_code, problems=problems)
        await emit(conn, rejected, subject=envelope.subject, cause=envelope)


async def upsert_schedule(message: Message[UpsertScheduleV1], deps: Deps) -> None:
    command = message.contract
    async with once(deps.pool, CONSUMER, message.envelope) as conn:
        if conn is None:
            return
        await store_schedule(
            conn,
            command.schedule,
            deps.ctx,
            source="api",
            requested_by=command.requested_by,
            cause=message.envelope,
        )


async def record_drill_run(message: Message[RecordDrillRunV1], deps: Deps) -> None:
    command = message.contract
    try:
        async with once(deps.pool, CONSUMER, message.envelope) as conn:
            if conn is None:
                return
            await record_drill(
                conn,
                command.drill,
                deps.ctx,
                environment=command.environment,
                source="api",
                requested_by=command.requested_by,
                cause=message.envelope,
                default_to_first_schedule=True,
            )
    except Rejected as exc:  # rolled back whole; the rejection is an event of its own
        await _reject(deps, message, exc.status_code, exc.problems)


COMMANDS: HandlerTable[Deps] = {
    UpsertScheduleV1: upsert_schedule,
    RecordDrillRunV1: record_drill_run,
}
"""The scheduler's command handlers, one per contract."""


# --- queries --------------------------------------------------------------------------------


def _ok(result: dict[str, Any]) -> QueryReplyV1:
    return QueryReplyV1(ok=True, result=result)


def _not_found(schedule_id: str) -> QueryReplyV1:
    return QueryReplyV1(ok=False, status_code=404, error=f"schedule_id not found: {schedule_id}")


async def schedule_report(query: ScheduleReportQueryV1, deps: Deps) -> QueryReplyV1:
    async with deps.pool.acquire() as conn:
        stored = await (
            repo.get_schedule(conn, query.schedule_id) if query.schedule_id else repo.first_schedule(conn)
        )
        if query.schedule_id and stored is None:
            return _not_found(query.schedule_id)
        drills, environment = await repo.drills_for(conn, stored.schedule_id if stored else None)
    evaluation = evaluate_schedule(
        stored.document if stored else None, drills, environment, deps.ctx.config, deps.ctx.clock()
    )
    return _ok(evaluation.report)


async def history_report(query: HistoryReportQueryV1, deps: Deps) -> QueryReplyV1:
    async with deps.pool.acquire() as conn:
        if query.schedule_id and await repo.get_schedule(conn, query.schedule_id) is None:
            return _not_found(query.schedule_id)
        drills, environment = await repo.drills_for(conn, query.schedule_id)
    return _ok(evaluate_history(drills, environment, deps.ctx.config, deps.ctx.clock()))


async def list_schedules(query: ListSchedulesQueryV1, deps: Deps) -> QueryReplyV1:
    """One page of schedules with their readiness: one SQL statement, whatever the page size."""
    async with deps.pool.acquire() as conn:
        page, total = await repo.list_schedules_with_drills(conn, query.limit, query.offset)
    listing = schedule_list(
        page,
        total=total,
        limit=query.limit,
        offset=query.offset,
        config=deps.ctx.config,
        now=deps.ctx.clock(),
    )
    return _ok(listing.model_dump(mode="json"))


QUERIES: QueryTable[Deps] = {
    ScheduleReportQueryV1: schedule_report,
    HistoryReportQueryV1: history_report,
    ListSchedulesQueryV1: list_schedules,
}
"""The scheduler's query handlers, one per contract."""
