"""The audit package of spec §3.11 / §4.4 from route rows, its delivery plan and delivery job."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cavra_acknowledgement.audit import package
from cavra_acknowledgement.audit.package import RouteRow
from cavra_contracts.actors import ActorV1
from cavra_contracts.audit import (
    AUDIT_DELIVERY_EVENT_TYPE,
    AuditFiltersV1,
    cadence_minutes,
    unconfigured_providers,
)
from cavra_contracts.deliveries import AUDIT_SOURCE, MAX_JOB_DATA_BYTES, DeliverMessageV1
from cavra_contracts.notifications import DeliveryOptions

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
ACTOR = ActorV1(actor="release-manager", role="operator", method="api_token", subject="tok-1")


def row(route_id: str, provider: str, owner: str, state: str = "outstanding", **extra: object) -> RouteRow:
    acked = state != "outstanding"
    return RouteRow(
        route_id=route_id,
        schedule_id="go_backend_stale_schedule",
        plan_id="gordn-1",
        provider=provider,
        owner=owner,
        escalation_owner="platform-director",
        route_created_at=NOW - timedelta(hours=1),
        state=state,
        acknowledgement_id=f"gordack-{route_id}" if acked else "",
        acknowledged_by="release-manager" if acked else "",
        acknowledged_at=NOW - timedelta(minutes=5) if acked else None,
        **extra,  # type: ignore[arg-type]
    )


def test_an_acknowledged_route_is_counted_and_shown_with_its_ack() -> None:
    rows = [row("r1", "slack", "release-governance", "acknowledged", external_ref="CHG-123", notes="paged")]
    built = package.build_package(
        rows, filters=AuditFiltersV1(owner="release-governance"), actor=ACTOR, now=NOW, sequence=1
    )
    assert built["schema_version"] == "cavra.go-backend-pilot.rollback-drill-acknowledgement-audit-package.v1"
    assert (built["route_count"], built["acknowledged_count"], built["outstanding_count"]) == (1, 1, 0)
    assert built["alert_level"] == "healthy"
    first = built["routes"][0]
    assert (first["acknowledged_by"], first["external_ref"], first["notes"]) == (
        "release-manager",
        "CHG-123",
        "paged",
    )
    assert first["acknowledged"] is True and first["route_action"] == "deliver"
    assert (
        built["audit_id"].startswith("gordackaudit-") and len(built["audit_id"]) == len("gordackaudit-") + 16
    )
    assert built["generated_by"] == "release-manager"
    assert built["plans"] == [{"schedule_id": "go_backend_stale_schedule", "plan_id": "gordn-1"}]
    assert len(built["controls"]) == 3


def test_escalated_and_dismissed_routes_stay_outstanding_and_make_the_package_critical() -> None:
    rows = [
        row("r1", "slack", "a", "escalated"),
        row("r2", "teams", "a", "dismissed"),
        row("r3", "jira", "b", "resolved"),
        row("r4", "webhook", "b"),
    ]
    built = package.build_package(rows, filters=AuditFiltersV1(), actor=ACTOR, now=NOW, sequence=1)
    assert {k: built[k] for k in ("escalated_count", "dismissed_count", "resolved_count")} == {
        "escalated_count": 1,
        "dismissed_count": 1,
        "resolved_count": 1,
    }
    assert built["outstanding_count"] == 3
    assert built["acknowledgement_count"] == 3
    assert built["alert_level"] == "critical"
    assert [r["acknowledgement_state"] for r in built["routes"]][-1] in {"outstanding", "resolved"}


def test_an_empty_package_is_healthy_and_every_package_has_its_own_id() -> None:
    first = package.build_package([], filters=AuditFiltersV1(), actor=ACTOR, now=NOW, sequence=1)
    later = package.build_package(
        [], filters=AuditFiltersV1(), actor=ACTOR, now=NOW + timedelta(seconds=1), sequence=1
    )
    assert first["alert_level"] == "healthy" and first["route_count"] == 0
    next_in_chain = package.build_package([], filters=AuditFiltersV1(), actor=ACTOR, now=NOW, sequence=2)
    assert len({first["audit_id"], later["audit_id"], next_in_chain["audit_id"]}) == 3
    assert package.build_package([], filters=AuditFiltersV1(), actor=ACTOR, now=NOW, sequence=1) == first


def test_the_delivery_plan_keeps_requested_providers_in_available_order() -> None:
    built = package.build_package(
        [row("r1", "slack", "a")], filters=AuditFiltersV1(), actor=ACTOR, now=NOW, sequence=1
    )
    plan = package.build_delivery_plan(
        built,
        requested="jira,splunk",
        available=["splunk", "jira", "webhook"],
        cadence="hourly",
        schedule_ref="release-governance-hourly",
        next_delivery_at="2026-12-01T13:00:00+00:00",
        now=NOW,
    )
    assert plan["selected_providers"] == ["splunk", "jira"]
    assert plan["requested_providers"] == ["jira", "splunk"]
    assert plan["cadence"] == "hourly" and plan["destination_count"] == 2
    assert plan["delivery_id"].startswith("gordackdelivery-")
    assert package.build_delivery_plan(
        built,
        requested="all",
        available=[],
        cadence="on_demand",
        schedule_ref="",
        next_delivery_at="",
        now=NOW,
    )["selected_providers"] == ["webhook"]
    assert unconfigured_providers("splunk, Pager-Duty", ["splunk", "webhook"]) == ["pager_duty"]
    assert unconfigured_providers("all", []) == []


def on_demand_job(
    rows: list[RouteRow], requested: str, *, sequence: int, signed_sequence: int, options: DeliveryOptions
) -> tuple[dict[str, Any], dict[str, Any], DeliverMessageV1]:
    """A package of ``rows``, its on-demand delivery plan to splunk, and the delivery job of both."""
    built = package.build_package(rows, filters=AuditFiltersV1(), actor=ACTOR, now=NOW, sequence=sequence)
    plan = package.build_delivery_plan(
        built,
        requested=requested,
        available=["splunk"],
        cadence="on_demand",
        schedule_ref="",
        next_delivery_at="",
        now=NOW,
    )
    signature = {
        "audit_id": built["audit_id"],
        "sequence": signed_sequence,
        "payload_sha256": "ab" * 32,
        "key_id": "cd" * 32,
    }
    return built, plan, package.delivery_job(built, plan, signature, options)


def test_the_delivery_job_routes_carry_no_notes() -> None:
    rows = [row("r1", "splunk", "a", "acknowledged", notes="customer ACME called")]
    built, plan, job = on_demand_job(
        rows, "splunk", sequence=1, signed_sequence=7, options=DeliveryOptions(retries=0)
    )
    assert job.source == AUDIT_SOURCE and job.job_id == plan["delivery_id"]
    assert [t.provider for t in job.targets] == ["splunk"]
    data = job.content.data
    assert data["event_type"] == AUDIT_DELIVERY_EVENT_TYPE == job.content.event_type
    assert "notes" not in data["routes"][0] and "customer ACME" not in job.model_dump_json()
    assert data["signed_package"]["sequence"] == 7
    assert (
        data["description"]
        == f"Audit package {built['audit_id']} has 0 outstanding route(s) and 0 escalated route(s)."
    )
    assert data["max_severity"] == "low" and data["blocked_count"] == 0


@pytest.mark.parametrize(
    ("cadence", "minutes"),
    [("on_demand", None), ("hourly", 60), ("daily", 1440), ("weekly", 10080), ("every_15_minutes", 15)],
)
def test_cadences(cadence: str, minutes: int | None) -> None:
    assert cadence_minutes(cadence) == minutes


@pytest.mark.parametrize("cadence", ["monthly", "every_0_minutes", "every_99999_minutes", ""])
def test_unknown_cadences_are_refused(cadence: str) -> None:
    with pytest.raises(ValueError, match="cadence"):
        cadence_minutes(cadence)


def test_a_large_package_is_delivered_with_the_routes_that_fit_and_says_how_many_are_omitted() -> None:
    rows = [row(f"gordroute-{n:04d}", "splunk", f"owner-{n:04d}-" + "x" * 60) for n in range(400)]
    _, _, job = on_demand_job(rows, "all", sequence=3, signed_sequence=3, options=DeliveryOptions())
    data = job.content.data
    assert 0 < data["routes_included"] < 400 and data["routes_included"] + data["routes_omitted"] == 400
    assert data["routes"][0]["route_id"] == "gordroute-0000"
    assert len(json.dumps(data, separators=(",", ":"))) <= MAX_JOB_DATA_BYTES
    assert data["audit_package_summary"]["route_count"] == 400
