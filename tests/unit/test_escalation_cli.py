"""`cavra runtime go-rollback-drill-escalation-plan` (spec §2, §8.3 #32): a template, empty history."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from cavra_cli.main import app

runner = CliRunner()
COMMAND = ["runtime", "go-rollback-drill-escalation-plan"]


def test_32_json_is_the_escalation_plan_schema_and_healthy() -> None:
    result = runner.invoke(app, [*COMMAND, "--json"])

    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    assert plan["schema_version"] == "cavra.go-backend-pilot.rollback-drill-notification-escalation-plan.v1"
    assert (plan["alert_level"], plan["route_count"], plan["routes"]) == ("healthy", 0, [])
    assert (plan["acknowledgement_minutes"], plan["generated_by"]) == (60, "cli")
    assert plan["plan_id"].startswith("gordesc-")


def test_text_output_and_the_flag_as_the_policy_default(tmp_path: Path) -> None:
    assert (
        runner.invoke(app, COMMAND).output.strip() == "Go rollback drill escalation plan: healthy (0 routes)"
    )
    policy = tmp_path / "policy.yaml"
    policy.write_text("default_slo:\n  acknowledgement_minutes: 20\n")
    flag = json.loads(runner.invoke(app, [*COMMAND, "--acknowledgement-minutes", "45", "--json"]).output)
    from_file = json.loads(runner.invoke(app, [*COMMAND, "--routing-policy", str(policy), "--json"]).output)

    assert flag["acknowledgement_minutes"] == 45
    assert from_file["acknowledgement_minutes"] == 60, (
        "the flag's default is the policy value, above default_slo"
    )


def test_bad_input_exits_non_zero_with_the_message_and_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "policy.json"
    bad.write_text(json.dumps({"owner_routes": {"x": {"acknowledgement_minutes": 0}}}))
    missing = tmp_path / "missing.json"
    for args, message in [
        (["--routing-policy", str(bad)], "owner_routes"),
        (["--routing-policy", str(missing)], "routing policy unusable"),
        (["--acknowledgement-minutes", "0"], "--acknowledgement-minutes"),
    ]:
        result = runner.invoke(app, [*COMMAND, *args])
        assert result.exit_code != 0, args
        assert message in result.output, result.output
        assert "Traceback" not in result.output
        assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
