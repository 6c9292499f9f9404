"""Worker health rules (spec §3.14, §4.7, cases 49-50) and the alert plan's provider selection: pure."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from cavra_contracts.actors import system_actor
from cavra_contracts.families import family_spec
from cavra_contracts.health import HealthWindowV1, health_names
from cavra_contracts.notifications import DeliveryOptions
from cavra_delivery.commands import Rejected
from cavra_delivery.health import alerts, domain, records
from cavra_delivery.health.domain import HealthFacts

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def audit_health(facts: HealthFacts, *, now: datetime = NOW, expected: int = 30, stale: int = 120) -> dict:
    return domain.evaluate(
        facts,
        health_names("audit"),
        family_spec("audit"),
        expected=expected,
        stale=stale,
        now=now,
        generated_by="tester",
    )


def working(**changes: object) -> HealthFacts:
    """A worker that ran and planned just now, with nothing wrong."""
    values: dict[str, object] = {
        "run_count": 3,
        "latest_run_id": "gordackworker-0000000000000001",
        "latest_run_at": NOW,
        "retry_plan_count": 3,
        "latest_retry_plan_id": "gordackretry-0000000000000001",
        "latest_retry_plan_at": NOW,
    }
    values.update(changes)
    return HealthFacts(**values)  # type: ignore[arg-type]


def categories(health: dict) -> list[str]:
    return [alert["category"] for alert in health["alerts"]]


def test_no_worker_run_at_all_is_a_missed_run_and_critical_and_no_plan_is_stale() -> None:
    health = audit_health(HealthFacts())
    assert health["missed_run_count"] == 1
    assert health["stale_retry_plan_count"] == 1
    assert health["alert_level"] == "critical"
    missed = health["alerts"][0]
    assert missed == {
        "severity": "critical",
        "category": "missed_worker_run",
        "count": 1,
        "message": "No acknowledgement audit retry worker run completed inside the expected schedule window.",
    }
    assert "stale_retry_plan" in categories(health)
    assert (
        health["schema_version"]
        == "cavra.go-backend-pilot.rollback-drill-acknowledgement-audit-delivery-worker-health.v1"
    )
    assert (
        health["health_id"].startswith("gordackhealth-")
        and len(health["health_id"]) == len("gordackhealth-") + 16
    )


def test_a_run_exactly_twice_the_interval_old_is_not_missed_one_second_more_is() -> None:
    facts = working(latest_run_at=NOW - timedelta(minutes=60))
    on_the_boundary = audit_health(facts)
    assert on_the_boundary["missed_after_minutes"] == 60
    assert on_the_boundary["latest_run_age_minutes"] == 60.0
    assert on_the_boundary["missed_run_count"] == 0 and on_the_boundary["alert_level"] == "healthy"
    past = audit_health(facts, now=NOW + timedelta(seconds=1))
    assert past["missed_run_count"] == 1 and past["alert_level"] == "critical"


def test_a_retry_plan_exactly_stale_minutes_old_is_not_stale_past_it_is() -> None:
    facts = working(latest_run_at=NOW + timedelta(minutes=120), latest_retry_plan_at=NOW)
    assert audit_health(facts, now=NOW + timedelta(minutes=120))["stale_retry_plan_count"] == 0
    later = audit_health(facts, now=NOW + timedelta(minutes=120, seconds=1))
    assert later["stale_retry_plan_count"] == 1 and later["alert_level"] == "warning"
    assert categories(later) == ["stale_retry_plan"]


def test_retryable_deliveries_and_connector_failures_are_warnings() -> None:
    health = audit_health(working(retryable_count=1, connector_failure_count=1))
    assert health["alert_level"] == "warning"
    assert health["retryable_count"] == 1 and health["connector_delivery_failure_count"] == 1
    assert categories(health) == ["retryable_deliveries", "connector_failure"]
    assert health["alerts"][0]["message"] == "1 failed acknowledgement audit deliveries remain retryable."


def test_failed_or_skipped_executions_are_critical_and_disabled_schedules_warn() -> None:
    health = audit_health(working(failed_execution_count=2, schedule_enabled=False, pending_count=1))
    assert health["alert_level"] == "critical"
    assert health["failed_job_count"] == 2 and health["disabled_schedule_count"] == 1
    assert health["approval_pending_count"] == 1
    assert categories(health) == ["failed_worker_run", "disabled_schedule", "approval_pending"]


def test_the_health_id_names_the_situation_not_the_time() -> None:
    facts = working(retryable_count=2)
    first = audit_health(facts)
    later = audit_health(facts, now=NOW + timedelta(minutes=20))
    assert first["generated_at"] != later["generated_at"]
    assert first["health_id"] == later["health_id"]
    assert audit_health(working(retryable_count=3))["health_id"] != first["health_id"]
    other_run = working(retryable_count=2, latest_run_id="gordackworker-0000000000000002")
    assert audit_health(other_run)["health_id"] != first["health_id"]
    # the same situation in another family is another health
    recovery = domain.evaluate(
        facts,
        health_names("recovery_escalation"),
        family_spec("recovery_escalation"),
        expected=30,
        stale=120,
        now=NOW,
        generated_by="tester",
    )
    assert recovery["health_id"] != first["health_id"]


def test_the_recovery_and_executive_families_answer_with_the_retry_health_names() -> None:
    facts = HealthFacts(failed_execution_count=1, pending_count=2, connector_failure_count=1)
    recovery = domain.evaluate(
        facts,
        health_names("recovery_escalation"),
        family_spec("recovery_escalation"),
        expected=30,
        stale=120,
        now=NOW,
        generated_by="tester",
    )
    assert recovery["schema_version"].endswith("-recovery-escalation-retry-health.v1")
    assert recovery["health_id"].startswith("gordackrecoveryeschealth-")
    for name in (
        "worker_run_count",
        "latest_worker_run_id",
        "latest_worker_age_minutes",
        "missed_worker_count",
        "acknowledgement_pending_count",
        "failed_recovery_escalation_delivery_count",
        "failed_execution_count",
        "delivered_execution_count",
        "recommended_actions",
    ):
        assert name in recovery, name
    assert "run_count" not in recovery and "failed_job_count" not in recovery
    assert categories(recovery) == [
        "missed_recovery_escalation_retry_worker",
        "failed_recovery_escalation_retry_execution",
        "recovery_escalation_connector_failure",
        "stale_recovery_escalation_retry_plan",
        "recovery_escalation_acknowledgement_gap",
    ]
    executive = family_spec("executive_report")
    assert (executive.health_expected_interval_minutes, executive.health_stale_metadata_minutes) == (60, 180)


def test_a_provider_alerted_inside_the_window_is_suppressed_unless_forced() -> None:
    recent = {"webhook": NOW - timedelta(minutes=10)}
    selected, suppressed = domain.select_providers("warning", ["slack", "webhook"], recent, force=False)
    assert selected == ["slack"]
    assert suppressed == [{"provider": "webhook", "last_delivery_at": "2026-11-01T11:50:00+00:00"}]
    forced, none_held = domain.select_providers("warning", ["slack", "webhook"], recent, force=True)
    assert forced == ["slack", "webhook"] and none_held == []


def test_a_healthy_report_selects_nobody_even_when_forced() -> None:
    assert domain.select_providers("healthy", ["webhook"], {}, force=True) == ([], [])
    assert domain.select_providers("healthy", ["webhook"], {}, force=False) == ([], [])


def test_all_means_every_configured_connector_and_an_unserved_provider_is_refused() -> None:
    assert domain.eligible_providers("all", ["webhook", "splunk"], ["splunk", "webhook"]) == [
        "splunk",
        "webhook",
    ]
    assert domain.eligible_providers(" Ops-Hook ", ["ops_hook"], ["ops_hook", "webhook"]) == ["ops_hook"]
    assert domain.eligible_providers("webhook", ["ops_hook"], ["ops_hook", "webhook"]) == ["webhook"]
    with pytest.raises(Rejected) as refused:
        domain.eligible_providers("webhook,slack", ["webhook"], ["webhook"])
    assert (refused.value.status_code, refused.value.field) == (400, "provider")
    assert "slack" in refused.value.message


def test_the_plan_record_and_the_alert_job_carry_what_the_spec_names() -> None:
    names = health_names("audit")
    health = audit_health(HealthFacts(retryable_count=1))
    plan = records.plan_document(
        names,
        health,
        plan_id="gordackhealthalert-0000000000000001",
        job_id="gordackhealthalert-0000000000000001",
        now=NOW,
        generated_by="ops",
        requested="all",
        eligible=["slack", "webhook"],
        selected=["slack"],
        suppressed=[{"provider": "webhook", "last_delivery_at": "2026-11-01T11:50:00+00:00"}],
        window_minutes=60,
        force=False,
        max_alerts=1,
    )
    assert plan["summary"]["alert_count"] == 3 and plan["summary"]["omitted_alert_count"] == 2
    record = records.plan_record(
        names, plan, "go_backend_rollback_drill_acknowledgement_audit_worker_health_alert"
    )
    document = record.document()
    assert (
        document["metadata_kind"]
        == "go-backend-rollback-drill-acknowledgement-audit-delivery-worker-health-alert-plan"
    )
    assert (document["decision_count"], document["blocked_count"], document["approval_required_count"]) == (
        2,
        1,
        1,
    )
    assert document["suppressed_providers"] == ["webhook"] and document["health_id"] == health["health_id"]
    assert document["worker_health_alert_plan"] == plan
    event = records.alert_event(names, health, plan, max_alerts=1)
    assert event["event_type"] == "cavra.go_backend.rollback_drill.acknowledgement_audit_worker_health_alert"
    assert event["title"] == f"CAVRA rollback drill audit worker health critical: {health['health_id']}"
    assert len(event["alerts"]) == 1 and event["max_severity"] == "critical"
    job = records.delivery_job(
        names,
        event,
        job_id=plan["plan_id"],
        source="go_backend_rollback_drill_acknowledgement_audit_worker_health_alert",
        selected=["slack"],
        options=DeliveryOptions(retries=0),
    )
    assert [target.provider for target in job.targets] == ["slack"]
    assert job.targets[0].plan_id == plan["plan_id"] and job.content.data["health_id"] == health["health_id"]
    assert job.content.severity == "critical"


async def test_the_service_refuses_an_alert_without_a_connector_config_before_touching_the_database() -> None:
    request = alerts.AlertRequest(
        family="audit",
        window=HealthWindowV1(),
        provider="all",
        suppression_window_minutes=60,
        force=False,
        max_alerts=20,
        delivery=DeliveryOptions(),
        actor=system_actor("delivery"),
        trigger="api",
    )

    async def emit(_: object) -> None:
        raise AssertionError("nothing may be emitted")

    unconfigured = alerts.Connectors(configured=False, names=[], routable=[])
    with pytest.raises(Rejected) as refused:
        await alerts.plan_alert(None, request, unconfigured, command_id="c1", now=NOW, emit=emit)  # type: ignore[arg-type]
    assert (refused.value.status_code, refused.value.field) == (400, "CAVRA_CONNECTOR_CONFIG")
    unknown = alerts.Connectors(configured=True, names=["webhook"], routable=["webhook"])
    with pytest.raises(Rejected) as refused:
        await alerts.plan_alert(
            None,  # type: ignore[arg-type]
            replace(request, provider="Splunk"),
            unknown,
            command_id="c2",
            now=NOW,
            emit=emit,
        )
    assert refused.value.field == "provider" and "siem" in refused.value.message


def test_ids_derive_from_the_command_so_a_redelivery_names_the_same_records() -> None:
    names = health_names("recovery_escalation")
    assert alerts.derived_id(names.plan_prefix, "m1") == alerts.derived_id(names.plan_prefix, "m1")
    assert alerts.derived_id(names.plan_prefix, "m1") != alerts.derived_id(names.plan_prefix, "m2")
    assert alerts.derived_id(names.ack_prefix, "m1").startswith("gordackrecoveryhealthack-")
