"""``cavra runtime ...`` computes the reports locally from files, like the original CLI."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from cavra_cli.main import app

runner = CliRunner()
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["runtime", *args])
    return result.exit_code, result.output


def test_history_report_is_not_requested_without_flags() -> None:
    code, output = run("go-rollback-drills", "--json")
    assert code == 0
    report = json.loads(output)
    assert report["schema_version"] == "cavra.go-backend-pilot.rollback-drill-history.v1"
    assert report["status"] == "not_requested"


def test_schedule_report_is_not_requested_without_flags() -> None:
    code, output = run("go-rollback-drill-schedule", "--json")
    assert code == 0
    report = json.loads(output)
    assert report["schema_version"] == "cavra.go-backend-pilot.rollback-drill-schedule.v1"
    assert report["status"] == "not_requested"


def test_seed_files_give_a_stale_schedule_in_text_form() -> None:
    code, output = run(
        "go-rollback-drill-schedule",
        "--mode",
        "promoted",
        "--rollback-drill-schedule-path",
        str(EXAMPLES / "go-backend-rollback-drill-schedule.json"),
        "--rollback-drill-history-path",
        str(EXAMPLES / "go-backend-rollback-drills.json"),
        "--rollback-drill-due-soon-days",
        "14",
    )
    assert code == 0
    lines = output.splitlines()
    assert lines[0] == "Go rollback drill schedule: needs_attention (promoted)"
    stale = "rollback drill schedule is stale and requires notification"
    assert f"  warn go_rollback_drill_schedule_not_stale: {stale}" in lines


def test_missing_file_is_reported_not_raised() -> None:
    code, output = run(
        "go-rollback-drill-schedule",
        "--mode",
        "promoted",
        "--rollback-drill-schedule-path",
        "/nonexistent/schedule.json",
        "--json",
    )
    assert code == 0
    report = json.loads(output)
    assert report["status"] == "needs_attention"
    assert report["schedule"]["message"] == "metadata file is missing"


def test_malformed_schedule_names_every_field_and_exits_non_zero(tmp_path: Path) -> None:
    bad = tmp_path / "schedule.json"
    bad.write_text(
        json.dumps(
            {
                "schema_version": "cavra.go-backend-rollback-drill-schedule.v0",
                "schedule_id": "x",
                "interval_days": -3,
                "owners": [],
                "notification_providers": ["slack"],
                "maintenance_windows": "none",
                "next_due_at": "tomorrow",
            }
        )
    )
    result = runner.invoke(
        app, ["runtime", "go-rollback-drill-schedule", "--rollback-drill-schedule-path", str(bad)]
    )
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    for field in (
        "schema_version",
        "interval_days",
        "owners",
        "maintenance_windows",
        "next_due_at",
        "runbook_ref",
    ):
        assert f"{field}:" in result.output, field


def test_a_list_file_picks_the_named_schedule(tmp_path: Path) -> None:
    seed = json.loads((EXAMPLES / "go-backend-rollback-drill-schedule.json").read_text())
    far = dict(seed, schedule_id="far", next_due_at="2099-01-01T00:00:00Z")
    listing = tmp_path / "schedules.json"
    listing.write_text(json.dumps([seed, far]))
    code, output = run(
        "go-rollback-drill-schedule",
        "--rollback-drill-schedule-path",
        str(listing),
        "--schedule-id",
        "far",
        "--json",
    )
    assert code == 0
    assert json.loads(output)["schedule"]["schedule_id"] == "far"
    assert json.loads(output)["status"] == "ready"
    code, _ = run(
        "go-rollback-drill-schedule", "--rollback-drill-schedule-path", str(listing), "--schedule-id", "nope"
    )
    assert code == 2


def test_notification_plan_is_forced_to_the_webhook_fallback_without_files() -> None:
    code, output = run("go-rollback-drill-notification-plan", "--force", "--json")
    assert code == 0
    result = json.loads(output)
    assert result["plan"]["schema_version"] == "cavra.go-backend-pilot.rollback-drill-notification-plan.v1"
    assert result["plan"]["plan_id"].startswith("gordn-")
    assert result["plan"]["selected_providers"] == ["webhook"]
    assert result["event"]["event_type"] == "cavra.go_backend.rollback_drill.notification"


def test_notification_plan_accepts_a_yaml_routing_policy(tmp_path: Path) -> None:
    policy = tmp_path / "routing.yaml"
    policy.write_text(
        "owner_routes:\n  release-governance:\n    providers: [slack]\n    acknowledgement_minutes: 15\n"
    )
    code, output = run(
        "go-rollback-drill-notification-plan", "--force", "--routing-policy", str(policy), "--json"
    )
    assert code == 0
    plan = json.loads(output)["plan"]
    assert plan["selected_providers"] == ["slack"]
    assert plan["route_decisions"][0]["acknowledgement_minutes"] == 15


def test_notification_plan_text_suppresses_a_healthy_schedule(tmp_path: Path) -> None:
    seed = json.loads((EXAMPLES / "go-backend-rollback-drill-schedule.json").read_text())
    healthy = tmp_path / "schedule.json"
    healthy.write_text(json.dumps(seed | {"next_due_at": "2099-01-01T00:00:00Z"}))
    code, output = run("go-rollback-drill-notification-plan", "--rollback-drill-schedule-path", str(healthy))
    assert code == 0
    lines = output.splitlines()
    assert (
        lines[0]
        == "Go rollback drill notification plan: healthy (rollback drill notification routes are suppressed)"
    )
    assert lines[1] == "  selected providers: none"
    bad = tmp_path / "policy.json"
    bad.write_text("[1]")
    code, _ = run("go-rollback-drill-notification-plan", "--routing-policy", str(bad))
    assert code == 2
