"""Rollback drill schedules: when the next drill is due and whether anyone will be told.

Owns the schedule summary derived from a `cavra.go-backend-rollback-drill-schedule.v1` document
and a drill history summary, the `cavra.go-backend-pilot.rollback-drill-schedule.v1` report and
its readiness state, the alert level for that state, and the next instant at which time alone
changes the readiness state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from cavra_contracts.timestamps import (
    add_days,
    add_days_capped,
    as_utc,
    days_between,
    first_change_after,
    iso,
    parse_timestamp,
)
from cavra_contracts.vocabulary import (
    DUE_SOON,
    NEEDS_ATTENTION,
    NOT_REQUESTED,
    READY,
)

from .documents import (
    PATH_NOT_CONFIGURED,
    JsonObject,
    is_positive_number,
    is_string_list,
    positive_number,
    text,
)
from .history import check, is_requested, normalize_mode

SCHEDULE_DOCUMENT_SCHEMA = "cavra.go-backend-rollback-drill-schedule.v1"
SCHEDULE_REPORT_SCHEMA = "cavra.go-backend-pilot.rollback-drill-schedule.v1"


SCHEDULE_OPERATOR_NOTES = (
    "Schedule metadata defines when promoted environments must rehearse rollback back to Python-only mode.",
    "Stale or missing schedules should notify release governance through configured connectors.",
    "Keep connector credentials in CAVRA_CONNECTOR_CONFIG or private secret stores; schedule metadata "
    "must stay public-safe.",
)
SCHEDULE_REQUESTED_MESSAGE = (
    "Recurring rollback drill scheduling is required when CAVRA_GO_BACKEND_MODE=promoted or a schedule "
    "is configured."
)

INVALID_SCHEDULE_SCHEMA = "rollback drill schedule has an invalid schema_version"
MISSING_SCHEDULE_ID = "rollback drill schedule must include schedule_id"
MISSING_RUNBOOK_REF = "rollback drill schedule must include runbook_ref"
INVALID_OWNERS = "rollback drill schedule owners must be a non-empty list of strings"
INVALID_PROVIDERS = "rollback drill notification_providers must be a non-empty list of strings"
INVALID_OWNER_ROUTES = "rollback drill owner_routes must be an object or list when configured"
INVALID_MAINTENANCE_WINDOWS = "rollback drill maintenance_windows must be a list when configured"
INVALID_OWNER_CALENDARS = "rollback drill owner_calendars must be an object when configured"
SCHEDULE_CONFIGURED = "Rollback drill schedule is active and notification routes are configured."
SCHEDULE_MISSING_OR_INACTIVE = "rollback drill schedule is missing or inactive"

ACTIVE = ("Rollback drill schedule is active.", "rollback drill schedule must set status=active")
CADENCE = (
    "Rollback drill cadence is configured.",
    "rollback drill schedule must include positive interval_days",
)
NEXT_DUE = (
    "Next rollback drill due date is known.",
    "rollback drill schedule must include next_due_at or usable latest drill history",
)
NOT_STALE = (
    "Rollback drill schedule is not stale.",
    "rollback drill schedule is stale and requires notification",
)
ROUTES = (
    "Rollback drill notification routes are configured.",
    "rollback drill schedule must include owners and notification_providers",
)

# Past its due date, time keeps a schedule stale, so one day beyond it always shows the last change.
_DAYS_PAST_DUE_TO_SETTLE = 1.0


class DueState(NamedTuple):
    """Where `now` sits relative to a schedule's next due date."""

    days_until_due: float | None
    stale: bool
    due_soon: bool


@dataclass(frozen=True)
class _Schedule:
    """Everything a schedule document says that does not depend on the current time."""

    schema: str
    schedule_id: str
    environment: str
    status: str
    interval_days: int | float | None
    next_due: datetime | None
    owners: Any
    owners_valid: bool
    providers: Any
    providers_valid: bool
    owner_routes: Any
    owner_routes_valid: bool
    maintenance_windows: Any
    owner_calendars: Any
    runbook_ref: str

    @property
    def active(self) -> bool:
        return self.status == "active"

    @property
    def maintenance_windows_valid(self) -> bool:
        return isinstance(self.maintenance_windows, list)

    @property
    def owner_calendars_valid(self) -> bool:
        return isinstance(self.owner_calendars, dict)

    @property
    def routes_valid(self) -> bool:
        return self.owners_valid and self.providers_valid

    @property
    def valid_unless_stale(self) -> bool:
        return (
            self.schema == SCHEDULE_DOCUMENT_SCHEMA
            and bool(self.schedule_id)
            and self.active
            and self.interval_days is not None
            and self.next_due is not None
            and self.routes_valid
            and self.owner_routes_valid
            and self.maintenance_windows_valid
            and self.owner_calendars_valid
            and bool(self.runbook_ref)
        )

    def problems(self) -> list[str]:
        found = [
            (self.schema != SCHEDULE_DOCUMENT_SCHEMA, INVALID_SCHEDULE_SCHEMA),
            (not self.schedule_id, MISSING_SCHEDULE_ID),
            (not self.runbook_ref, MISSING_RUNBOOK_REF),
            (not self.owners_valid, INVALID_OWNERS),
            (not self.providers_valid, INVALID_PROVIDERS),
            (not self.owner_routes_valid, INVALID_OWNER_ROUTES),
            (not self.maintenance_windows_valid, INVALID_MAINTENANCE_WINDOWS),
            (not self.owner_calendars_valid, INVALID_OWNER_CALENDARS),
        ]
        return [message for failed, message in found if failed]


