"""``cavra retries``: the digest and the backoff, computed with the service's own rules."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from cavra_cli.main import app
from cavra_contracts.retries import retry_digest

runner = CliRunner()


def test_the_digest_is_the_one_approvals_are_bound_to() -> None:
    args = ["--family", "audit", "--delivery-id", "gordackdelivery-1", "--provider", "webhook"]
    result = runner.invoke(app, ["retries", "digest", *args, "--payload-hash", "a" * 64, "--attempt", "2"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == retry_digest("audit", "gordackdelivery-1", "webhook", "a" * 64, 2)
    unknown = runner.invoke(
        app, ["retries", "digest", "--family", "pagers", *args[2:], "--payload-hash", "a", "--attempt", "1"]
    )
    assert unknown.exit_code == 2 and "family must be one of" in unknown.output


def test_the_backoff_doubles_until_the_chain_is_suppressed() -> None:
    result = runner.invoke(app, ["retries", "backoff", "--policy", '{"max_retries": 3}', "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [(r["delay_minutes"], r["action_once_elapsed"]) for r in rows] == [
        (15.0, "retry"),
        (30.0, "retry"),
        (60.0, "suppress"),
    ]
    executive = json.loads(
        runner.invoke(app, ["retries", "backoff", "--family", "executive_report", "--json"]).output
    )
    assert executive[0]["delay_minutes"] == 30.0
    bad = runner.invoke(app, ["retries", "backoff", "--policy", '{"max_retries": 0}'])
    assert bad.exit_code == 2 and "max_retries" in bad.output
