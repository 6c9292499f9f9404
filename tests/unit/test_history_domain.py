"""Rollback drill history rules, metadata loading and timestamps, checked against the original CAVRA."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from cavra_scheduler.domain import (
    LoadedDocument,
    days_between,
    history_next_state_change_at,
    history_report,
    history_summary,
    iso,
    load_json_document,
    parse_timestamp,
)

NOW = datetime(2026, 5, 20, 10, 0, tzinfo=UTC)
HISTORY_PATH = "/etc/cavra/go-backend-rollback-drills.json"


def drill(**overrides: Any) -> dict[str, Any]:
    return {
        "drill_id": "drill_go_backend_python_fallback",
        "executed_at": iso(NOW),
        "actor": "release-governance",
        "source_mode": "promoted",
        "target_mode": "disabled",
        "status": "pass",
        "fallback_verified": True,
        "recovery_minutes": 7,
        "max_recovery_minutes": 15,
        "runbook_ref": "docs/go-backend-rollback-drill-history.md",
        "evidence_refs": ["go-rollback-drill://ci/python-fallback-restored"],
    } | overrides


def history_document(*drills: object, **overrides: Any) -> dict[str, Any]:
    return {
        "schema_version": "cavra.go-backend-rollback-drill-history.v1",
        "environment": "production-pilot",
        "drills": list(drills) if drills else [drill()],
    } | overrides


def summarise(
    document: dict[str, Any] | None, *, problem: str | None = None, max_age_days: float = 90.0
) -> dict[str, Any]:
    return history_summary(document, problem=problem, max_age_days=max_age_days, now=NOW)


def report(
    summary: dict[str, Any], *, mode: str = "promoted", path: str = HISTORY_PATH, **kwargs: Any
) -> dict[str, Any]:
    return history_report(mode=mode, history_path=path, max_age_days=90.0, summary=summary, **kwargs)


def checks_by_id(built: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for item in built["checks"]}


# --- timestamps ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-05-20T10:00:00Z", datetime(2026, 5, 20, 10, 0, tzinfo=UTC)),
        ("2026-05-20T10:00:00", datetime(2026, 5, 20, 10, 0, tzinfo=UTC)),
        ("2026-05-20T12:00:00+02:00", datetime(2026, 5, 20, 10, 0, tzinfo=UTC)),
        ("2026-05-20T10:00:00.123456+00:00", datetime(2026, 5, 20, 10, 0, 0, 123456, tzinfo=UTC)),
        ("2026-05-20", datetime(2026, 5, 20, tzinfo=UTC)),
    ],
)
def test_parse_timestamp_reads_iso_text_as_utc(value: str, expected: datetime) -> None:
    parsed = parse_timestamp(value)
    assert parsed == expected
    assert parsed is not None and parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize("value", ["", "yesterday", "2026-13-01T00:00:00Z", None, 5, ["2026-05-20"], True])
def test_parse_timestamp_treats_unparsable_or_non_text_as_absent(value: object) -> None:
    assert parse_timestamp(value) is None


def test_parse_timestamp_treats_out_of_range_instants_as_absent() -> None:
    assert parse_timestamp("9999-12-31T23:30:00-02:00") is None


def test_iso_renders_utc_with_explicit_offset() -> None:
    assert (
        iso(datetime(2026, 5, 20, 12, 0, tzinfo=timezone(timedelta(hours=2)))) == "2026-05-20T10:00:00+00:00"
    )
    assert iso(datetime(2026, 5, 20, 10, 0)) == "2026-05-20T10:00:00+00:00"


def test_days_between_rounds_to_four_decimals() -> None:
    assert days_between(NOW + timedelta(days=1, hours=6), NOW) == 1.25
    assert days_between(NOW, NOW + timedelta(days=2)) == -2.0
    assert days_between(NOW + timedelta(seconds=1), NOW) == 0.0
    assert days_between(NOW + timedelta(seconds=30), NOW) == 0.0003


# --- metadata loading ---------------------------------------------------------------------------


def test_loader_reports_unconfigured_path() -> None:
    assert load_json_document("") == LoadedDocument(None, "metadata path is not configured")


def test_loader_reports_missing_file(tmp_path: Path) -> None:
    assert load_json_document(str(tmp_path / "absent.json")) == LoadedDocument(
        None, "metadata file is missing"
    )


def test_loader_treats_a_directory_as_missing(tmp_path: Path) -> None:
    assert load_json_document(str(tmp_path)).problem == "metadata file is missing"


def test_loader_reports_invalid_json_with_the_parser_error(tmp_path: Path) -> None:
    file = tmp_path / "broken.json"
    file.write_text("{not json", encoding="utf-8")
    loaded = load_json_document(str(file))
    assert loaded.document is None
    assert loaded.problem == (
        "metadata JSON is invalid: "
        "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"
    )


def test_loader_reports_undecodable_bytes_as_invalid_json(tmp_path: Path) -> None:
    file = tmp_path / "latin1.json"
    file.write_bytes(b'{"environment": "\xe9"}')
    problem = load_json_document(str(file)).problem
    assert problem is not None and problem.startswith("metadata JSON is invalid: 'utf-8' codec can't decode")


@pytest.mark.parametrize("content", ["[]", "[{}]", '"text"', "3", "null"])
def test_loader_requires_an_object_for_history_files(tmp_path: Path, content: str) -> None:
    file = tmp_path / "history.json"
    file.write_text(content, encoding="utf-8")
    assert load_json_document(str(file)) == LoadedDocument(None, "metadata JSON must be an object")


def test_loader_returns_the_object(tmp_path: Path) -> None:
    file = tmp_path / "history.json"
    file.write_text(json.dumps(history_document()), encoding="utf-8")
    loaded = load_json_document(str(file))
    assert loaded.problem is None
    assert loaded.as_object() == history_document()
    assert loaded.entries() == [loaded]


def test_missing_file_flows_into_an_empty_summary(tmp_path: Path) -> None:
    loaded = load_json_document(str(tmp_path / "absent.json"))
    summary = summarise(loaded.as_object(), problem=loaded.problem)
    assert summary["message"] == "metadata file is missing"
    assert summary["valid"] is False


# --- history summary ----------------------------------------------------------------------------


def test_summary_of_a_fresh_passing_drill() -> None:
    assert summarise(history_document()) == {
        "valid": True,
        "schema_version": "cavra.go-backend-rollback-drill-history.v1",
        "environment": "production-pilot",
        "drill_count": 1,
        "latest_drill_id": "drill_go_backend_python_fallback",
        "latest_status": "pass",
        "latest_target_mode": "disabled",
        "latest_executed_at": "2026-05-20T10:00:00+00:00",
        "age_days": 0.0,
        "fresh": True,
        "fallback_verified": True,
        "recovery_sla_met": True,
        "recovery_minutes": 7,
        "max_recovery_minutes": 15,
        "runbook_ref": "docs/go-backend-rollback-drill-history.md",
        "evidence_refs": ["go-rollback-drill://ci/python-fallback-restored"],
        "message": "Rollback drill history is parseable and latest drill is evaluated.",
        "latest_status_message": "Latest rollback drill passed.",
        "target_mode_message": "Latest rollback drill returned to Python-only mode.",
        "fallback_message": "Latest rollback drill verified Python fallback restoration.",
        "recovery_message": "Latest rollback drill met the recovery target.",
        "freshness_message": "Latest rollback drill is within the freshness window.",
    }


def test_empty_summary_for_a_file_problem() -> None:
    assert summarise(None, problem="metadata path is not configured") == {
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
        "message": "metadata path is not configured",
        "latest_status_message": "rollback drill history is missing or invalid",
        "target_mode_message": "latest rollback drill must set target_mode=disabled",
        "fallback_message": "latest rollback drill must verify Python fallback restoration",
        "recovery_message": (
            "latest rollback drill recovery_minutes must be positive and less than or equal to "
            "max_recovery_minutes"
        ),
        "freshness_message": "latest rollback drill is missing, invalid, or stale",
    }


def test_problem_wins_over_a_document() -> None:
    summary = summarise(history_document(), problem="metadata file is missing")
    assert summary["message"] == "metadata file is missing"
    assert summary["latest_drill_id"] == ""


def test_no_document_and_no_problem_reads_as_unconfigured() -> None:
    assert summarise(None)["message"] == "metadata path is not configured"


def test_wrong_schema_and_empty_drills_join_their_messages() -> None:
    summary = summarise({"schema_version": "v0", "drills": []})
    assert summary["message"] == (
        "rollback drill history has an invalid schema_version; "
        "rollback drill history must include a non-empty drills list"
    )
    assert summary["drill_count"] == 0


@pytest.mark.parametrize("drills", [None, {}, "drill", []])
def test_drills_must_be_a_non_empty_list(drills: object) -> None:
    summary = summarise(history_document(drills=drills))
    assert summary["message"] == "rollback drill history must include a non-empty drills list"
    assert summary["valid"] is False


def test_drills_without_objects_are_not_parseable() -> None:
    summary = summarise(history_document(drills=["drill-1", 3]))
    assert summary["message"] == "rollback drill history has no parseable drills"


def test_latest_drill_is_the_greatest_parseable_executed_at() -> None:
    older = drill(drill_id="older", executed_at=iso(NOW - timedelta(days=40)))
    newest = drill(drill_id="newest", executed_at="2026-05-18T16:00:00+02:00")
    undated = drill(drill_id="undated", executed_at="not a date")
    summary = summarise(history_document(older, newest, undated, "junk"))
    assert summary["latest_drill_id"] == "newest"
    assert summary["latest_executed_at"] == "2026-05-18T16:00:00+02:00"
    assert summary["age_days"] == 1.8333
    assert summary["drill_count"] == 3


def test_latest_drill_tie_keeps_the_first_listed() -> None:
    first = drill(drill_id="first")
    second = drill(drill_id="second", executed_at="2026-05-20T10:00:00Z")
    assert summarise(history_document(first, second))["latest_drill_id"] == "first"


def test_without_parseable_dates_the_last_drill_is_latest() -> None:
    first = drill(drill_id="first", executed_at="")
    last = drill(drill_id="last", executed_at="soon")
    summary = summarise(history_document(first, last))
    assert summary["latest_drill_id"] == "last"
    assert summary["latest_executed_at"] == "soon"
    assert summary["age_days"] is None
    assert summary["fresh"] is False
    assert summary["message"] == "latest rollback drill must include valid executed_at timestamp"


def test_missing_refs_runbook_and_date_join_their_messages() -> None:
    latest = drill(evidence_refs=[], runbook_ref="", executed_at=None)
    summary = summarise(history_document(latest))
    assert summary["message"] == (
        "latest rollback drill must include evidence_refs as a non-empty list of strings; "
        "latest rollback drill must include runbook_ref; "
        "latest rollback drill must include valid executed_at timestamp"
    )
    assert summary["latest_executed_at"] == ""
    assert summary["valid"] is False


def test_evidence_refs_must_all_be_strings() -> None:
    summary = summarise(history_document(drill(evidence_refs=["ok", 7])))
    assert summary["evidence_refs"] == []
    assert summary["valid"] is False
    assert (
        summary["message"]
        == "latest rollback drill must include evidence_refs as a non-empty list of strings"
    )


def test_fallback_must_be_literally_true() -> None:
    summary = summarise(history_document(drill(fallback_verified="true")))
    assert summary["fallback_verified"] is False
    assert summary["fallback_message"] == "latest rollback drill must verify Python fallback restoration"
    assert summary["valid"] is False


@pytest.mark.parametrize(
    ("recovery", "maximum", "met"),
    [(7, 15, True), (15, 15, True), (7.5, 15.0, True), (0, 15, False), (True, 15, False), ("7", 15, False)],
)
def test_recovery_sla_needs_positive_numbers_within_the_maximum(
    recovery: object, maximum: object, met: bool
) -> None:
    summary = summarise(history_document(drill(recovery_minutes=recovery, max_recovery_minutes=maximum)))
    assert summary["recovery_sla_met"] is met
    assert summary["valid"] is met


def test_non_numeric_recovery_values_are_reported_as_null() -> None:
    summary = summarise(history_document(drill(recovery_minutes="7", max_recovery_minutes=False)))
    assert summary["recovery_minutes"] is None
    assert summary["max_recovery_minutes"] is None


def test_drill_older_than_max_age_is_stale() -> None:
    summary = summarise(history_document(drill(executed_at=iso(NOW - timedelta(days=91)))))
    assert summary["age_days"] == 91.0
    assert summary["fresh"] is False
    assert summary["freshness_message"] == "latest rollback drill is missing, invalid, or stale"
    assert summary["valid"] is False


def test_drill_exactly_max_age_old_is_fresh() -> None:
    summary = summarise(history_document(drill(executed_at=iso(NOW - timedelta(days=90)))))
    assert summary["age_days"] == 90.0
    assert summary["fresh"] is True


def test_future_drill_counts_as_fresh() -> None:
    summary = summarise(history_document(drill(executed_at="2099-01-01T00:00:00Z")))
    assert summary["age_days"] == -26523.5833
    assert summary["fresh"] is True
    assert summary["valid"] is True


@pytest.mark.parametrize("max_age_days", [0, -1.0])
def test_non_positive_max_age_never_counts_as_fresh(max_age_days: float) -> None:
    summary = summarise(history_document(), max_age_days=max_age_days)
    assert summary["age_days"] is None
    assert summary["fresh"] is False


def test_null_text_fields_read_as_empty() -> None:
    summary = summarise(history_document(drill(drill_id=None, status=None), environment=None))
    assert summary["latest_drill_id"] == ""
    assert summary["latest_status"] == ""
    assert summary["environment"] == ""


# --- history report (spec 8.1 cases 1, 2, 3, 7, 9, 16) ------------------------------------------


def test_history_is_not_requested_by_default() -> None:
    built = report(summarise(None, problem="metadata path is not configured"), mode="disabled", path="")
    assert built["schema_version"] == "cavra.go-backend-pilot.rollback-drill-history.v1"
    assert built["status"] == "not_requested"
    assert checks_by_id(built)["go_rollback_drill_history_requested"]["status"] == "warn"


def test_history_requires_a_valid_file_when_promoted(tmp_path: Path) -> None:
    missing = str(tmp_path / "absent.json")
    loaded = load_json_document(missing)
    built = report(summarise(loaded.as_object(), problem=loaded.problem), path=missing)
    assert built["status"] == "needs_attention"
    file_check = checks_by_id(built)["go_rollback_drill_history_file"]
    assert file_check == {
        "id": "go_rollback_drill_history_file",
        "status": "warn",
        "message": "metadata file is missing",
        "path": missing,
        "history_schema": "",
    }


def test_history_accepts_the_latest_fresh_drill(tmp_path: Path) -> None:
    file = tmp_path / "drills.json"
    file.write_text(json.dumps(history_document()), encoding="utf-8")
    loaded = load_json_document(str(file))
    built = report(summarise(loaded.as_object(), problem=loaded.problem), path=str(file))
    assert built["status"] == "ready"
    assert built["history"]["latest_drill_id"] == "drill_go_backend_python_fallback"
    assert built["history"]["latest_target_mode"] == "disabled"


def test_history_report_shape_checks_and_notes() -> None:
    built = report(summarise(history_document()))
    assert list(built) == [
        "schema_version",
        "mode",
        "status",
        "rollback_drill_history_path",
        "rollback_drill_max_age_days",
        "checks",
        "history",
        "operator_notes",
    ]
    assert built["mode"] == "promoted"
    assert built["rollback_drill_history_path"] == HISTORY_PATH
    assert built["rollback_drill_max_age_days"] == 90.0
    assert built["checks"] == [
        {
            "id": "go_rollback_drill_history_requested",
            "status": "pass",
            "message": (
                "Rollback drill history is required when CAVRA_GO_BACKEND_MODE=promoted or drill history "
                "is configured."
            ),
            "mode": "promoted",
        },
        {
            "id": "go_rollback_drill_history_file",
            "status": "pass",
            "message": "Rollback drill history is parseable and latest drill is evaluated.",
            "path": HISTORY_PATH,
            "history_schema": "cavra.go-backend-rollback-drill-history.v1",
        },
        {
            "id": "go_rollback_drill_latest_passed",
            "status": "pass",
            "message": "Latest rollback drill passed.",
            "latest_drill_id": "drill_go_backend_python_fallback",
        },
        {
            "id": "go_rollback_drill_disabled_target",
            "status": "pass",
            "message": "Latest rollback drill returned to Python-only mode.",
            "target_mode": "disabled",
        },
        {
            "id": "go_rollback_drill_fallback_verified",
            "status": "pass",
            "message": "Latest rollback drill verified Python fallback restoration.",
        },
        {
            "id": "go_rollback_drill_recovery_sla",
            "status": "pass",
            "message": "Latest rollback drill met the recovery target.",
            "recovery_minutes": 7,
            "max_recovery_minutes": 15,
        },
        {
            "id": "go_rollback_drill_freshness",
            "status": "pass",
            "message": "Latest rollback drill is within the freshness window.",
            "max_age_days": 90.0,
            "age_days": 0.0,
        },
    ]
    assert built["operator_notes"] == [
        "Drill history is public-safe metadata that proves promoted environments can return to "
        "Python-only mode.",
        "Record drills from operational runbooks; do not execute rollback from the browser.",
        "Keep hostnames, private endpoint scripts, secrets, and customer details out of public "
        "drill history.",
    ]


def test_recovery_over_the_maximum_needs_attention() -> None:
    built = report(summarise(history_document(drill(recovery_minutes=20, max_recovery_minutes=15))))
    sla = checks_by_id(built)["go_rollback_drill_recovery_sla"]
    assert sla == {
        "id": "go_rollback_drill_recovery_sla",
        "status": "warn",
        "message": (
            "latest rollback drill recovery_minutes must be positive and less than or equal to "
            "max_recovery_minutes"
        ),
        "recovery_minutes": 20,
        "max_recovery_minutes": 15,
    }
    assert built["status"] == "needs_attention"


def test_shadow_target_mode_needs_attention() -> None:
    built = report(summarise(history_document(drill(target_mode="shadow"))))
    target = checks_by_id(built)["go_rollback_drill_disabled_target"]
    assert target["status"] == "warn"
    assert target["message"] == "latest rollback drill must set target_mode=disabled"
    assert target["target_mode"] == "shadow"
    assert built["status"] == "needs_attention"


def test_failed_latest_drill_needs_attention() -> None:
    built = report(summarise(history_document(drill(status="fail"))))
    assert checks_by_id(built)["go_rollback_drill_latest_passed"]["message"] == (
        "latest rollback drill must record status=pass"
    )
    assert built["status"] == "needs_attention"


def test_configured_path_requests_the_report_outside_promoted_mode() -> None:
    built = report(summarise(history_document()), mode="shadow")
    assert built["status"] == "ready"
    assert checks_by_id(built)["go_rollback_drill_history_requested"]["mode"] == "shadow"


def test_explicit_request_overrides_mode_and_path() -> None:
    summary = summarise(history_document())
    assert report(summary, mode="disabled", path="", requested=True)["status"] == "ready"
    assert report(summary, mode="promoted", requested=False)["status"] == "not_requested"


def test_mode_is_normalised_like_the_original() -> None:
    summary = summarise(None, problem="metadata path is not configured")
    assert report(summary, mode=" PROMOTED ", path="")["mode"] == "promoted"
    assert report(summary, mode=" PROMOTED ", path="")["status"] == "needs_attention"
    assert report(summary, mode="turbo", path="")["mode"] == "disabled"


# --- when time alone changes the history state --------------------------------------------------


def test_history_turns_stale_just_after_max_age() -> None:
    document = history_document(drill(executed_at=iso(NOW - timedelta(days=80))))
    change = history_next_state_change_at(document, max_age_days=90.0, now=NOW)
    assert change is not None
    # 4-decimal rounding keeps ages up to 90.00005 days (4.32 s past 90 days) inside the window.
    assert abs(change - (NOW + timedelta(days=10, seconds=4.32))) < timedelta(milliseconds=1)
    before = summarise(document, max_age_days=90.0)
    assert history_summary(document, problem=None, max_age_days=90.0, now=change)["fresh"] is False
    almost = history_summary(
        document, problem=None, max_age_days=90.0, now=change - timedelta(microseconds=1)
    )
    assert almost["fresh"] is True and before["fresh"] is True


@pytest.mark.parametrize(
    "document",
    [
        None,
        history_document(drill(status="fail")),
        history_document(drill(executed_at=iso(NOW - timedelta(days=99)))),
    ],
)
def test_history_that_is_not_valid_never_recovers_by_time(document: dict[str, Any] | None) -> None:
    assert history_next_state_change_at(document, max_age_days=90.0, now=NOW) is None
