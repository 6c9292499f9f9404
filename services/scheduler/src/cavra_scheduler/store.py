"""Scheduler use cases that change state: store a schedule, record a drill, re-evaluate.

Each function runs inside a transaction the caller opened, writes state and the events that
describe it together, and never publishes anything itself (the outbox relay does).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import structlog

from cavra_contracts.envelope import Envelope
from cavra_contracts.scheduler import (
    DrillRunRecordedV1,
    FieldProblem,
    ScheduleEvaluatedV1,
    ScheduleStateV1,
    ScheduleUpsertedV1,
)
from cavra_contracts.schedules import DrillRunV1, RollbackDrillScheduleV1
from cavra_contracts.timestamps import add_days
from cavra_scheduler import domain
from cavra_scheduler import repository as repo
from cavra_scheduler.domain.documents import positive_number
from cavra_scheduler.evaluation import EvaluationConfig, evaluate_schedule, schedule_state
from cavra_scheduler.events import emit

log = structlog.get_logger()

MIN_RECHECK = timedelta(seconds=1)


class Rejected(Exception):
    """The command cannot be applied; nothing was written."""

    def __init__(self, status_code: int, problems: list[FieldProblem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))
        self.status_code = status_code
        self.problems = problems


@dataclass(frozen=True)
class Context:
    """What every use case needs besides the connection."""

    config: EvaluationConfig
    clock: Callable[[], datetime]


def _subject(schedule_id: str) -> str:
    return f"schedule/{schedule_id}"


async def reevaluate(
    conn: asyncpg.Connection,
    stored: repo.StoredSchedule,
    ctx: Context,
    *,
    now: datetime,
    trigger: str,
    cause: Envelope | None,
    previous_status: str | None,
) -> ScheduleStateV1:
    """Evaluate a locked schedule, save the result, and emit ScheduleEvaluatedV1 on a change."""
    drills, environment = await repo.drills_for(conn, stored.schedule_id)
    evaluation = evaluate_schedule(stored.document, drills, environment, ctx.config, now)
    state = schedule_state(evaluation, version=stored.version, updated_at=stored.updated_at, evaluated_at=now)
    due_at = evaluation.next_change_at
    if due_at is not None and due_at <= now:
        due_at = now + MIN_RECHECK
    await repo.save_evaluation(
        conn,
        stored.schedule_id,
        status=evaluation.status,
        state=state.model_dump(mode="json"),
        evaluated_at=now,
        due_at=due_at,
    )
    if evaluation.status != previous_status:
        summary = evaluation.report["schedule"]
        event = ScheduleEvaluatedV1.model_validate(
            {
                "schedule_id": stored.schedule_id,
                "previous_status": previous_status,
                "status": evaluation.status,
                "alert_level": domain.alert_level(evaluation.status),
                "next_due_at": summary["next_due_at"],
                "days_until_due": summary["days_until_due"],
                "evaluated_at": now,
                "trigger": trigger,
                "report": evaluation.report,
            }
        )
        await emit(conn, event, subject=_subject(stored.schedule_id), cause=cause)
        log.info(
            "schedule.state_changed",
            schedule_id=stored.schedule_id,
            previous=previous_status,
            status=evaluation.status,
            trigger=trigger,
        )
    return state


async def store_schedule(
    conn: asyncpg.Connection,
    schedule: RollbackDrillScheduleV1,
    ctx: Context,
    *,
    source: str,
    requested_by: str,
    cause: Envelope | None,
) -> ScheduleStateV1 | None:
    """Create or replace a schedule whole; None when a file re-load found nothing changed."""
    now = ctx.clock()
    document = schedule.as_json_dict()
    existing = await repo.lock_schedule(conn, schedule.schedule_id)
    if existing is not None and cause is None and existing.document == document:
        return None
    if existing is None:
        await repo.insert_schedule(
            conn,
            schedule_id=schedule.schedule_id,
            document=document,
            source=source,
            status="",  # replaced by the evaluation below, which also emits the first ScheduleEvaluated
            state={},
            evaluated_at=now,
            due_at=None,
        )
        previous = None
    else:
        await repo.replace_document(conn, schedule.schedule_id, document, source, now)
        previous = existing.status
    stored = await repo.lock_schedule(conn, schedule.schedule_id)
    assert stored is not None
    state = await reevaluate(
        conn, stored, ctx, now=now, trigger="schedule_upserted", cause=cause, previous_status=previous
    )
    upserted = ScheduleUpsertedV1(
        schedule_id=schedule.schedule_id,
        created=existing is None,
        source=source,
        requested_by=requested_by,
        schedule=schedule,
        state=state,
    )
    await emit(conn, upserted, subject=_subject(schedule.schedule_id), cause=cause)
    return state


def proves_fallback(drill: DrillRunV1) -> bool:
    """A drill that passed, returned to Python-only mode and verified the fallback."""
    return drill.status == "pass" and drill.target_mode == "disabled" and drill.fallback_verified


def _advanced_due(document: dict[str, Any], drill: DrillRunV1) -> str | None:
    """The explicit next_due_at a proving drill moves the schedule to, if it moves it forward.

    Total on any stored document: an interval that is not a positive number, or that pushes the
    date past the calendar (possible only for a schedule stored before interval_days was bounded),
    leaves the schedule where it is.
    """
    explicit = document.get("next_due_at")
    if not explicit or not proves_fallback(drill):
        return None
    interval_days = positive_number(document.get("interval_days"))
    candidate = add_days(drill.executed_at, float(interval_days)) if interval_days is not None else None
    if candidate is None:
        log.warning(
            "schedule.not_advanced",
            schedule_id=document.get("schedule_id"),
            drill_id=drill.drill_id,
            interval_days=document.get("interval_days"),
        )
        return None
    current = domain.parse_timestamp(explicit)
    if current is not None and candidate <= current:
        return None
    return domain.iso(candidate)


async def record_drill(
    conn: asyncpg.Connection,
    drill: DrillRunV1,
    ctx: Context,
    *,
    environment: str,
    source: str,
    requested_by: str,
    cause: Envelope | None,
    default_to_first_schedule: bool,
) -> DrillRunRecordedV1 | None:
    """Record a drill run and re-evaluate the schedules it counts for.

    A drill that proves the fallback (see ``proves_fallback``), recorded for a schedule, moves
    that schedule's explicit ``next_due_at`` to
    ``executed_at + interval_days`` when that is later (the original never advanced it).
    Returns None when a file re-load found the drill unchanged.
    """
    now = ctx.clock()
    if drill.schedule_id is None and default_to_first_schedule:
        first = await repo.first_schedule(conn)
        if first is not None:
            drill = drill.model_copy(update={"schedule_id": first.schedule_id})
    target: repo.StoredSchedule | None = None
    if drill.schedule_id is not None:
        target = await repo.lock_schedule(conn, drill.schedule_id)
        if target is None:
            raise Rejected(
                404, [FieldProblem(field="schedule_id", message=f"unknown schedule: {drill.schedule_id}")]
            )
    document = drill.as_json_dict()
    if cause is None and await repo.drill_document(conn, drill.drill_id) == document:
        return None
    created = await repo.upsert_drill(
        conn,
        drill_id=drill.drill_id,
        schedule_id=drill.schedule_id,
        environment=environment,
        executed_at=drill.executed_at,
        status=drill.status,
        document=document,
        source=source,
    )
    next_due: str | None = None
    if target is not None:
        next_due = _advanced_due(target.document, drill)
        if next_due is not None:
            await repo.replace_document(
                conn, target.schedule_id, {**target.document, "next_due_at": next_due}, target.source, now
            )
        affected = [target.schedule_id]
    else:
        affected = await repo.all_schedule_ids_for_update(conn)
    for schedule_id in affected:
        stored = await repo.lock_schedule(conn, schedule_id)
        assert stored is not None
        await reevaluate(
            conn,
            stored,
            ctx,
            now=now,
            trigger="drill_run_recorded",
            cause=cause,
            previous_status=stored.status,
        )
    recorded = DrillRunRecordedV1(
        drill=drill,
        environment=environment,
        source=source,
        requested_by=requested_by,
        created=created,
        advanced_schedule_id=target.schedule_id if target is not None and next_due else None,
        next_due_at=next_due,
    )
    await emit(conn, recorded, subject=f"drill/{drill.drill_id}", cause=cause)
    return recorded


async def evaluate_due(conn: asyncpg.Connection, ctx: Context, *, limit: int) -> int:
    """Re-evaluate every schedule whose ``due_at`` has passed; returns how many."""
    now = ctx.clock()
    due = await repo.claim_due(conn, now, limit)
    for stored in due:
        await reevaluate(
            conn, stored, ctx, now=now, trigger="timer", cause=None, previous_status=stored.status
        )
    return len(due)
