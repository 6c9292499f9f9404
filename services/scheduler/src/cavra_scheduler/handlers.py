"""Scheduler message handlers: commands from the bus and queries from the gateway.

Handlers are plain async functions of (envelope, deps); ``COMMANDS`` and ``QUERIES`` map
each contract's subject to its handler.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
from pydantic import ValidationError

from cavra_contracts.envelope import Envelope
from cavra_contracts.queries import QueryReplyV1
from cavra_contracts.scheduler import (
    CommandRejectedV1,
    FieldProblem,
    HistoryReportQueryV1,
    ListSchedulesQueryV1,
    RecordDrillRunV1,
    ScheduleListV1,
    ScheduleReportQueryV1,
    UpsertScheduleV1,
)
from cavra_runtime.bus import PermanentError
from cavra_runtime.inbox import once
from cavra_scheduler import repository as repo
from cavra_scheduler.evaluation import evaluate_history, evaluate_schedule, schedule_state
from cavra_scheduler.events import emit
from cavra_scheduler.store import Context, Rejected, record_drill, store_schedule

CONSUMER = "scheduler-commands"


@dataclass(frozen=True)
class Deps:
    pool: asyncpg.Pool
    ctx: Context


def problems_of(exc: ValidationError) -> list[FieldProblem]:
    """Every offending field of a validation error, dotted path first."""
    return [
        FieldProblem(field=".".join(str(part) for part in error["loc"]) or "body", message=error["msg"])
        for error in exc.errors()
    ]


async def _reject(deps: Deps, envelope: Envelope, status_code: int, problems: list[FieldProblem]) -> None:
    async with once(deps.pool, CONSUMER, envelope) as conn:
        if conn is None:
            return
        rejected = CommandRejectedV1(command_type=envelope.type, status_code=status_code, problems=problems)
        await emit(conn, rejected, subject=envelope.subject, cause=envelope)


async def upsert_schedule(envelope: Envelope, deps: Deps) -> None:
    try:
        command = UpsertScheduleV1.model_validate(envelope.payload)
    except ValidationError as exc:
        await _reject(deps, envelope, 422, problems_of(exc))
        return
    async with once(deps.pool, CONSUMER, envelope) as conn:
        if conn is None:
            return
        await store_schedule(
            conn, command.schedule, deps.ctx, source="api", requested_by=command.requested_by, cause=envelope
        )


async def record_drill_run(envelope: Envelope, deps: Deps) -> None:
    try:
        command = RecordDrillRunV1.model_validate(envelope.payload)
    except ValidationError as exc:
        await _reject(deps, envelope, 422, problems_of(exc))
        return
    try:
        async with once(deps.pool, CONSUMER, envelope) as conn:
            if conn is None:
                return
            await record_drill(
                conn,
                command.drill,
                deps.ctx,
                environment=command.environment,
                source="api",
                requested_by=command.requested_by,
                cause=envelope,
                default_to_first_schedule=True,
            )
    except Rejected as exc:  # rolled back whole; the rejection is an event of its own
        await _reject(deps, envelope, exc.status_code, exc.problems)


CommandHandler = Callable[[Envelope, Deps], Awaitable[None]]

COMMANDS: dict[str, CommandHandler] = {
    UpsertScheduleV1.MESSAGE.subject: upsert_schedule,
    RecordDrillRunV1.MESSAGE.subject: record_drill_run,
}


async def dispatch_command(envelope: Envelope, deps: Deps) -> None:
    """Route a command to its handler by contract type."""
    handler = COMMANDS.get(envelope.type)
    if handler is None:
        raise PermanentError(f"scheduler has no handler for {envelope.type}")
    await handler(envelope, deps)


# --- queries --------------------------------------------------------------------------------


def _ok(result: dict[str, Any]) -> QueryReplyV1:
    return QueryReplyV1(ok=True, result=result)


def _not_found(schedule_id: str) -> QueryReplyV1:
    return QueryReplyV1(ok=False, status_code=404, error=f"schedule_id not found: {schedule_id}")


async def schedule_report(envelope: Envelope, deps: Deps) -> QueryReplyV1:
    query = ScheduleReportQueryV1.model_validate(envelope.payload)
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


async def history_report(envelope: Envelope, deps: Deps) -> QueryReplyV1:
    query = HistoryReportQueryV1.model_validate(envelope.payload)
    async with deps.pool.acquire() as conn:
        if query.schedule_id and await repo.get_schedule(conn, query.schedule_id) is None:
            return _not_found(query.schedule_id)
        drills, environment = await repo.drills_for(conn, query.schedule_id)
    return _ok(evaluate_history(drills, environment, deps.ctx.config, deps.ctx.clock()))


async def list_schedules(envelope: Envelope, deps: Deps) -> QueryReplyV1:
    query = ListSchedulesQueryV1.model_validate(envelope.payload)
    now = deps.ctx.clock()
    items = []
    async with deps.pool.acquire() as conn:
        total = await repo.count_schedules(conn)
        for stored in await repo.list_schedules(conn, query.limit, query.offset):
            drills, environment = await repo.drills_for(conn, stored.schedule_id)
            evaluation = evaluate_schedule(stored.document, drills, environment, deps.ctx.config, now)
            items.append(
                schedule_state(
                    evaluation, version=stored.version, updated_at=stored.updated_at, evaluated_at=now
                )
            )
    listing = ScheduleListV1(items=items, total=total, limit=query.limit, offset=query.offset)
    return _ok(listing.model_dump(mode="json"))


QueryHandler = Callable[[Envelope, Deps], Awaitable[QueryReplyV1]]

QUERIES: dict[str, QueryHandler] = {
    ScheduleReportQueryV1.MESSAGE.subject: schedule_report,
    HistoryReportQueryV1.MESSAGE.subject: history_report,
    ListSchedulesQueryV1.MESSAGE.subject: list_schedules,
}
