"""Providers are modules registered in one table; the loader and the exchange need nothing else."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import pytest

from cavra_delivery.connectors import Notification, parse_connector_config, providers
from cavra_delivery.connectors.model import ConnectorConfig
from cavra_delivery.connectors.payloads import HttpRequest, base_headers, url_of
from cavra_delivery.connectors.providers.base import EntryProblem, Provider

NOTE = Notification(
    notification_id="n-1",
    kind="rollback_drill_notification",
    title="CAVRA Go rollback drill schedule critical",
    text="stale",
    severity="critical",
    facts=(("Owner", "ops"),),
    dedup_key="dedup",
    route_id="gordroute-0001",
    owner="ops",
    event={"id": "n-1"},
)
MINIMAL = {
    "slack": {"url": "https://hooks.slack.com/services/T/B/x"},
    "teams": {"url": "https://teams.example/workflows/1"},
    "jira": {"url": "https://acme.atlassian.net", "token": "t", "project_key": "OPS"},
    "servicenow": {"url": "https://acme.service-now.com", "token": "t"},
    "webhook": {"url": "https://hooks.acme.test/drill"},
    "siem": {"url": "https://splunk.acme.test:8088", "token": "t"},
}


def test_every_registered_provider_loads_and_builds_its_requests() -> None:
    assert set(MINIMAL) == set(providers.PROVIDERS) == providers.CONNECTOR_TYPES
    loaded = parse_connector_config(MINIMAL, environ={})
    assert loaded.problems == {} and loaded.names() == sorted(MINIMAL)
    now = datetime(2026, 11, 1, tzinfo=UTC)
    for name, connector in loaded.connectors.items():
        steps = providers.build_requests(connector, NOTE, "key-1", now)
        assert steps and all(step.headers["Idempotency-Key"] == "key-1" for step in steps), name


def test_a_provider_is_one_module_registered_in_one_table(monkeypatch: pytest.MonkeyPatch) -> None:
    def check(secrets: Mapping[str, str], options: Mapping[str, str]) -> None:
        if "token" not in secrets:
            raise EntryProblem("must configure token (the Events v2 routing key)")

    def build(connector: ConnectorConfig, note: Notification, key: str, now: datetime) -> list[HttpRequest]:
        body = {
            "routing_key": connector.secret("token"),
            "dedup_key": note.dedup_key,
            "event_action": "trigger",
        }
        return [HttpRequest("POST", url_of(connector), base_headers(key), json_body=body)]

    pagerduty = Provider(
        type="pagerduty", build=build, check=check, aliases=("pd",), option_keys=("severity",)
    )
    monkeypatch.setitem(providers.PROVIDERS, "pagerduty", pagerduty)  # type: ignore[index]
    monkeypatch.setitem(providers.TYPE_ALIASES, "pd", "pagerduty")  # type: ignore[index]
    loaded = parse_connector_config(
        {
            "pd": {
                "type": "PD",
                "url": "https://events.pagerduty.test/v2/enqueue",
                "token": "rk",
                "severity": "x",
            },
            "pd_broken": {"type": "pagerduty", "url": "https://events.pagerduty.test/v2/enqueue"},
        },
        environ={},
    )
    assert loaded.connectors["pd"].type == "pagerduty" and loaded.connectors["pd"].options == {
        "severity": "x"
    }
    assert "routing key" in loaded.problems["pd_broken"]
    [step] = providers.build_requests(
        loaded.connectors["pd"], NOTE, "key-2", datetime(2026, 11, 1, tzinfo=UTC)
    )
    assert step.json_body["dedup_key"] == "dedup"