def schedule_summary(
    document: JsonObject | None,
    history: dict[str, Any],
    *,
    problem: str | None,
    due_soon_days: float,
    now: datetime,
) -> dict[str, Any]:
    """Summarise a schedule document against a history summary; `problem` wins over the document."""
    if problem is not None or document is None:
        return _empty_schedule_summary(problem or PATH_NOT_CONFIGURED)
    schedule = _read_schedule(document, history)
    due = due_state(schedule.next_due, now=as_utc(now), due_soon_days=due_soon_days)
    problems = schedule.problems()
    return {
        "valid": schedule.valid_unless_stale and not due.stale,
        "schema_version": schedule.schema,
        "schedule_id": schedule.schedule_id,
        "environment": schedule.environment,
        "status": schedule.status,
        "active": schedule.active,
        "cadence_valid": schedule.interval_days is not None,
        "interval_days": schedule.interval_days,
        "next_due_at": iso(schedule.next_due) if schedule.next_due else "",
        "days_until_due": due.days_until_due,
        "stale": due.stale,
        "due_soon": due.due_soon,
        "notification_routes_valid": schedule.routes_valid,
        "owners": schedule.owners if schedule.owners_valid else [],
        "notification_providers": schedule.providers if schedule.providers_valid else [],
        "owner_routes": schedule.owner_routes if schedule.owner_routes_valid else [],
        "maintenance_windows": schedule.maintenance_windows if schedule.maintenance_windows_valid else [],
        "owner_calendars": schedule.owner_calendars if schedule.owner_calendars_valid else {},
        "runbook_ref": schedule.runbook_ref,
        "message": "; ".join(problems) if problems else SCHEDULE_CONFIGURED,
        "active_message": _pick(ACTIVE, schedule.active),
        "cadence_message": _pick(CADENCE, schedule.interval_days is not None),
        "next_due_message": _pick(NEXT_DUE, schedule.next_due is not None),
        "stale_message": _pick(NOT_STALE, not due.stale),
        "notification_message": _pick(ROUTES, schedule.routes_valid),
    }


def due_state(next_due: datetime | None, *, now: datetime, due_soon_days: float) -> DueState:
    """Days until due (4 dp), stale (no date, or rounded days below zero) and inclusive due-soon."""
    if next_due is None:
        return DueState(days_until_due=None, stale=True, due_soon=False)
    days_until_due = days_between(next_due, now)
    stale = days_until_due < 0
    due_soon = not stale and is_positive_number(due_soon_days) and days_until_due <= due_soon_days
    return DueState(days_until_due=days_until_due, stale=stale, due_soon=due_soon)


def schedule_report(
    *,
    mode: str,
    schedule_path: str,
    due_soon_days: float,
    summary: dict[str, Any],
    history: dict[str, Any],
    requested: bool | None = None,
) -> dict[str, Any]:
    """The `cavra.go-backend-pilot.rollback-drill-schedule.v1` report for a schedule summary."""
    mode = normalize_mode(mode)
    if requested is None:
        requested = is_requested(mode, schedule_path)
    status = readiness(
        requested=requested,
        valid=summary["valid"],
        stale=summary["stale"],
        due_soon=summary["due_soon"],
    )
    return {
        "schema_version": SCHEDULE_REPORT_SCHEMA,
        "mode": mode,
        "status": status,
        "rollback_drill_schedule_path": schedule_path,
        "rollback_drill_due_soon_days": due_soon_days,
        "checks": _schedule_checks(mode, schedule_path, summary, requested=requested),
        "schedule": summary,
        "history": history,
        "operator_notes": list(SCHEDULE_OPERATOR_NOTES),
    }


def readiness(*, requested: bool, valid: bool, stale: bool, due_soon: bool) -> str:
    """The schedule readiness state; the checks list is not consulted, `valid` already folds it in."""
    if not requested:
        return NOT_REQUESTED
    if valid and not stale:
        return DUE_SOON if due_soon else READY
    return NEEDS_ATTENTION


