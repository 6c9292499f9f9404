"""Pure rules of the reporting read models: history items of each event, the §3.9 source special case,
cursors, and the dashboard's derived figures."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from cavra_contracts.audit import (
    AUDIT_DELIVERY_PLAN_KIND,
    AUDIT_PACKAGE_KIND,
    AuditDeliveryPlannedV1,
    AuditPackageGeneratedV1,
)
from cavra_contracts.deliveries import AUDIT_SOURCE
from cavra_contracts.reporting import HistoryPosition, NotificationHistoryQueryV1
from cavra_reporting import domain, handlers
from cavra_reporting.domain import EventPosition, Item, RouteAck
from tests.integration import test_reporting_audit as audit_events
from tests.support import reporting_events as ev

AT = EventPosition(sequence=42, occurred_at=datetime(2026, 11, 1, 13, tzinfo=UTC))


def test_a_plan_is_one_item_and_its_routes_without_the_route_decisions_in_the_item() -> None:
    planned = ev.plan("sched-a", "gordn-a1", 0, owners=("a", "b"), providers=("slack", "teams"))
    change = domain.notification_planned(planned, AT)
    (item,) = change.items
    assert item.metadata_kind == "go-backend-rollback-drill-notification-plan"
    assert item.created_at == ev.at(0), "the plan's own time, not the event's"
    assert item.providers == ("slack", "teams")
    assert "route_decisions" not in item.document["plan"] and item.document["plan"]["route_count"] == 4
    assert change.plan is not None and len(change.plan.routes) == 4
    assert {r.route_id for r in change.plan.routes} == {d.route_id for d in planned.plan.route_decisions}
    assert change.lock_keys() == ["plan:gordn-a1", "schedule:sched-a"]


def test_a_delivery_record_is_redacted_and_small() -> None:
    planned = ev.plan(
        "sched-a", "gordn-a1", 0, owners=tuple(f"o{n}" for n in range(100)), providers=("slack",)
    )
    (item,) = domain.notification_delivered(ev.delivered(planned, failed=["slack"]), AT).items
    record = item.document
    assert record["metadata_kind"] == "release-connector-delivery"
    assert (record["delivery_success"], record["failed_providers"], record["route_count"]) == (
        False,
        ["slack"],
        100,
    )
    assert record["status_codes"] == [500] and record["outcome_counts"] == {"failed": 100}
    assert "deliveries" not in record["delivery"], "per-route evidence stays with the delivery service"
    assert len(json.dumps(record)) < 2000
    assert item.counters == (
        "deliveries:go_backend_rollback_drill_notification",
        "failed_deliveries:go_backend_rollback_drill_notification",
    )
    assert "success:false" in item.facets() and item.created_at == AT.occurred_at
    assert "provider:slack&success:false" in item.facets(), "pairs: a two-filter total is a counter"
    assert "alert:critical&provider:slack&success:false" in item.facets(), "and triples"
    assert not [f for f in item.facets() if f.count("provider:") > 1], "one provider per filter"


def test_acknowledgement_items_keep_the_actor_name_role_and_method_only() -> None:
    planned = ev.plan("sched-a", "gordn-a1", 0)
    change = domain.acknowledgements_recorded(
        ev.acks(planned, "dismissed", ["slack", "teams"], 5, bulk_id="x"), AT
    )
    assert [i.ordinal for i in change.items] == [0, 1]
    assert change.items[0].document["acknowledgement"]["actor"] == {
        "actor": "release-manager",
        "role": "operator",
        "method": "api_token",
    }
    assert [a.state for a in change.acks] == ["dismissed", "dismissed"]
    assert change.lock_keys() == ["schedule:sched-a"]


def test_the_latest_acknowledgement_of_a_route_in_one_event_wins_by_time_then_place() -> None:
    early, late = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)
    acks = [
        RouteAck("r1", "resolved", late, 0),
        RouteAck("r1", "escalated", early, 1),
        RouteAck("r2", "a", late, 2),
    ]
    assert [(a.route_id, a.state) for a in domain.latest_per_route(acks)] == [("r1", "resolved"), ("r2", "a")]
    tied = [RouteAck("r1", "resolved", late, 0), RouteAck("r1", "escalated", late, 1)]
    assert domain.latest_per_route(tied)[0].state == "escalated"


@pytest.mark.parametrize(
    ("kind", "source", "key"),
    [
        ("go-backend-rollback-drill-acknowledgement-audit-package", "", AUDIT_SOURCE),
        ("go-backend-rollback-drill-acknowledgement-audit-delivery-retry-plan", "", AUDIT_SOURCE),
        ("release-connector-delivery", AUDIT_SOURCE, AUDIT_SOURCE),
        (
            "release-connector-delivery",
            "go_backend_rollback_drill_notification",
            "go_backend_rollback_drill_notification",
        ),
        ("go-backend-rollback-drill-notification-ack", "", ""),
    ],
)
def test_the_audit_delivery_source_also_matches_every_acknowledgement_audit_kind(
    kind: str, source: str, key: str
) -> None:
    item = Item("i", kind, AT.occurred_at, 0, {}, connector_delivery_source=source)
    assert item.source_key == key


def test_an_escalation_marks_its_route_and_a_reminder_only_warns() -> None:
    planned = ev.plan("sched-b", "gordn-b1", 0, providers=("slack",))
    escalation, job = ev.escalated(planned, "slack", 40)
    change = domain.route_escalated(escalation, AT)
    assert change.escalations == ((escalation.route_id, "escalation"),)
    assert change.items[0].alert_level == "critical"
    reminder, _ = ev.escalated(planned, "slack", 20, kind="reminder")
    assert domain.route_escalated(reminder, AT).items[0].alert_level == "warning"
    (delivery,) = domain.message_delivered(job, AT).items
    assert (delivery.plan_id, delivery.schedule_id) == ("gordn-b1", ""), "the schedule comes from the plan"
    assert delivery.document["job_id"] == job.job_id


def test_cursors_round_trip_and_refuse_anything_else() -> None:
    position = HistoryPosition(datetime(2026, 11, 1, 12, 0, 0, 123456, tzinfo=UTC), 17, 3)
    assert position.cursor() == "1793534400123456.17.3"
    assert HistoryPosition.from_cursor(position.cursor()) == position
    for bad in ["", "1.2", "a.b.c", "1.2.3.4", "99999999999999999999.1.1", "1.2.1234567"]:
        with pytest.raises(ValueError):
            HistoryPosition.from_cursor(bad)
    with pytest.raises(ValidationError, match="cursor"):
        NotificationHistoryQueryV1(cursor="9999999999999999999.1.1")
    assert NotificationHistoryQueryV1(cursor=position.cursor()).position() == position


def test_dashboard_figures() -> None:
    assert domain.success_rate(2, 3) == 0.6667 and domain.success_rate(0, 0) is None
    assert domain.alert_level(0, 0) == "healthy"
    assert domain.alert_level(1, 0) == domain.alert_level(0, 1) == "critical"


def test_an_audit_package_is_one_item_under_the_audit_source_with_its_filters_schedule_and_provider() -> None:
    audit = audit_events.package("gordackaudit-1", 5, sequence=4, schedule_id="sched-a", provider="webhook")
    (item,) = domain.audit_package_generated(audit, AT).items
    assert (item.item_id, item.metadata_kind) == ("gordackaudit-1", AUDIT_PACKAGE_KIND)
    assert (item.schedule_id, item.providers, item.alert_level) == ("sched-a", ("webhook",), "critical")
    assert item.created_at == ev.at(5), "the package's own time"
    assert item.source_key == AUDIT_SOURCE and item.delivery_success is None
    document = item.document
    assert (document["audit_id"], document["sequence"], document["outstanding_count"]) == (
        "gordackaudit-1",
        4,
        1,
    )
    assert document["acknowledgement_audit_package"]["actor"] == {
        "actor": "release-manager",
        "role": "operator",
        "method": "api_token",
    }
    assert "tok-1" not in json.dumps(document), "never the token's subject"
    every = audit_events.package("gordackaudit-2", 5, sequence=5)
    assert domain.audit_package_generated(every, AT).items[0].providers == ()


def test_an_audit_delivery_plan_is_one_item_whose_providers_count_as_audit_providers() -> None:
    audit = audit_events.package("gordackaudit-1", 5, sequence=1)
    planned = audit_events.delivery_plan(audit, "gordackdelivery-1", ["siem", "webhook"], cadence="hourly")
    (item,) = domain.audit_delivery_planned(planned, AT).items
    assert (item.item_id, item.metadata_kind, item.created_at) == (
        "gordackdelivery-1",
        AUDIT_DELIVERY_PLAN_KIND,
        AT.occurred_at,
    )
    assert item.providers == ("siem", "webhook") and item.source_key == AUDIT_SOURCE
    assert item.counters == ("audit_provider:siem", "audit_provider:webhook")
    document = item.document
    assert (document["delivery_id"], document["audit_id"], document["cadence"]) == (
        "gordackdelivery-1",
        "gordackaudit-1",
        "hourly",
    )
    assert document["acknowledgement_audit_delivery_plan"]["destination_count"] == 2
    assert f"provider:siem&source:{AUDIT_SOURCE}" in item.facets(), "the #41 filter pair is a counter"
    (delivery,) = domain.message_delivered(audit_events.audit_delivered(planned, failed=["siem"]), AT).items
    assert delivery.document["delivery_id"] == "gordackdelivery-1" == delivery.document["event_id"]
    assert delivery.counters == (
        f"deliveries:{AUDIT_SOURCE}",
        f"failed_deliveries:{AUDIT_SOURCE}",
        "audit_provider:siem",
        "audit_provider:webhook",
    )


def test_every_audit_event_the_read_models_read_has_a_change() -> None:
    assert handlers.CHANGES[AuditPackageGeneratedV1] is domain.audit_package_generated
    assert handlers.CHANGES[AuditDeliveryPlannedV1] is domain.audit_delivery_planned
