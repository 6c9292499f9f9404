"""The retry budget comes from the request, else the connector config, else the service default."""

from __future__ import annotations

from cavra_contracts.notifications import DeliveryOptions
from cavra_delivery.connectors.config import parse_connector_config
from cavra_delivery.pipeline import retry_policy

CONFIG = {
    "connectors": {
        "patient": {"type": "webhook", "url": "https://hooks.example/a", "retries": 5, "timeout_seconds": 30},
        "plain": {"type": "webhook", "url": "https://hooks.example/b"},
        "bad": {"type": "webhook", "url": "https://hooks.example/c", "retries": "many"},
        "worse": {"type": "webhook", "url": "https://hooks.example/d", "timeout_seconds": 0},
    }
}


def test_request_wins_then_connector_then_default() -> None:
    connectors = parse_connector_config(CONFIG, {})
    patient, plain = connectors.connectors["patient"], connectors.connectors["plain"]
    from_request = retry_policy(DeliveryOptions(retries=0, timeout_seconds=1.5), patient, 2, 10.0)
    assert (from_request.max_attempts, from_request.timeout_seconds) == (1, 1.5)
    from_connector = retry_policy(DeliveryOptions(), patient, 2, 10.0)
    assert (from_connector.max_attempts, from_connector.timeout_seconds) == (6, 30.0)
    from_default = retry_policy(DeliveryOptions(), plain, 2, 10.0)
    assert (from_default.max_attempts, from_default.timeout_seconds) == (3, 10.0)


def test_bad_numbers_are_reported_for_that_connector_alone() -> None:
    connectors = parse_connector_config(CONFIG, {})
    assert connectors.names() == ["patient", "plain"]
    assert "retries" in connectors.problems["bad"]
    assert "timeout_seconds" in connectors.problems["worse"]


def test_evidence_carries_every_outcome_field_and_nothing_else() -> None:
    from dataclasses import asdict, fields

    from cavra_delivery.connectors.http import AttemptEvidence, DeliveryOutcome

    outcome = DeliveryOutcome(
        "hook",
        "webhook",
        "hooks.example",
        "failed",
        (
            AttemptEvidence(1, 503, 12.5, "failed", "http_5xx", 2.0),
            AttemptEvidence(2, None, 3.0, "failed", "timeout"),
        ),
        "plan:route:hook",
    )
    evidence = outcome.as_evidence()
    assert {k: v for k, v in evidence.items() if k in {f.name for f in fields(DeliveryOutcome)}} == {
        **asdict(outcome),
        "attempts": [asdict(a) for a in outcome.attempts],
    }
    assert set(evidence) - {f.name for f in fields(DeliveryOutcome)} == {"attempt_count", "status_code"}
    assert (evidence["attempt_count"], evidence["status_code"]) == (2, None)


def test_routes_find_connectors_by_normalised_name_then_by_type() -> None:
    from cavra_delivery.registry import connectors_for, routable_providers

    connectors = parse_connector_config(
        {
            "connectors": {
                "ops-slack": {"type": "slack", "url": "https://hooks.example/s"},
                "MS-Teams": {"type": "teams", "url": "https://hooks.example/t"},
                "audit": {"type": "siem", "url": "https://hec.example", "token": "t"},
                "audit-2": {"type": "splunk", "url": "https://hec2.example", "token": "t"},
            }
        },
        {},
    )
    assert [c.name for c in connectors_for(connectors, "ms_teams")] == ["MS-Teams"]
    assert [c.name for c in connectors_for(connectors, "slack")] == ["ops-slack"]
    assert [c.name for c in connectors_for(connectors, "siem")] == ["audit", "audit-2"]
    assert connectors_for(connectors, "pagerduty") == []
    assert routable_providers(connectors) == [
        "audit",
        "audit_2",
        "ms_teams",
        "ops_slack",
        "siem",
        "slack",
        "teams",
    ]
