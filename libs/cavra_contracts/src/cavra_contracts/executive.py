"""Executive recovery reports (spec §3.21, §4.11): the report, its scheduled runs and their delivery,
owned by the reporting service (its ``executive`` package).

The report is built from the delivery service's recovery report (:class:`RecoveryReportQueryV1`):
``GET`` computes one and stores nothing (:class:`ExecutiveReportQueryV1`). A *schedule run*
(:class:`RunExecutiveReportV1`) stores a report with the window it covers and, when its schedule is
enabled, (re)defines the cadence on which the reporting service generates and delivers the next
runs by itself. Windows lie on day boundaries of an IANA time zone: a daily report covers local
midnight to midnight (23 or 25 hours across a DST change). :class:`DeliverExecutiveReportV1`
delivers a stored run (or ``latest``) as a ``DeliverMessageV1`` job with source
``EXECUTIVE_REPORT_SOURCE``; its retries are the generic retry machinery's (family
``executive_report``).

Every stored record is announced by a :class:`~cavra_contracts.evidence.RecordedEvent`.
"""

from __future__ import annotations

import re
from typing import Annotated, ClassVar, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, StringConstraints, field_validator, model_validator

from cavra_contracts.actors import ActorV1
from cavra_contracts.base import Contract
from cavra_contracts.evidence import RecordedEvent
from cavra_contracts.failures import RequestRefused
from cavra_contracts.families import AD_KIND, PILOT
from cavra_contracts.limits import MAX_ID_LENGTH, MAX_PROVIDER_LENGTH, MAX_TEXT_LENGTH
from cavra_contracts.notifications import DeliveryOptions
from cavra_contracts.recovery import DEFAULT_RECOVERY_SLO_MINUTES, MAX_RECOVERY_SLO_MINUTES
from cavra_contracts.subjects import MessageSpec

SERVICE = "reporting"

EXECUTIVE_REPORT_SCHEMA: Final = f"{PILOT}acknowledgement-audit-delivery-recovery-executive-report.v1"
EXECUTIVE_REPORT_KIND: Final = f"{AD_KIND}-recovery-executive-report"
EXECUTIVE_REPORT_PREFIX: Final = "gordackexecreport-"
SCHEDULE_RUN_SCHEMA: Final = (
    f"{PILOT}acknowledgement-audit-delivery-recovery-executive-report-schedule-run.v1"
)
SCHEDULE_RUN_KIND: Final = f"{AD_KIND}-recovery-executive-report-schedule-run"
SCHEDULE_RUN_PREFIX: Final = "gordackexecsched-"
DELIVERY_EVENT_SCHEMA: Final = (
    f"{PILOT}acknowledgement-audit-delivery-recovery-executive-report-delivery-event.v1"
)
DELIVERY_EVENT_KIND: Final = f"{AD_KIND}-recovery-executive-report-delivery-event"
DELIVERY_EVENT_TYPE: Final = (
    "cavra.go_backend.rollback_drill.acknowledgement_audit_delivery.recovery_executive_report"
)
DELIVERY_KIND: Final = "recovery_executive_report"
"""``MessageContentV1.kind`` of an executive report delivery."""

DAY_MINUTES: Final = 1440
DEFAULT_INTERVAL_MINUTES: Final = DAY_MINUTES
MAX_INTERVAL_MINUTES: Final = 43_200
"""30 days."""
DEFAULT_MAX_RISKS: Final = 10
MAX_RISKS: Final = 100
MAX_RUN_PROVIDERS: Final = 10
MAX_RUNS_PAGE: Final = 200
LATEST: Final = "latest"
RUN_ID_PATTERN: Final = r"^(latest|gordackexecsched-[0-9a-f]{16})$"
PROVIDER_PATTERN: Final = r"^[A-Za-z0-9_-]+$"
LOCAL_TIME_PATTERN: Final = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


def interval_problem(minutes: int) -> str | None:
    """Why ``minutes`` cannot be an executive report interval (windows lie on day boundaries), or None."""
    if not 1 <= minutes <= MAX_INTERVAL_MINUTES:
        return f"must be between 1 and {MAX_INTERVAL_MINUTES}"
    if DAY_MINUTES % minutes and minutes % DAY_MINUTES:
        return "must divide a day (1440 minutes) or be a whole number of days"
    return None


def default_cadence(minutes: int) -> str:
    """``hourly``, ``daily``, ``weekly`` or ``every_{n}_minutes``."""
    return {60: "hourly", DAY_MINUTES: "daily", 7 * DAY_MINUTES: "weekly"}.get(
        minutes, f"every_{minutes}_minutes"
    )