def next_state_change_at(
    document: JsonObject | None,
    history: dict[str, Any],
    *,
    due_soon_days: float,
    now: datetime,
) -> datetime | None:
    """The earliest instant after `now` at which the same inputs give another readiness state.

    Time only moves a requested schedule `ready -> due_soon -> needs_attention`; None means time
    alone can never change the state (no document, invalid, inactive, or already stale).
    """
    if document is None:
        return None
    schedule = _read_schedule(document, history)
    if schedule.next_due is None or not schedule.valid_unless_stale:
        return None
    next_due = schedule.next_due
    start = as_utc(now)

    def state_at(moment: datetime) -> str:
        due = due_state(next_due, now=moment, due_soon_days=due_soon_days)
        return readiness(requested=True, valid=not due.stale, stale=due.stale, due_soon=due.due_soon)

    current = state_at(start)
    if current == NEEDS_ATTENTION:
        return None
    horizon = add_days_capped(next_due, _DAYS_PAST_DUE_TO_SETTLE)
    return first_change_after(start, horizon, lambda moment: state_at(moment) != current)


def _read_schedule(document: JsonObject, history: dict[str, Any]) -> _Schedule:
    interval_days = positive_number(document.get("interval_days"))
    owners = document.get("owners", [])
    providers = document.get("notification_providers", [])
    owner_routes = document.get("owner_routes", document.get("routing_rules", []))
    return _Schedule(
        schema=text(document.get("schema_version", "")),
        schedule_id=text(document.get("schedule_id", "")),
        environment=text(document.get("environment", "")),
        status=text(document.get("status", "")),
        interval_days=interval_days,
        next_due=_next_due(document, history, interval_days),
        owners=owners,
        owners_valid=is_string_list(owners) and bool(owners),
        providers=providers,
        providers_valid=is_string_list(providers) and bool(providers),
        owner_routes=owner_routes,
        owner_routes_valid=isinstance(owner_routes, dict | list),
        maintenance_windows=document.get("maintenance_windows", []),
        owner_calendars=document.get("owner_calendars", {}),
        runbook_ref=text(document.get("runbook_ref", "")),
    )


def _next_due(
    document: JsonObject,
    history: dict[str, Any],
    interval_days: int | float | None,
) -> datetime | None:
    """The explicit `next_due_at`, else the latest drill (even from an invalid history) + interval."""
    explicit = parse_timestamp(text(document.get("next_due_at", "")))
    if explicit is not None:
        return explicit
    latest_executed = parse_timestamp(text(history.get("latest_executed_at", "")))
    if latest_executed is None or interval_days is None:
        return None
    return add_days(latest_executed, float(interval_days))


def _pick(messages: tuple[str, str], passed: bool) -> str:
    return messages[0] if passed else messages[1]


def _empty_schedule_summary(message: str) -> dict[str, Any]:
    return {
        "valid": False,
        "schema_version": "",
        "schedule_id": "",
        "environment": "",
        "status": "",
        "active": False,
        "cadence_valid": False,
        "interval_days": None,
        "next_due_at": "",
        "days_until_due": None,
        "stale": True,
        "due_soon": False,
        "notification_routes_valid": False,
        "owners": [],
        "notification_providers": [],
        "owner_routes": [],
        "maintenance_windows": [],
        "owner_calendars": {},
        "runbook_ref": "",
        "message": message,
        "active_message": SCHEDULE_MISSING_OR_INACTIVE,
        "cadence_message": CADENCE[1],
        "next_due_message": NEXT_DUE[1],
        "stale_message": NOT_STALE[1],
        "notification_message": ROUTES[1],
    }


def _schedule_checks(
    mode: str,
    schedule_path: str,
    summary: dict[str, Any],
    *,
    requested: bool,
) -> list[dict[str, Any]]:
    return [
        check("go_rollback_drill_schedule_requested", requested, SCHEDULE_REQUESTED_MESSAGE, mode=mode),
        check(
            "go_rollback_drill_schedule_file",
            summary["valid"],
            summary["message"],
            path=schedule_path,
            schedule_schema=summary["schema_version"],
        ),
        check("go_rollback_drill_schedule_active", summary["active"], summary["active_message"]),
        check(
            "go_rollback_drill_schedule_cadence",
            summary["cadence_valid"],
            summary["cadence_message"],
            interval_days=summary["interval_days"],
        ),
        check(
            "go_rollback_drill_schedule_next_due",
            bool(summary["next_due_at"]),
            summary["next_due_message"],
            next_due_at=summary["next_due_at"],
            days_until_due=summary["days_until_due"],
        ),
        check(
            "go_rollback_drill_schedule_not_stale",
            not summary["stale"],
            summary["stale_message"],
            stale=summary["stale"],
        ),
        check(
            "go_rollback_drill_notification_routes",
            summary["notification_routes_valid"],
            summary["notification_message"],
            notification_providers=summary["notification_providers"],
            owners=summary["owners"],
        ),
    ]
