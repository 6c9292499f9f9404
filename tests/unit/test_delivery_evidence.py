"""A route's evidence: what the connector layer reports becomes one outcome; the record round trip."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from cavra_contracts.notifications import RouteDeliveryV1
from cavra_delivery import records
from cavra_delivery.connectors.http import AttemptEvidence, DeliveryOutcome
from cavra_delivery.evidence import RouteOutcome

START = datetime(2026, 11, 1, 12, tzinfo=UTC)
ROUTE = RouteOutcome(
    delivery_id="gordn-1:gordrk-1:jira",
    plan_id="gordn-1",
    route_id="gordroute-1",
    route_key="gordrk-1",
    schedule_id="payments",
    provider="jira",
    owner="platform",
    connector="jira",
    connector_type="jira",
    target_host="jira.example",
    status="unconfigured",
    completed_at=START,
)


def test_an_ended_route_keeps_its_identity_and_takes_the_connectors_evidence() -> None:
    result = DeliveryOutcome(
        connector="jira",
        connector_type="jira",
        target_host="jira.example",
        outcome="delivered",
        attempts=(
            AttemptEvidence(1, 503, 12.5, "failed", "http_5xx", 1.0),
            AttemptEvidence(2, 201, 8.25, "delivered", None),
        ),
        idempotency_key=ROUTE.delivery_id,
        external_ref="OPS-7",
        deduplicated=False,
    )
    done = datetime(2026, 11, 1, 12, 0, 2, tzinfo=UTC)

    ended = ROUTE.ended(result, done)

    assert ended == replace(
        ROUTE,
        status="delivered",
        completed_at=done,
        attempts=tuple(result.as_evidence()["attempts"]),
        status_code=201,
        external_ref="OPS-7",
    )
    delivery = RouteDeliveryV1.model_validate(ended.as_delivery())
    assert (delivery.outcome, delivery.attempt_count, delivery.idempotency_key) == (
        "delivered",
        2,
        ROUTE.delivery_id,
    )
    assert ended.sent and not ROUTE.sent


def test_a_row_read_back_is_the_outcome_written() -> None:
    names = RouteOutcome.__dataclass_fields__
    row = {name: getattr(ROUTE, name) for name in names} | {"status": "quarantined", "attempts": []}
    assert RouteOutcome.from_row(row) == replace(ROUTE, status="quarantined")


def test_the_stored_record_leaves_its_deliveries_to_the_rows_and_gets_them_back() -> None:
    deliveries = [ROUTE.as_delivery()]
    full = records.delivery_record(
        {"plan_id": "gordn-1", "schedule_id": "payments"}, deliveries, source="src", generated_at="t"
    )

    stored = records.without_deliveries(full)

    assert "deliveries" not in stored["delivery"] and stored["providers"] == ["jira"]
    assert records.with_deliveries(stored, deliveries) == full
    assert records.with_deliveries(full, []) == full, "a record stored whole is returned as it is"
