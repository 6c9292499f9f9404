"""Public rollback-drill documents: the schedule file, the drill history file, and the two reports.

The schema_version strings are the original CAVRA contract and must not change:

* ``cavra.go-backend-rollback-drill-schedule.v1`` — schedule file (one schedule);
* ``cavra.go-backend-rollback-drill-history.v1`` — drill history file;
* ``cavra.go-backend-pilot.rollback-drill-schedule.v1`` — schedule report;
* ``cavra.go-backend-pilot.rollback-drill-history.v1`` — history report.

Input documents are validated strictly (a bad schedule is rejected with every offending
field named); reports are produced by the scheduler's domain code and validated against
these models in tests.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, StrictBool, StringConstraints, field_validator

from cavra_contracts.base import Document, UtcDatetime
from cavra_contracts.vocabulary import ReadinessStatus

SCHEDULE_FILE_SCHEMA = "cavra.go-backend-rollback-drill-schedule.v1"
HISTORY_FILE_SCHEMA = "cavra.go-backend-rollback-drill-history.v1"
SCHEDULE_REPORT_SCHEMA = "cavra.go-backend-pilot.rollback-drill-schedule.v1"
HISTORY_REPORT_SCHEMA = "cavra.go-backend-pilot.rollback-drill-history.v1"


NonEmptyStr = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Identifier = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@-]+$"),
]


class MaintenanceWindow(Document):
    """A window during which matching routes are suppressed (inclusive bounds)."""

    window_id: str = Field(default="maintenance-window", validation_alias=AliasChoices("window_id", "id"))
    start_at: UtcDatetime = Field(validation_alias=AliasChoices("start_at", "starts_at"))
    end_at: UtcDatetime = Field(validation_alias=AliasChoices("end_at", "ends_at"))
    schedule_ids: list[NonEmptyStr] = Field(default_factory=list)
    providers: list[NonEmptyStr] = Field(default_factory=list)
    owners: list[NonEmptyStr] = Field(default_factory=list)
    reason: str = Field(default="maintenance window", validation_alias=AliasChoices("reason", "description"))


class CalendarWindow(Document):
    """A span during which an owner is unavailable."""

    start_at: UtcDatetime = Field(validation_alias=AliasChoices("start_at", "starts_at"))
    end_at: UtcDatetime = Field(validation_alias=AliasChoices("end_at", "ends_at"))
    reason: str | None = None


class OwnerCalendar(Document):
    """Public-safe availability of one owner."""

    unavailable_windows: list[CalendarWindow] = Field(
        default_factory=list, validation_alias=AliasChoices("unavailable_windows", "blackout_windows")
    )
    available: StrictBool | None = None
    reason: str | None = None


class RollbackDrillScheduleV1(Document):
    """Schedule file ``cavra.go-backend-rollback-drill-schedule.v1``: one recurring drill cadence."""

    schema_version: Literal["cavra.go-backend-rollback-drill-schedule.v1"]
    schedule_id: Identifier
    environment: str = ""
    status: NonEmptyStr = "active"
    interval_days: float = Field(gt=0, allow_inf_nan=False)
    next_due_at: UtcDatetime | None = None
    owners: list[NonEmptyStr] = Field(min_length=1)
    notification_providers: list[NonEmptyStr] = Field(min_length=1)
    owner_routes: dict[str, dict[str, Any]] | list[dict[str, Any]] = Field(
        default_factory=dict, validation_alias=AliasChoices("owner_routes", "routing_rules")
    )
    maintenance_windows: list[MaintenanceWindow] = Field(
        default_factory=list, validation_alias=AliasChoices("maintenance_windows", "suppression_windows")
    )
    owner_calendars: dict[str, OwnerCalendar] = Field(
        default_factory=dict, validation_alias=AliasChoices("owner_calendars", "calendars")
    )
    runbook_ref: NonEmptyStr

    @field_validator("interval_days", mode="before")
    @classmethod
    def _reject_bool_interval(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("interval_days must be a positive number of days")
        return value


class DrillRunV1(Document):
    """One executed rollback drill, as recorded in the drill history."""

    drill_id: Identifier
    executed_at: UtcDatetime
    schedule_id: Identifier | None = None
    actor: str = ""
    source_mode: str = ""
    target_mode: str = ""
    status: NonEmptyStr
    fallback_verified: StrictBool = False
    recovery_minutes: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    max_recovery_minutes: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    runbook_ref: str = ""
    evidence_refs: list[NonEmptyStr] = Field(default_factory=list)


class RollbackDrillHistoryV1(Document):
    """Drill history file ``cavra.go-backend-rollback-drill-history.v1``."""

    schema_version: Literal["cavra.go-backend-rollback-drill-history.v1"]
    environment: str = ""
    drills: list[DrillRunV1] = Field(min_length=1)


class ReportCheck(Document):
    """One check of a report; ``warn`` never ``fail``, as in the original."""

    id: str
    status: Literal["pass", "warn"]
    message: str


class HistorySummary(Document):
    """Derived facts about the latest drill."""

    valid: bool
    schema_version: str
    environment: str
    drill_count: int
    latest_drill_id: str
    latest_status: str
    latest_target_mode: str
    latest_executed_at: str
    age_days: float | None
    fresh: bool
    fallback_verified: bool
    recovery_sla_met: bool
    runbook_ref: str
    evidence_refs: list[str]
    message: str


class ScheduleSummary(Document):
    """Derived facts about one schedule at evaluation time."""

    valid: bool
    schema_version: str
    schedule_id: str
    environment: str
    status: str
    active: bool
    cadence_valid: bool
    interval_days: float | None
    next_due_at: str
    days_until_due: float | None
    stale: bool
    due_soon: bool
    notification_routes_valid: bool
    owners: list[str]
    notification_providers: list[str]
    runbook_ref: str
    message: str


class RollbackDrillHistoryReportV1(Document):
    """History report ``cavra.go-backend-pilot.rollback-drill-history.v1``."""

    schema_version: Literal["cavra.go-backend-pilot.rollback-drill-history.v1"]
    mode: str
    status: Literal["ready", "not_requested", "needs_attention"]
    rollback_drill_history_path: str
    rollback_drill_max_age_days: float
    checks: list[ReportCheck]
    history: HistorySummary
    operator_notes: list[str]


class RollbackDrillScheduleReportV1(Document):
    """Schedule report ``cavra.go-backend-pilot.rollback-drill-schedule.v1``."""

    schema_version: Literal["cavra.go-backend-pilot.rollback-drill-schedule.v1"]
    mode: str
    status: ReadinessStatus
    rollback_drill_schedule_path: str
    rollback_drill_due_soon_days: float
    checks: list[ReportCheck]
    schedule: ScheduleSummary
    history: HistorySummary
    operator_notes: list[str]
