"""``cavra runtime go-rollback-drill-notification-ack`` builds the record locally (spec §8.3 #31)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cavra_cli.main import app

runner = CliRunner()
COMMAND = "go-rollback-drill-notification-ack"


def run(*args: str) -> tuple[int, str, BaseException | None]:
    result = runner.invoke(app, ["runtime", COMMAND, *args])
    exception = result.exception if not isinstance(result.exception, SystemExit) else None
    return result.exit_code, result.output, exception


def test_the_record_and_its_metadata_as_json() -> None:
    code, output, _ = run(
        "go_backend_python_fallback_monthly",
        "--provider",
        "slack",
        "--acknowledged-by",
        "release-manager",
        "--plan-id",
        "gordn-0123456789abcdef",
        "--external-ref",
        "CHG-1",
        "--json",
    )
    assert code == 0, output
    document = json.loads(output)
    ack = document["acknowledgement"]
    assert ack["schema_version"] == "cavra.go-backend-pilot.rollback-drill-notification-ack.v1"
    assert ack["acknowledgement_state"] == "acknowledged" and ack["acknowledged_by"] == "release-manager"
    assert ack["plan_id"] == "gordn-0123456789abcdef" and ack["external_ref"] == "CHG-1"
    assert ack["acknowledgement_id"].startswith("gordack-")
    assert ack["actor"]["subject"] == "cli:unverified"
    assert document["metadata"]["metadata_kind"] == "go-backend-rollback-drill-notification-ack"


def test_the_state_is_normalised_and_the_text_form_is_one_line() -> None:
    code, output, _ = run(
        "s1", "--provider", "Slack", "--acknowledged-by", "x", "--acknowledgement-state", " Resolved "
    )
    assert code == 0
    assert output.strip() == "Go rollback drill notification acknowledgement: resolved (s1 / slack)"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("s1", "--acknowledged-by", "x"), "provider is required"),
        (("s1", "--provider", "slack"), "acknowledged_by is required"),
        (
            ("s1", "--provider", "slack", "--acknowledged-by", "x", "--acknowledgement-state", "done"),
            "acknowledgement_state must be acknowledged, dismissed, escalated, or resolved",
        ),
    ],
)
def test_bad_input_exits_non_zero_with_the_message_and_no_traceback(
    args: tuple[str, ...], message: str
) -> None:
    code, output, exception = run(*args)
    assert code == 2
    assert message in output
    assert "Traceback" not in output and exception is None