class ExecutiveScheduleV1(Contract):
    """The cadence of scheduled runs: windows of ``interval_minutes`` on day boundaries of ``time_zone``."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "cmd", SERVICE, "executive_schedule", "cavra.drillops.reporting.executive-schedule.v1", channel=False
    )

    interval_minutes: int = Field(
        default=DEFAULT_INTERVAL_MINUTES,
        ge=1,
        le=MAX_INTERVAL_MINUTES,
        description="Divides a day (60, 360, ...) or is whole days (1440, 10080, ...).",
    )
    cadence: str = Field(default="", max_length=64, pattern=r"^[A-Za-z0-9_ -]*$", description="Label.")
    enabled: bool = Field(default=True, description="Run on this cadence from now on; false stops it.")
    time_zone: str | None = Field(
        default=None, max_length=64, description="IANA zone; default CAVRA_EXECUTIVE_REPORT_TIME_ZONE."
    )
    at_local_time: str | None = Field(
        default=None,
        pattern=LOCAL_TIME_PATTERN,
        description="HH:MM: run at this local time on the day a window ends (whole-day intervals).",
    )

    @field_validator("interval_minutes")
    @classmethod
    def _on_day_boundaries(cls, value: int) -> int:
        if problem := interval_problem(value):
            raise ValueError(problem)
        return value

    @field_validator("time_zone")
    @classmethod
    def _iana(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not re.fullmatch(r"[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*", value):
            raise ValueError("must be an IANA time zone such as Europe/Berlin")
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r}") from None
        return value

    @model_validator(mode="after")
    def _local_time_needs_days(self) -> ExecutiveScheduleV1:
        if self.at_local_time is not None and self.interval_minutes % DAY_MINUTES:
            raise ValueError("at_local_time needs interval_minutes of whole days")
        return self

    def label(self) -> str:
        return self.cadence or default_cadence(self.interval_minutes)


Providers = list[Annotated[str, StringConstraints(max_length=MAX_PROVIDER_LENGTH)]]


def _providers_field() -> Providers | None:
    return Field(
        default=None,
        min_length=1,
        max_length=MAX_RUN_PROVIDERS,
        description="Providers to deliver to; default CAVRA_EXECUTIVE_REPORT_PROVIDERS.",
    )


def normalized_providers(value: Providers | None) -> Providers | None:
    """Provider names normalised (stripped, lower case, ``-`` as ``_``) and deduplicated in order;
    ValueError naming the first that is not ``PROVIDER_PATTERN``."""
    if value is None:
        return None
    names: list[str] = []
    for name in value:
        normalized = name.strip().lower().replace("-", "_")
        if not re.fullmatch(PROVIDER_PATTERN, normalized):
            raise ValueError(f"invalid provider name {name[:40]!r}")
        if normalized not in names:
            names.append(normalized)
    return names


# --- commands -------------------------------------------------------------------------------


class RunExecutiveReportV1(Contract):
    """Generate and store a schedule run now; an enabled schedule (re)defines the cadence."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "cmd",
        SERVICE,
        "run_executive_report",
        "cavra.drillops.reporting.run-executive-report.v1",
        summary="POST AD/recovery-executive-report/schedule-run.",
    )

    schedule: ExecutiveScheduleV1 = Field(default_factory=ExecutiveScheduleV1)
    recovery_slo_minutes: int = Field(default=DEFAULT_RECOVERY_SLO_MINUTES, ge=1, le=MAX_RECOVERY_SLO_MINUTES)
    providers: Providers | None = _providers_field()
    actor: ActorV1

    @field_validator("providers")
    @classmethod
    def _known_names(cls, value: Providers | None) -> Providers | None:
        return normalized_providers(value)


class DeliverExecutiveReportV1(Contract):
    """Deliver a stored schedule run (``latest``: the newest, else one generated now)."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "cmd",
        SERVICE,
        "deliver_executive_report",
        "cavra.drillops.reporting.deliver-executive-report.v1",
        summary="POST AD/recovery-executive-report/schedule-runs/{run_id}/deliver.",
    )

    run_id: str = Field(pattern=RUN_ID_PATTERN, max_length=MAX_ID_LENGTH)
    providers: Providers | None = _providers_field()
    max_risks: int = Field(default=DEFAULT_MAX_RISKS, ge=1, le=MAX_RISKS)
    schedule: ExecutiveScheduleV1 = Field(
        default_factory=lambda: ExecutiveScheduleV1(enabled=False), description="Only for a fresh latest."
    )
    recovery_slo_minutes: int = Field(default=DEFAULT_RECOVERY_SLO_MINUTES, ge=1, le=MAX_RECOVERY_SLO_MINUTES)
    delivery: DeliveryOptions = Field(default_factory=DeliveryOptions)
    actor: ActorV1

    @field_validator("providers")
    @classmethod
    def _known_names(cls, value: Providers | None) -> Providers | None:
        return normalized_providers(value)


# --- events ---------------------------------------------------------------------------------


class ExecutiveReportGeneratedV1(RecordedEvent):
    """An executive report was stored (``record``: kind ``…-recovery-executive-report``)."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt",
        SERVICE,
        "executive_report_generated",
        "cavra.drillops.reporting.executive-report-generated.v1",
        summary="A stored executive recovery report (spec §3.21).",
    )

    executive_report_id: str
    run_id: str


