"""Rollback drill history: is the latest recorded drill a good and fresh one.

Owns the history summary derived from a `cavra.go-backend-rollback-drill-history.v1` document,
the `cavra.go-backend-pilot.rollback-drill-history.v1` report built on it, and the report
conventions the schedule report shares (checks, backend modes, when a report is requested).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cavra_contracts.timestamps import (
    add_days_capped,
    as_utc,
    days_between,
    first_change_after,
    parse_timestamp,
)
from cavra_contracts.vocabulary import NEEDS_ATTENTION, NOT_REQUESTED, READY

from .documents import (
    PATH_NOT_CONFIGURED,
    JsonObject,
    is_positive_number,
    is_string_list,
    positive_number,
    text,
)

HISTORY_DOCUMENT_SCHEMA = "cavra.go-backend-rollback-drill-history.v1"
HISTORY_REPORT_SCHEMA = "cavra.go-backend-pilot.rollback-drill-history.v1"

MODE_DISABLED = "disabled"
MODE_PROMOTED = "promoted"
MODES = frozenset({MODE_DISABLED, "shadow", "enforce", MODE_PROMOTED})


HISTORY_OPERATOR_NOTES = (
    "Drill history is public-safe metadata that proves promoted environments can return to Python-only mode.",
    "Record drills from operational runbooks; do not execute rollback from the browser.",
    "Keep hostnames, private endpoint scripts, secrets, and customer details out of public drill history.",
)
HISTORY_REQUESTED_MESSAGE = (
    "Rollback drill history is required when CAVRA_GO_BACKEND_MODE=promoted or drill history is configured."
)

INVALID_HISTORY_SCHEMA = "rollback drill history has an invalid schema_version"
EMPTY_DRILLS = "rollback drill history must include a non-empty drills list"
NO_PARSEABLE_DRILLS = "rollback drill history has no parseable drills"
MISSING_EVIDENCE_REFS = "latest rollback drill must include evidence_refs as a non-empty list of strings"
MISSING_RUNBOOK_REF = "latest rollback drill must include runbook_ref"
MISSING_EXECUTED_AT = "latest rollback drill must include valid executed_at timestamp"
HISTORY_EVALUATED = "Rollback drill history is parseable and latest drill is evaluated."

LATEST_PASSED = ("Latest rollback drill passed.", "latest rollback drill must record status=pass")
TARGET_DISABLED = (
    "Latest rollback drill returned to Python-only mode.",
    "latest rollback drill must set target_mode=disabled",
)
FALLBACK_VERIFIED = (
    "Latest rollback drill verified Python fallback restoration.",
    "latest rollback drill must verify Python fallback restoration",
)
RECOVERY_MET = (
    "Latest rollback drill met the recovery target.",
    "latest rollback drill recovery_minutes must be positive and less than or equal to max_recovery_minutes",
)
FRESH = (
    "Latest rollback drill is within the freshness window.",
    "latest rollback drill is missing, invalid, or stale",
)
HISTORY_MISSING_OR_INVALID = "rollback drill history is missing or invalid"


def check(check_id: str, passed: bool, message: str, **extra: Any) -> dict[str, Any]:
    """One report check; report checks only ever `pass` or `warn`."""
    return {"id": check_id, "status": "pass" if passed else "warn", "message": message, **extra}


def normalize_mode(mode: str) -> str:
    """The backend mode as the original read it: trimmed, lower-case, unknown means disabled."""
    normalized = mode.strip().lower()
    return normalized if normalized in MODES else MODE_DISABLED


def is_requested(mode: str, path: str) -> bool:
    """A report is requested in promoted mode or whenever its metadata is configured."""
    return normalize_mode(mode) == MODE_PROMOTED or bool(path)


def history_summary(
    document: JsonObject | None,
    *,
    problem: str | None,
    max_age_days: float,
    now: datetime,
) -> dict[str, Any]:
    """Summarise a drill history document; `problem` (a file-problem message) wins over it."""
    if problem is not None or document is None:
        return _empty_history_summary(problem or PATH_NOT_CONFIGURED)
    schema = text(document.get("schema_version", ""))
    drills = document.get("drills", [])
    shape_problems = _shape_problems(schema, drills)
    if shape_problems:
        return _empty_history_summary("; ".join(shape_problems))
    recorded = [drill for drill in drills if isinstance(drill, dict)]
    latest = latest_drill(recorded)
    if latest is None:
        return _empty_history_summary(NO_PARSEABLE_DRILLS)
    details = _latest_drill_summary(latest, max_age_days=max_age_days, now=as_utc(now))
    return {
        "valid": details.pop("valid"),
        "schema_version": schema,
        "environment": text(document.get("environment", "")),
        "drill_count": len(recorded),
    } | details


def latest_drill(drills: list[JsonObject]) -> JsonObject | None:
    """The drill with the greatest parseable `executed_at` (first wins a tie), else the last one."""
    latest: JsonObject | None = None
    latest_at: datetime | None = None
    for drill in drills:
        executed = parse_timestamp(text(drill.get("executed_at", "")))
        if executed is not None and (latest_at is None or executed > latest_at):
            latest, latest_at = drill, executed
    if latest is not None:
        return latest
    return drills[-1] if drills else None


def history_report(
    *,
    mode: str,
    history_path: str,
    max_age_days: float,
    summary: dict[str, Any],
    requested: bool | None = None,
) -> dict[str, Any]:
    """The `cavra.go-backend-pilot.rollback-drill-history.v1` report for a history summary."""
    mode = normalize_mode(mode)
    if requested is None:
        requested = is_requested(mode, history_path)
    checks = _history_checks(mode, history_path, max_age_days, summary, requested=requested)
    return {
        "schema_version": HISTORY_REPORT_SCHEMA,
        "mode": mode,
        "status": _history_status(checks, requested=requested),
        "rollback_drill_history_path": history_path,
        "rollback_drill_max_age_days": max_age_days,
        "checks": checks,
        "history": summary,
        "operator_notes": list(HISTORY_OPERATOR_NOTES),
    }


def history_next_state_change_at(
    document: JsonObject | None,
    *,
    max_age_days: float,
    now: datetime,
) -> datetime | None:
    """When a currently valid history turns stale by age alone, or None if time cannot change it."""
    start = as_utc(now)
    summary = history_summary(document, problem=None, max_age_days=max_age_days, now=start)
    executed = parse_timestamp(summary["latest_executed_at"])
    if not summary["valid"] or executed is None:
        return None

    def still_valid(moment: datetime) -> bool:
        return bool(history_summary(document, problem=None, max_age_days=max_age_days, now=moment)["valid"])

    horizon = add_days_capped(executed, max_age_days + 1)
    return first_change_after(start, horizon, lambda moment: not still_valid(moment))


def _shape_problems(schema: str, drills: object) -> list[str]:
    problems = []
    if schema != HISTORY_DOCUMENT_SCHEMA:
        problems.append(INVALID_HISTORY_SCHEMA)
    if not isinstance(drills, list) or not drills:
        problems.append(EMPTY_DRILLS)
    return problems


def _latest_drill_summary(latest: JsonObject, *, max_age_days: float, now: datetime) -> dict[str, Any]:
    executed_at = text(latest.get("executed_at", ""))
    executed = parse_timestamp(executed_at)
    age_days = None
    if executed is not None and is_positive_number(max_age_days):
        age_days = days_between(now, executed)
    fresh = age_days is not None and age_days <= max_age_days
    status = text(latest.get("status", ""))
    target_mode = text(latest.get("target_mode", ""))
    fallback_verified = latest.get("fallback_verified") is True
    recovery_minutes = positive_number(latest.get("recovery_minutes"))
    max_recovery_minutes = positive_number(latest.get("max_recovery_minutes"))
    recovery_sla_met = (
        recovery_minutes is not None
        and max_recovery_minutes is not None
        and recovery_minutes <= max_recovery_minutes
    )
    evidence_refs = latest.get("evidence_refs", [])
    refs_valid = is_string_list(evidence_refs)
    runbook_ref = text(latest.get("runbook_ref", ""))
    valid = (
        status == "pass"
        and target_mode == MODE_DISABLED
        and fallback_verified
        and recovery_sla_met
        and fresh
        and refs_valid
        and bool(evidence_refs)
        and bool(runbook_ref)
    )
    problems = []
    if not refs_valid or not evidence_refs:
        problems.append(MISSING_EVIDENCE_REFS)
    if not runbook_ref:
        problems.append(MISSING_RUNBOOK_REF)
    if executed is None:
        problems.append(MISSING_EXECUTED_AT)
    return {
        "valid": valid,
        "latest_drill_id": text(latest.get("drill_id", "")),
        "latest_status": status,
        "latest_target_mode": target_mode,
        "latest_executed_at": executed_at,
        "age_days": age_days,
        "fresh": fresh,
        "fallback_verified": fallback_verified,
        "recovery_sla_met": recovery_sla_met,
        "recovery_minutes": recovery_minutes,
        "max_recovery_minutes": max_recovery_minutes,
        "runbook_ref": runbook_ref,
        "evidence_refs": evidence_refs if refs_valid else [],
        "message": "; ".join(problems) if problems else HISTORY_EVALUATED,
        "latest_status_message": _pick(LATEST_PASSED, status == "pass"),
        "target_mode_message": _pick(TARGET_DISABLED, target_mode == MODE_DISABLED),
        "fallback_message": _pick(FALLBACK_VERIFIED, fallback_verified),
        "recovery_message": _pick(RECOVERY_MET, recovery_sla_met),
        "freshness_message": _pick(FRESH, fresh),
    }


def _pick(messages: tuple[str, str], passed: bool) -> str:
    return messages[0] if passed else messages[1]


def _empty_history_summary(message: str) -> dict[str, Any]:
    return {
        "valid": False,
        "schema_version": "",
        "environment": "",
        "drill_count": 0,
        "latest_drill_id": "",
        "latest_status": "",
        "latest_target_mode": "",
        "latest_executed_at": "",
        "age_days": None,
        "fresh": False,
        "fallback_verified": False,
        "recovery_sla_met": False,
        "recovery_minutes": None,
        "max_recovery_minutes": None,
        "runbook_ref": "",
        "evidence_refs": [],
        "message": message,
        "latest_status_message": HISTORY_MISSING_OR_INVALID,
        "target_mode_message": TARGET_DISABLED[1],
        "fallback_message": FALLBACK_VERIFIED[1],
        "recovery_message": RECOVERY_MET[1],
        "freshness_message": FRESH[1],
    }


def _history_checks(
    mode: str,
    history_path: str,
    max_age_days: float,
    summary: dict[str, Any],
    *,
    requested: bool,
) -> list[dict[str, Any]]:
    return [
        check("go_rollback_drill_history_requested", requested, HISTORY_REQUESTED_MESSAGE, mode=mode),
        check(
            "go_rollback_drill_history_file",
            summary["valid"],
            summary["message"],
            path=history_path,
            history_schema=summary["schema_version"],
        ),
        check(
            "go_rollback_drill_latest_passed",
            summary["latest_status"] == "pass",
            summary["latest_status_message"],
            latest_drill_id=summary["latest_drill_id"],
        ),
        check(
            "go_rollback_drill_disabled_target",
            summary["latest_target_mode"] == MODE_DISABLED,
            summary["target_mode_message"],
            target_mode=summary["latest_target_mode"],
        ),
        check(
            "go_rollback_drill_fallback_verified",
            summary["fallback_verified"] is True,
            summary["fallback_message"],
        ),
        check(
            "go_rollback_drill_recovery_sla",
            summary["recovery_sla_met"],
            summary["recovery_message"],
            recovery_minutes=summary["recovery_minutes"],
            max_recovery_minutes=summary["max_recovery_minutes"],
        ),
        check(
            "go_rollback_drill_freshness",
            summary["fresh"],
            summary["freshness_message"],
            max_age_days=max_age_days,
            age_days=summary["age_days"],
        ),
    ]


def _history_status(checks: list[dict[str, Any]], *, requested: bool) -> str:
    if not requested:
        return NOT_REQUESTED
    if all(item["status"] == "pass" for item in checks):
        return READY
    return NEEDS_ATTENTION
