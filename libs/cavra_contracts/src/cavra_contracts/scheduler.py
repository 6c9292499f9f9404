"""Messages owned by the scheduler service: its commands, events and queries."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from cavra_contracts.base import Contract, UtcDatetime
from cavra_contracts.limits import MAX_ID_LENGTH, MAX_LIST_LIMIT, MAX_OFFSET
from cavra_contracts.schedules import (
    DrillRunV1,
    Label,
    RollbackDrillHistoryReportV1,
    RollbackDrillScheduleReportV1,
    RollbackDrillScheduleV1,
)
from cavra_contracts.subjects import MessageSpec
from cavra_contracts.vocabulary import AlertLevel, ReadinessStatus

SERVICE = "scheduler"


class ScheduleStateV1(Contract):
    """A schedule's current evaluation, as listed by the scheduler."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "qry",
        SERVICE,
        "schedule_state",
        "cavra.drillops.scheduler.schedule-state.v1",
        summary="One schedule with its current readiness (list item; not sent on its own).",
        channel=False,
    )

    schedule_id: str
    environment: str
    status: ReadinessStatus
    alert_level: AlertLevel
    active: bool
    next_due_at: str
    days_until_due: float | None
    stale: bool
    due_soon: bool
    owners: list[str]
    notification_providers: list[str]
    runbook_ref: str
    version: int
    updated_at: UtcDatetime
    evaluated_at: UtcDatetime
    next_evaluation_at: UtcDatetime | None


# --- commands (JetStream, CAVRA_COMMANDS) ---------------------------------------------------


class UpsertScheduleV1(Contract):
    """Create a schedule or replace it whole."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "cmd",
        SERVICE,
        "upsert_schedule",
        "cavra.drillops.scheduler.upsert-schedule.v1",
        summary="Create or replace one rollback drill schedule.",
    )

    schedule: RollbackDrillScheduleV1
    requested_by: Label = "console"


class RecordDrillRunV1(Contract):
    """Record an executed rollback drill; a passing drill moves its schedule forward."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "cmd",
        SERVICE,
        "record_drill_run",
        "cavra.drillops.scheduler.record-drill-run.v1",
        summary="Record one executed rollback drill.",
    )

    drill: DrillRunV1
    environment: Label = ""
    requested_by: Label = "console"


# --- events (JetStream, CAVRA_EVENTS) -------------------------------------------------------


class ScheduleUpsertedV1(Contract):
    """A schedule was created or replaced."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt",
        SERVICE,
        "schedule_upserted",
        "cavra.drillops.scheduler.schedule-upserted.v1",
        summary="A schedule was created or replaced (full document and resulting state).",
    )

    schedule_id: str
    created: bool
    source: str = Field(description="`api`, or `file:<path>` when loaded at start.")
    requested_by: str
    schedule: RollbackDrillScheduleV1
    state: ScheduleStateV1


class DrillRunRecordedV1(Contract):
    """A drill run was recorded (possibly advancing its schedule)."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt",
        SERVICE,
        "drill_run_recorded",
        "cavra.drillops.scheduler.drill-run-recorded.v1",
        summary="A drill run was recorded; names the schedule it advanced, if any.",
    )

    drill: DrillRunV1
    environment: str
    source: str
    requested_by: str
    created: bool
    advanced_schedule_id: str | None = None
    next_due_at: str | None = None


class ScheduleEvaluatedV1(Contract):
    """A schedule's readiness changed (published only on a change, never on a mere re-check)."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt",
        SERVICE,
        "schedule_evaluated",
        "cavra.drillops.scheduler.schedule-evaluated.v1",
        summary="A schedule's readiness state changed, e.g. ready -> due_soon -> needs_attention.",
    )

    schedule_id: str
    previous_status: ReadinessStatus | None
    status: ReadinessStatus
    alert_level: AlertLevel
    next_due_at: str
    days_until_due: float | None
    evaluated_at: UtcDatetime
    trigger: str = Field(description="`timer`, `schedule_upserted` or `drill_run_recorded`.")
    report: RollbackDrillScheduleReportV1


class FieldProblem(Contract):
    """One offending field of a rejected request."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt",
        SERVICE,
        "field_problem",
        "cavra.drillops.field-problem.v1",
        summary="Part of a rejection (not sent on its own).",
        channel=False,
    )

    field: str
    message: str


class CommandRejectedV1(Contract):
    """A command could not be applied; nothing was changed."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt",
        SERVICE,
        "command_rejected",
        "cavra.drillops.scheduler.command-rejected.v1",
        summary="A scheduler command was rejected; names every offending field.",
    )

    command_type: str
    status_code: int = 422
    problems: list[FieldProblem]


# --- queries (core NATS request/reply) ------------------------------------------------------


class ScheduleReportQueryV1(Contract):
    """Ask for the schedule report of one schedule (default: the only/first one)."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "qry",
        SERVICE,
        "schedule_report",
        "cavra.drillops.scheduler.schedule-report-query.v1",
        summary="Reply: RollbackDrillScheduleReportV1 (cavra.go-backend-pilot.rollback-drill-schedule.v1).",
    )

    schedule_id: str | None = Field(default=None, max_length=MAX_ID_LENGTH)


class HistoryReportQueryV1(Contract):
    """Ask for the drill history report, optionally for one schedule's drills."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "qry",
        SERVICE,
        "history_report",
        "cavra.drillops.scheduler.history-report-query.v1",
        summary="Reply: RollbackDrillHistoryReportV1 (cavra.go-backend-pilot.rollback-drill-history.v1).",
    )

    schedule_id: str | None = Field(default=None, max_length=MAX_ID_LENGTH)


class ListSchedulesQueryV1(Contract):
    """Ask for every schedule with its current state."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "qry",
        SERVICE,
        "list_schedules",
        "cavra.drillops.scheduler.list-schedules-query.v1",
        summary="Reply: ScheduleListV1.",
    )

    limit: int = Field(default=100, ge=1, le=MAX_LIST_LIMIT)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)


class ScheduleListV1(Contract):
    """Reply to ListSchedulesQueryV1."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "qry",
        SERVICE,
        "schedule_list",
        "cavra.drillops.scheduler.schedule-list.v1",
        summary="Every schedule with its current state (reply).",
        channel=False,
    )

    items: list[ScheduleStateV1]
    total: int
    limit: int
    offset: int


__all__ = [
    "CommandRejectedV1",
    "DrillRunRecordedV1",
    "FieldProblem",
    "HistoryReportQueryV1",
    "ListSchedulesQueryV1",
    "RecordDrillRunV1",
    "RollbackDrillHistoryReportV1",
    "ScheduleEvaluatedV1",
    "ScheduleListV1",
    "ScheduleReportQueryV1",
    "ScheduleStateV1",
    "ScheduleUpsertedV1",
    "UpsertScheduleV1",
]
