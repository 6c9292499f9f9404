"""Rollback drill schedule rules, checked against the original CAVRA's behaviour (spec section 8.1)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cavra_scheduler.domain import (
    LoadedDocument,
    alert_level,
    history_summary,
    iso,
    load_json_document,
    next_state_change_at,
    schedule_report,
    schedule_summary,
)

NOW = datetime(2026, 5, 20, 10, 0, tzinfo=UTC)
SCHEDULE_PATH = "/etc/cavra/go-backend-rollback-drill-schedule.json"
ONE_MICROSECOND = timedelta(microseconds=1)
# Four-decimal day rounding moves every boundary by half a unit: 0.00005 days.
ROUNDING_SLACK = timedelta(seconds=4.32)


def schedule_document(**overrides: Any) -> dict[str, Any]:
    return {
        "schema_version": "cavra.go-backend-rollback-drill-schedule.v1",
        "schedule_id": "go_backend_python_fallback_monthly",
        "environment": "production-pilot",
        "status": "active",
        "interval_days": 30,
        "next_due_at": iso(NOW + timedelta(days=30)),
        "owners": ["release-governance"],
        "notification_providers": ["slack", "teams"],
        "runbook_ref": "docs/go-backend-rollback-drill-scheduling.md",
    } | overrides


def without(document: dict[str, Any], key: str) -> dict[str, Any]:
    return {name: value for name, value in document.items() if name != key}


def history_with_drill_at(executed_at: str, **drill_overrides: Any) -> dict[str, Any]:
    drill = {
        "drill_id": "drill_go_backend_python_fallback",
        "executed_at": executed_at,
        "target_mode": "disabled",
        "status": "pass",
        "fallback_verified": True,
        "recovery_minutes": 7,
        "max_recovery_minutes": 15,
        "runbook_ref": "docs/go-backend-rollback-drill-history.md",
        "evidence_refs": ["go-rollback-drill://ci/python-fallback-restored"],
    } | drill_overrides
    document = {"schema_version": "cavra.go-backend-rollback-drill-history.v1", "drills": [drill]}
    return history_summary(document, problem=None, max_age_days=90.0, now=NOW)


STANDARD_HISTORY = history_with_drill_at(iso(NOW))
NO_HISTORY = history_summary(None, problem="metadata path is not configured", max_age_days=90.0, now=NOW)


def summarise(
    document: dict[str, Any] | None,
    history: dict[str, Any] = STANDARD_HISTORY,
    *,
    problem: str | None = None,
    due_soon_days: float = 14.0,
    now: datetime = NOW,
) -> dict[str, Any]:
    return schedule_summary(document, history, problem=problem, due_soon_days=due_soon_days, now=now)


def report(
    summary: dict[str, Any],
    history: dict[str, Any] = STANDARD_HISTORY,
    *,
    mode: str = "promoted",
    path: str = SCHEDULE_PATH,
    due_soon_days: float = 14.0,
    requested: bool | None = None,
) -> dict[str, Any]:
    return schedule_report(
        mode=mode,
        schedule_path=path,
        due_soon_days=due_soon_days,
        summary=summary,
        history=history,
        requested=requested,
    )


def status_of(
    document: dict[str, Any],
    history: dict[str, Any] = STANDARD_HISTORY,
    *,
    due_soon_days: float = 14.0,
    now: datetime = NOW,
) -> str:
    summary = summarise(document, history, due_soon_days=due_soon_days, now=now)
    return str(report(summary, history, due_soon_days=due_soon_days)["status"])


def checks_by_id(built: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for item in built["checks"]}


# --- spec 8.1 cases 4, 5, 6, 8, 10 --------------------------------------------------------------


def test_schedule_is_not_requested_by_default() -> None:
    summary = summarise(None, NO_HISTORY, problem="metadata path is not configured")
    built = report(summary, NO_HISTORY, mode="disabled", path="")
    assert built["schema_version"] == "cavra.go-backend-pilot.rollback-drill-schedule.v1"
    assert built["status"] == "not_requested"
    assert checks_by_id(built)["go_rollback_drill_schedule_requested"]["status"] == "warn"
    assert alert_level(built["status"]) == "healthy"


def test_schedule_detects_stale_drills() -> None:
    summary = summarise(schedule_document(next_due_at=iso(NOW - timedelta(days=1))))
    built = report(summary)
    assert built["status"] == "needs_attention"
    assert summary["stale"] is True
    assert summary["days_until_due"] == -1.0
    assert summary["valid"] is False
    assert summary["message"] == "Rollback drill schedule is active and notification routes are configured."
    assert checks_by_id(built)["go_rollback_drill_schedule_not_stale"] == {
        "id": "go_rollback_drill_schedule_not_stale",
        "status": "warn",
        "message": "rollback drill schedule is stale and requires notification",
        "stale": True,
    }
    assert alert_level(built["status"]) == "critical"


def test_schedule_accepts_due_soon_notification_routes() -> None:
    summary = summarise(schedule_document(next_due_at=iso(NOW + timedelta(days=3))))
    built = report(summary)
    assert built["status"] == "due_soon"
    assert summary["due_soon"] is True
    assert summary["days_until_due"] == 3.0
    assert summary["notification_providers"] == ["slack", "teams"]
    assert alert_level(built["status"]) == "warning"


def test_future_drill_and_due_date_are_ready() -> None:
    history = history_with_drill_at("2099-01-01T00:00:00Z")
    document = schedule_document(next_due_at="2099-02-01T00:00:00Z", notification_providers=["webhook"])
    built = report(summarise(document, history), history)
    assert built["status"] == "ready"
    assert built["schedule"]["notification_providers"] == ["webhook"]
    assert built["history"]["fresh"] is True


def test_summary_of_a_standard_schedule() -> None:
    assert summarise(schedule_document()) == {
        "valid": True,
        "schema_version": "cavra.go-backend-rollback-drill-schedule.v1",
        "schedule_id": "go_backend_python_fallback_monthly",
        "environment": "production-pilot",
        "status": "active",
        "active": True,
        "cadence_valid": True,
        "interval_days": 30,
        "next_due_at": "2026-06-19T10:00:00+00:00",
        "days_until_due": 30.0,
        "stale": False,
        "due_soon": False,
        "notification_routes_valid": True,
        "owners": ["release-governance"],
        "notification_providers": ["slack", "teams"],
        "owner_routes": [],
        "maintenance_windows": [],
        "owner_calendars": {},
        "runbook_ref": "docs/go-backend-rollback-drill-scheduling.md",
        "message": "Rollback drill schedule is active and notification routes are configured.",
        "active_message": "Rollback drill schedule is active.",
        "cadence_message": "Rollback drill cadence is configured.",
        "next_due_message": "Next rollback drill due date is known.",
        "stale_message": "Rollback drill schedule is not stale.",
        "notification_message": "Rollback drill notification routes are configured.",
    }


def test_schedule_report_shape_checks_and_notes() -> None:
    built = report(summarise(schedule_document()))
    assert built["status"] == "ready"
    assert list(built) == [
        "schema_version",
        "mode",
        "status",
        "rollback_drill_schedule_path",
        "rollback_drill_due_soon_days",
        "checks",
        "schedule",
        "history",
        "operator_notes",
    ]
    assert built["rollback_drill_schedule_path"] == SCHEDULE_PATH
    assert built["rollback_drill_due_soon_days"] == 14.0
    assert built["history"] == STANDARD_HISTORY
    assert built["checks"] == [
        {
            "id": "go_rollback_drill_schedule_requested",
            "status": "pass",
            "message": (
                "Recurring rollback drill scheduling is required when CAVRA_GO_BACKEND_MODE=promoted or a "
                "schedule is configured."
            ),
            "mode": "promoted",
        },
        {
            "id": "go_rollback_drill_schedule_file",
            "status": "pass",
            "message": "Rollback drill schedule is active and notification routes are configured.",
            "path": SCHEDULE_PATH,
            "schedule_schema": "cavra.go-backend-rollback-drill-schedule.v1",
        },
        {
            "id": "go_rollback_drill_schedule_active",
            "status": "pass",
            "message": "Rollback drill schedule is active.",
        },
        {
            "id": "go_rollback_drill_schedule_cadence",
            "status": "pass",
            "message": "Rollback drill cadence is configured.",
            "interval_days": 30,
        },
        {
            "id": "go_rollback_drill_schedule_next_due",
            "status": "pass",
            "message": "Next rollback drill due date is known.",
            "next_due_at": "2026-06-19T10:00:00+00:00",
            "days_until_due": 30.0,
        },
        {
            "id": "go_rollback_drill_schedule_not_stale",
            "status": "pass",
            "message": "Rollback drill schedule is not stale.",
            "stale": False,
        },
        {
            "id": "go_rollback_drill_notification_routes",
            "status": "pass",
            "message": "Rollback drill notification routes are configured.",
            "notification_providers": ["slack", "teams"],
            "owners": ["release-governance"],
        },
    ]
    assert built["operator_notes"] == [
        "Schedule metadata defines when promoted environments must rehearse rollback back to "
        "Python-only mode.",
        "Stale or missing schedules should notify release governance through configured connectors.",
        "Keep connector credentials in CAVRA_CONNECTOR_CONFIG or private secret stores; "
        "schedule metadata must stay public-safe.",
    ]


# --- spec 8.1 cases 11-15 -----------------------------------------------------------------------


def test_due_soon_boundary_is_inclusive() -> None:
    summary = summarise(schedule_document(next_due_at=iso(NOW + timedelta(days=14))))
    assert summary["days_until_due"] == 14.0
    assert summary["due_soon"] is True
    assert report(summary)["status"] == "due_soon"


def test_one_second_past_the_horizon_still_rounds_onto_it() -> None:
    # 1 s is 0.0000116 days, which 4-decimal rounding erases; the original behaves the same way.
    summary = summarise(schedule_document(next_due_at=iso(NOW + timedelta(days=14, seconds=1))))
    assert summary["days_until_due"] == 14.0
    assert report(summary)["status"] == "due_soon"


def test_just_beyond_the_rounded_horizon_is_ready() -> None:
    summary = summarise(schedule_document(next_due_at=iso(NOW + timedelta(days=14, seconds=5))))
    assert summary["days_until_due"] == 14.0001
    assert summary["due_soon"] is False
    assert report(summary)["status"] == "ready"


@pytest.mark.parametrize("due_soon_days", [0, 0.0, -3.0])
@pytest.mark.parametrize("due_in", [timedelta(0), timedelta(days=1), timedelta(days=13)])
def test_non_positive_due_soon_days_is_never_due_soon(due_soon_days: float, due_in: timedelta) -> None:
    summary = summarise(schedule_document(next_due_at=iso(NOW + due_in)), due_soon_days=due_soon_days)
    assert summary["due_soon"] is False
    assert report(summary, due_soon_days=due_soon_days)["status"] == "ready"


def test_next_due_is_derived_from_the_latest_drill_plus_interval() -> None:
    history = history_with_drill_at(iso(NOW - timedelta(days=20)))
    summary = summarise(without(schedule_document(), "next_due_at"), history)
    assert summary["next_due_at"] == "2026-05-30T10:00:00+00:00"
    assert summary["days_until_due"] == 10.0
    assert report(summary, history)["status"] == "due_soon"


def test_without_due_date_or_history_the_schedule_is_stale() -> None:
    summary = summarise(without(schedule_document(), "next_due_at"), NO_HISTORY)
    assert summary["next_due_at"] == ""
    assert summary["days_until_due"] is None
    assert summary["stale"] is True
    assert summary["next_due_message"] == (
        "rollback drill schedule must include next_due_at or usable latest drill history"
    )
    built = report(summary, NO_HISTORY)
    assert built["status"] == "needs_attention"
    assert checks_by_id(built)["go_rollback_drill_schedule_next_due"] == {
        "id": "go_rollback_drill_schedule_next_due",
        "status": "warn",
        "message": "rollback drill schedule must include next_due_at or usable latest drill history",
        "next_due_at": "",
        "days_until_due": None,
    }


def test_paused_schedule_needs_attention_even_when_due_far_away() -> None:
    summary = summarise(schedule_document(status="paused", next_due_at=iso(NOW + timedelta(days=300))))
    assert summary["active"] is False
    assert summary["stale"] is False
    assert summary["valid"] is False
    assert summary["active_message"] == "rollback drill schedule must set status=active"
    assert summary["message"] == "Rollback drill schedule is active and notification routes are configured."
    assert report(summary)["status"] == "needs_attention"


# --- next due date derivation -------------------------------------------------------------------


def test_explicit_next_due_wins_over_history() -> None:
    history = history_with_drill_at(iso(NOW - timedelta(days=20)))
    summary = summarise(schedule_document(next_due_at="2026-07-01T00:00:00Z"), history)
    assert summary["next_due_at"] == "2026-07-01T00:00:00+00:00"


def test_unparsable_explicit_next_due_falls_back_to_history() -> None:
    history = history_with_drill_at(iso(NOW - timedelta(days=20)))
    summary = summarise(schedule_document(next_due_at="next tuesday"), history)
    assert summary["next_due_at"] == "2026-05-30T10:00:00+00:00"


def test_derivation_uses_an_otherwise_invalid_history() -> None:
    history = history_with_drill_at(iso(NOW - timedelta(days=20)), status="fail", evidence_refs=[])
    assert history["valid"] is False
    summary = summarise(without(schedule_document(), "next_due_at"), history)
    assert summary["next_due_at"] == "2026-05-30T10:00:00+00:00"


def test_derivation_accepts_fractional_intervals() -> None:
    history = history_with_drill_at(iso(NOW))
    summary = summarise(without(schedule_document(interval_days=7.5), "next_due_at"), history)
    assert summary["next_due_at"] == "2026-05-27T22:00:00+00:00"
    assert summary["interval_days"] == 7.5


@pytest.mark.parametrize("interval_days", [0, -5, "30", True, None, float("nan")])
def test_cadence_needs_a_positive_number(interval_days: object) -> None:
    history = history_with_drill_at(iso(NOW))
    summary = summarise(without(schedule_document(interval_days=interval_days), "next_due_at"), history)
    assert summary["cadence_valid"] is False
    assert summary["interval_days"] is None
    assert summary["cadence_message"] == "rollback drill schedule must include positive interval_days"
    assert summary["next_due_at"] == ""
    assert report(summary, history)["status"] == "needs_attention"


def test_unrepresentable_derived_due_date_counts_as_missing() -> None:
    history = history_with_drill_at(iso(NOW))
    summary = summarise(without(schedule_document(interval_days=1e12), "next_due_at"), history)
    assert summary["cadence_valid"] is True
    assert summary["next_due_at"] == ""
    assert summary["stale"] is True


def test_next_due_is_rendered_in_utc() -> None:
    summary = summarise(schedule_document(next_due_at="2026-06-19T12:00:00+02:00"))
    assert summary["next_due_at"] == "2026-06-19T10:00:00+00:00"


def test_days_until_due_is_rounded_to_four_decimals() -> None:
    summary = summarise(schedule_document(next_due_at=iso(NOW + timedelta(days=20, hours=8))))
    assert summary["days_until_due"] == 20.3333


def test_a_few_seconds_overdue_rounds_to_not_stale() -> None:
    four_seconds = summarise(schedule_document(next_due_at=iso(NOW - timedelta(seconds=4))))
    assert four_seconds["days_until_due"] == 0.0
    assert four_seconds["stale"] is False
    assert report(four_seconds)["status"] == "due_soon"
    five_seconds = summarise(schedule_document(next_due_at=iso(NOW - timedelta(seconds=5))))
    assert five_seconds["days_until_due"] == -0.0001
    assert report(five_seconds)["status"] == "needs_attention"


# --- document validation ------------------------------------------------------------------------


def test_identity_problems_join_in_the_original_order() -> None:
    document = schedule_document(schema_version="v0", schedule_id="", runbook_ref="")
    summary = summarise(document)
    assert summary["message"] == (
        "rollback drill schedule has an invalid schema_version; "
        "rollback drill schedule must include schedule_id; "
        "rollback drill schedule must include runbook_ref"
    )
    assert report(summary)["status"] == "needs_attention"


def test_routing_problems_join_in_the_original_order() -> None:
    document = schedule_document(
        owners=[],
        notification_providers="slack",
        owner_routes="release-governance",
        maintenance_windows={},
        owner_calendars=[],
    )
    summary = summarise(document)
    assert summary["message"] == (
        "rollback drill schedule owners must be a non-empty list of strings; "
        "rollback drill notification_providers must be a non-empty list of strings; "
        "rollback drill owner_routes must be an object or list when configured; "
        "rollback drill maintenance_windows must be a list when configured; "
        "rollback drill owner_calendars must be an object when configured"
    )
    assert summary["notification_routes_valid"] is False
    assert summary["owners"] == []
    assert summary["notification_providers"] == []
    assert summary["owner_routes"] == []
    assert summary["maintenance_windows"] == []
    assert summary["owner_calendars"] == {}
    routes = checks_by_id(report(summary))["go_rollback_drill_notification_routes"]
    assert routes["status"] == "warn"
    assert routes["message"] == "rollback drill schedule must include owners and notification_providers"


def test_owners_must_all_be_strings() -> None:
    summary = summarise(schedule_document(owners=["release-governance", 7]))
    assert summary["message"] == "rollback drill schedule owners must be a non-empty list of strings"
    assert summary["valid"] is False


def test_null_owner_routes_are_rejected_like_the_original() -> None:
    summary = summarise(schedule_document(owner_routes=None))
    assert summary["message"] == "rollback drill owner_routes must be an object or list when configured"


def test_routing_metadata_is_passed_through() -> None:
    owner_routes = {"release-governance": {"providers": ["slack"], "acknowledgement_minutes": 30}}
    windows = [{"window_id": "freeze", "start_at": "2026-06-01T00:00:00Z", "end_at": "2026-06-02T00:00:00Z"}]
    calendars = {"release-governance": {"available": True}}
    document = schedule_document(
        owner_routes=owner_routes, maintenance_windows=windows, owner_calendars=calendars
    )
    summary = summarise(document)
    assert summary["valid"] is True
    assert summary["owner_routes"] == owner_routes
    assert summary["maintenance_windows"] == windows
    assert summary["owner_calendars"] == calendars


def test_routing_rules_is_an_alias_for_owner_routes() -> None:
    rules = [{"owners": ["release-governance"], "providers": ["teams"]}]
    assert summarise(schedule_document(routing_rules=rules))["owner_routes"] == rules


def test_empty_summary_for_a_file_problem() -> None:
    assert summarise(None, problem="metadata file is missing") == {
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
        "message": "metadata file is missing",
        "active_message": "rollback drill schedule is missing or inactive",
        "cadence_message": "rollback drill schedule must include positive interval_days",
        "next_due_message": "rollback drill schedule must include next_due_at or usable latest drill history",
        "stale_message": "rollback drill schedule is stale and requires notification",
        "notification_message": "rollback drill schedule must include owners and notification_providers",
    }


def test_configured_but_missing_schedule_needs_attention(tmp_path: Path) -> None:
    missing = str(tmp_path / "absent.json")
    loaded = load_json_document(missing, allow_list=True)
    built = report(summarise(loaded.as_object(), problem=loaded.problem), mode="shadow", path=missing)
    assert built["status"] == "needs_attention"
    assert checks_by_id(built)["go_rollback_drill_schedule_file"] == {
        "id": "go_rollback_drill_schedule_file",
        "status": "warn",
        "message": "metadata file is missing",
        "path": missing,
        "schedule_schema": "",
    }


def test_explicit_request_overrides_mode_and_path() -> None:
    summary = summarise(schedule_document())
    assert report(summary, mode="disabled", path="", requested=True)["status"] == "ready"
    assert report(summary, requested=False)["status"] == "not_requested"


@pytest.mark.parametrize(
    ("status", "level"),
    [
        ("needs_attention", "critical"),
        ("due_soon", "warning"),
        ("ready", "healthy"),
        ("not_requested", "healthy"),
    ],
)
def test_alert_level_mapping(status: str, level: str) -> None:
    assert alert_level(status) == level


# --- schedule files: one object or a list -------------------------------------------------------


def write_json(path: Path, content: object) -> str:
    path.write_text(json.dumps(content), encoding="utf-8")
    return str(path)


def test_schedule_file_may_hold_one_object(tmp_path: Path) -> None:
    loaded = load_json_document(write_json(tmp_path / "one.json", schedule_document()), allow_list=True)
    assert loaded.entries() == [LoadedDocument(schedule_document())]


def test_schedule_file_may_hold_a_list_of_objects(tmp_path: Path) -> None:
    weekly = schedule_document(schedule_id="weekly", interval_days=7)
    path = write_json(tmp_path / "many.json", [schedule_document(), weekly, "junk"])
    entries = load_json_document(path, allow_list=True).entries()
    assert entries == [
        LoadedDocument(schedule_document()),
        LoadedDocument(weekly),
        LoadedDocument(None, "metadata JSON must be an object"),
    ]
    summaries = [summarise(entry.as_object(), problem=entry.problem) for entry in entries]
    assert [item["schedule_id"] for item in summaries] == ["go_backend_python_fallback_monthly", "weekly", ""]
    assert [item["message"] for item in summaries][2] == "metadata JSON must be an object"


def test_schedule_list_is_refused_when_lists_are_not_allowed(tmp_path: Path) -> None:
    path = write_json(tmp_path / "many.json", [schedule_document()])
    assert load_json_document(path) == LoadedDocument(None, "metadata JSON must be an object")


@pytest.mark.parametrize("content", [[], "text", 3, None])
def test_schedule_file_must_be_an_object_or_non_empty_list(tmp_path: Path, content: object) -> None:
    path = write_json(tmp_path / "odd.json", content)
    assert load_json_document(path, allow_list=True) == LoadedDocument(
        None, "metadata JSON must be an object"
    )


# --- when time alone changes the readiness state ------------------------------------------------


def assert_changes_exactly_at(
    change: datetime,
    document: dict[str, Any],
    history: dict[str, Any] = STANDARD_HISTORY,
    *,
    due_soon_days: float = 14.0,
    now: datetime = NOW,
) -> None:
    current = status_of(document, history, due_soon_days=due_soon_days, now=now)
    assert change > now
    assert status_of(document, history, due_soon_days=due_soon_days, now=change) != current
    assert status_of(document, history, due_soon_days=due_soon_days, now=change - ONE_MICROSECOND) == current


def test_ready_schedule_turns_due_soon_at_the_rounded_horizon() -> None:
    document = schedule_document()
    change = next_state_change_at(document, STANDARD_HISTORY, due_soon_days=14.0, now=NOW)
    assert change is not None
    assert abs(change - (NOW + timedelta(days=16) - ROUNDING_SLACK)) < timedelta(milliseconds=1)
    assert status_of(document, now=change) == "due_soon"
    assert_changes_exactly_at(change, document)


def test_due_soon_schedule_turns_stale_just_after_its_due_date() -> None:
    document = schedule_document(next_due_at=iso(NOW + timedelta(days=3)))
    change = next_state_change_at(document, STANDARD_HISTORY, due_soon_days=14.0, now=NOW)
    assert change is not None
    assert abs(change - (NOW + timedelta(days=3) + ROUNDING_SLACK)) < timedelta(milliseconds=1)
    assert status_of(document, now=change) == "needs_attention"
    assert_changes_exactly_at(change, document)


def test_without_due_soon_window_ready_turns_straight_to_stale() -> None:
    document = schedule_document(next_due_at=iso(NOW + timedelta(days=3)))
    change = next_state_change_at(document, STANDARD_HISTORY, due_soon_days=0, now=NOW)
    assert change is not None
    assert status_of(document, due_soon_days=0, now=change) == "needs_attention"
    assert_changes_exactly_at(change, document, due_soon_days=0)


def test_derived_due_date_drives_the_next_change() -> None:
    history = history_with_drill_at(iso(NOW - timedelta(days=20)))
    document = without(schedule_document(), "next_due_at")
    change = next_state_change_at(document, history, due_soon_days=14.0, now=NOW)
    assert change is not None
    assert abs(change - (NOW + timedelta(days=10) + ROUNDING_SLACK)) < timedelta(milliseconds=1)
    assert_changes_exactly_at(change, document, history)


def test_due_date_near_the_end_of_time_still_has_a_change() -> None:
    document = schedule_document(next_due_at="9999-12-31T00:00:00Z")
    change = next_state_change_at(document, STANDARD_HISTORY, due_soon_days=14.0, now=NOW)
    assert change is not None
    assert status_of(document, now=change) == "due_soon"
    assert_changes_exactly_at(change, document)


@pytest.mark.parametrize(
    ("document", "history"),
    [
        (None, STANDARD_HISTORY),
        (schedule_document(next_due_at=iso(NOW - timedelta(days=1))), STANDARD_HISTORY),
        (schedule_document(status="paused"), STANDARD_HISTORY),
        (schedule_document(owners=[]), STANDARD_HISTORY),
        (schedule_document(schema_version="v0"), STANDARD_HISTORY),
        (without(schedule_document(), "next_due_at"), NO_HISTORY),
    ],
)
def test_time_alone_cannot_change_invalid_or_stale_schedules(
    document: dict[str, Any] | None, history: dict[str, Any]
) -> None:
    assert next_state_change_at(document, history, due_soon_days=14.0, now=NOW) is None


MICROSECONDS_PER_DAY = 86_400_000_000


@settings(max_examples=300, deadline=None)
@given(
    due_offset=st.integers(min_value=-40 * MICROSECONDS_PER_DAY, max_value=60 * MICROSECONDS_PER_DAY),
    now_offset=st.integers(min_value=0, max_value=MICROSECONDS_PER_DAY),
    due_soon_days=st.one_of(
        st.sampled_from([0.0, -1.0, 14.0, 1e-6, 0.00005, 3.00004999]),
        st.floats(min_value=0.0, max_value=50.0, allow_nan=False),
    ),
)
@example(due_offset=14 * MICROSECONDS_PER_DAY, now_offset=0, due_soon_days=14.0)
@example(due_offset=-4_320_000, now_offset=0, due_soon_days=14.0)
@example(due_offset=0, now_offset=0, due_soon_days=0.0)
def test_next_state_change_is_exactly_where_the_state_flips(
    due_offset: int, now_offset: int, due_soon_days: float
) -> None:
    now = NOW + timedelta(microseconds=now_offset)
    document = schedule_document(next_due_at=iso(NOW + timedelta(microseconds=due_offset)))
    change = next_state_change_at(document, STANDARD_HISTORY, due_soon_days=due_soon_days, now=now)
    current = status_of(document, due_soon_days=due_soon_days, now=now)
    if change is None:
        assert current == "needs_attention"
        assert status_of(document, due_soon_days=due_soon_days, now=now + timedelta(days=400)) == current
    else:
        assert_changes_exactly_at(change, document, due_soon_days=due_soon_days, now=now)


@settings(max_examples=100, deadline=None)
@given(
    drill_offset=st.integers(min_value=-60 * MICROSECONDS_PER_DAY, max_value=10 * MICROSECONDS_PER_DAY),
    interval_days=st.one_of(
        st.integers(min_value=1, max_value=90), st.floats(min_value=0.01, max_value=90.0)
    ),
)
def test_next_state_change_with_derived_due_dates(drill_offset: int, interval_days: float) -> None:
    history = history_with_drill_at(iso(NOW + timedelta(microseconds=drill_offset)))
    document = without(schedule_document(interval_days=interval_days), "next_due_at")
    change = next_state_change_at(document, history, due_soon_days=14.0, now=NOW)
    if change is None:
        assert status_of(document, history) == "needs_attention"
    else:
        assert_changes_exactly_at(change, document, history)