class ExecutiveReportRunRecordedV1(RecordedEvent):
    """A schedule run was stored (``record``: kind ``…-recovery-executive-report-schedule-run``)."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt",
        SERVICE,
        "executive_report_run_recorded",
        "cavra.drillops.reporting.executive-report-run-recorded.v1",
        summary="A stored schedule run with its window; trigger api, schedule or delivery.",
    )

    run_id: str
    executive_report_id: str
    trigger: str
    window_start: str
    window_end: str
    next_run_at: str = Field(default="", description="When the cadence runs next ('' when disabled).")
    actor: ActorV1


class ExecutiveReportDeliveryRequestedV1(RecordedEvent):
    """A run's delivery job was enqueued (``record``: the delivery event, kind ``…-delivery-event``)."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt",
        SERVICE,
        "executive_report_delivery_requested",
        "cavra.drillops.reporting.executive-report-delivery-requested.v1",
        summary="An executive report delivery job (DeliverMessageV1, job_id) was enqueued.",
    )

    run_id: str
    executive_report_id: str
    job_id: str
    providers: list[str]
    trigger: str
    actor: ActorV1


class ExecutiveRequestRejectedV1(RequestRefused):
    """An executive report command was refused; nothing was stored or sent."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt",
        SERVICE,
        "executive_request_rejected",
        "cavra.drillops.reporting.executive-request-rejected.v1",
        summary="400 unconfigured provider, 404 unknown run, 503 recovery source unavailable.",
    )


# --- queries --------------------------------------------------------------------------------


class ExecutiveReportQueryV1(Contract):
    """Compute the executive report now over the latest complete daily window; store nothing."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "qry",
        SERVICE,
        "executive_report",
        "cavra.drillops.reporting.executive-report-query.v1",
        summary="Reply: {report: recovery-executive-report.v1, metadata (computed, not stored)}.",
    )

    recovery_slo_minutes: int = Field(default=DEFAULT_RECOVERY_SLO_MINUTES, ge=1, le=MAX_RECOVERY_SLO_MINUTES)
    generated_by: str = Field(default="console", min_length=1, max_length=MAX_TEXT_LENGTH)


class ExecutiveRunsQueryV1(Contract):
    """Ask for stored schedule runs, newest first."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "qry",
        SERVICE,
        "executive_runs",
        "cavra.drillops.reporting.executive-runs-query.v1",
        summary="Reply: {items: [run metadata], total, limit, offset, schedule}.",
    )

    limit: int = Field(default=50, ge=1, le=MAX_RUNS_PAGE)
    offset: int = Field(default=0, ge=0, le=1_000_000)


class ExecutiveRunQueryV1(Contract):
    """Ask for one stored schedule run (``latest``: the newest); 404 when there is none."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "qry",
        SERVICE,
        "executive_run",
        "cavra.drillops.reporting.executive-run-query.v1",
        summary="Reply: {run, metadata, report_metadata}.",
    )

    run_id: str = Field(pattern=RUN_ID_PATTERN, max_length=MAX_ID_LENGTH)


__all__ = [
    "DELIVERY_EVENT_KIND",
    "DELIVERY_EVENT_SCHEMA",
    "DELIVERY_EVENT_TYPE",
    "EXECUTIVE_REPORT_KIND",
    "EXECUTIVE_REPORT_SCHEMA",
    "LATEST",
    "SCHEDULE_RUN_KIND",
    "SCHEDULE_RUN_SCHEMA",
    "DeliverExecutiveReportV1",
    "ExecutiveReportDeliveryRequestedV1",
    "ExecutiveReportGeneratedV1",
    "ExecutiveReportQueryV1",
    "ExecutiveReportRunRecordedV1",
    "ExecutiveRequestRejectedV1",
    "ExecutiveRunQueryV1",
    "ExecutiveRunsQueryV1",
    "ExecutiveScheduleV1",
    "RunExecutiveReportV1",
    "default_cadence",
    "interval_problem",
    "normalized_providers",
]
