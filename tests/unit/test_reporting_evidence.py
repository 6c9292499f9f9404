"""Recorded events in the reporting read models (pure rules): one function for every ``RecordedEvent``,
dashboard counters by metadata_kind from one table, the handler table built from the registry, and the
strict recovery SLO breach."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from cavra_contracts.evidence import EvidenceRecordV1, RecordedEvent
from cavra_contracts.families import AD_KIND, FAMILY_SPECS
from cavra_contracts.registry import CONTRACTS
from cavra_contracts.reporting import NotificationDashboardV1
from cavra_contracts.subjects import MessageSpec
from cavra_reporting import domain, handlers
from cavra_reporting.domain import EventPosition
from cavra_reporting.domain.evidence import (
    CLOSURE_KIND,
    EVIDENCE_COUNTER,
    KIND_COUNTERS,
    PLAYBOOK_KIND,
    evidence_fields,
    evidence_recorded,
)
from cavra_reporting.evidence_repository import breach_cutoff

T0 = datetime(2026, 11, 1, 12, tzinfo=UTC)
AT = EventPosition(sequence=7, occurred_at=T0)
AUDIT = FAMILY_SPECS["audit"]


class ThingRecordedV1(RecordedEvent):
    """A recorded event only this test knows."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt", "testing", "thing_recorded", "cavra.drillops.testing.thing-recorded.v1"
    )


def recorded(kind: str, session_id: str, *, minutes: float = 0, **fields: Any) -> ThingRecordedV1:
    hoisted = fields.pop("hoisted", {})
    payload = fields.pop("payload", {"schema_version": "x.v1"})
    record = EvidenceRecordV1(
        metadata_kind=kind,
        session_id=session_id,
        created_at=T0 + timedelta(minutes=minutes),
        signer="release-manager",
        payload_key="thing",
        payload=payload,
        hoisted=hoisted,
        **fields,
    )
    return ThingRecordedV1(record=record)


def test_a_record_is_one_history_item_named_by_its_session_id_with_its_filters() -> None:
    event = recorded(
        AUDIT.retry_plan_kind,
        "gordackretry-0001",
        providers=["webhook", "siem"],
        source=AUDIT.source,
        alert_level="critical",
        acknowledgement_state="Accepted",
        hoisted={"retry_plan_id": "gordackretry-0001", "retryable_count": 3, "audit_id": "gordackaudit-1"},
    )
    change = evidence_recorded(event, AT)
    (item,) = change.items
    assert (item.item_id, item.metadata_kind, item.created_at) == (
        "gordackretry-0001",
        AUDIT.retry_plan_kind,
        T0,
    )
    assert item.providers == ("siem", "webhook") and item.source_key == AUDIT.source
    assert item.acknowledgement_state == "accepted" and item.alert_level == "critical"
    assert item.replaceable and item.lookups() == ("gordackaudit-1", "", "")
    document = item.document
    assert document["metadata_kind"] == AUDIT.retry_plan_kind and document["retryable_count"] == 3
    assert document["thing"] == {"schema_version": "x.v1"} and document["session_id"] == "gordackretry-0001"
    assert change.lock_keys() == ["item:gordackretry-0001"]


def test_retry_plans_sum_their_retryable_count_and_worker_runs_count_dry_and_live() -> None:
    plan = evidence_recorded(recorded(AUDIT.retry_plan_kind, "p1", hoisted={"retryable_count": 4}), AT)
    counted = plan.items[0].counted()
    assert counted[f"kind:{AUDIT.retry_plan_kind}"] == 1
    assert counted[f"{EVIDENCE_COUNTER}acknowledgement_audit_delivery_retryable_count"] == 4
    no_flag = evidence_recorded(recorded(AUDIT.worker_run_kind, "r1"), AT).items[0].counted()
    live = evidence_recorded(recorded(AUDIT.worker_run_kind, "r2", hoisted={"dry_run": False}), AT)
    dry_field = f"{EVIDENCE_COUNTER}acknowledgement_audit_delivery_worker_dry_run_count"
    executed_field = f"{EVIDENCE_COUNTER}acknowledgement_audit_delivery_worker_executed_count"
    assert no_flag[dry_field] == 1 and executed_field not in no_flag, "a run without dry_run is dry"
    assert live.items[0].counted()[executed_field] == 1 and dry_field not in live.items[0].counted()


def test_execution_records_count_by_status_in_every_family() -> None:
    for spec in FAMILY_SPECS.values():
        row = KIND_COUNTERS[spec.execution_kind]
        success, failed = (field for field, _ in row.matches)
        delivered = evidence_recorded(
            recorded(spec.execution_kind, "e1", hoisted={"execution_status": "delivered"}), AT
        ).items[0]
        skipped = evidence_recorded(
            recorded(spec.execution_kind, "e2", hoisted={"execution_status": "skipped"}), AT
        ).items[0]
        assert f"{EVIDENCE_COUNTER}{success}" in delivered.counters
        assert f"{EVIDENCE_COUNTER}{failed}" in skipped.counters, spec.name
        assert delivered.counted()[f"kind:{spec.execution_kind}"] == 1


def test_a_kind_outside_the_table_still_shows_in_history_and_counts_by_kind() -> None:
    (item,) = evidence_recorded(recorded("some-future-kind", "f1", hoisted={"retryable_count": 9}), AT).items
    assert item.counters == () and item.sums == ()
    assert item.counted()["kind:some-future-kind"] == 1


def test_the_table_reproduces_the_spec_dashboard_names() -> None:
    """Spec §3.10 / §8.6 case 55: the counters it names where they exist."""
    named = {
        "acknowledgement_audit_delivery_retry_plan_count",
        "acknowledgement_audit_delivery_retryable_count",
        "acknowledgement_audit_delivery_retry_ack_count",
        "acknowledgement_audit_delivery_retry_execution_approval_plan_count",
        "acknowledgement_audit_delivery_retry_execution_approval_decision_count",
        "acknowledgement_audit_delivery_retry_execution_approved_count",
        "acknowledgement_audit_delivery_retry_execution_record_count",
        "acknowledgement_audit_delivery_retry_execution_success_count",
        "acknowledgement_audit_delivery_retry_execution_failed_count",
        "acknowledgement_audit_delivery_connector_recovery_playbook_count",
        "acknowledgement_audit_delivery_connector_recovery_closure_count",
        "acknowledgement_audit_delivery_connector_recovery_closed_count",
        "acknowledgement_audit_delivery_retry_recovery_report_count",
        "acknowledgement_audit_delivery_recovery_escalation_plan_count",
        "acknowledgement_audit_delivery_recovery_escalation_route_count",
        "acknowledgement_audit_delivery_recovery_escalation_ack_count",
        "acknowledgement_audit_delivery_recovery_escalation_retry_plan_count",
        "acknowledgement_audit_delivery_recovery_escalation_retryable_count",
        "acknowledgement_audit_delivery_recovery_escalation_retry_worker_run_count",
        "acknowledgement_audit_delivery_recovery_escalation_retry_execution_record_count",
        "acknowledgement_audit_delivery_recovery_escalation_retry_execution_success_count",
        "acknowledgement_audit_delivery_recovery_escalation_retry_execution_failed_count",
        "acknowledgement_audit_delivery_recovery_escalation_retry_health_count",
        "acknowledgement_audit_delivery_recovery_escalation_retry_health_alert_count",
        "acknowledgement_audit_delivery_recovery_escalation_retry_health_alert_plan_count",
        "acknowledgement_audit_delivery_recovery_escalation_retry_health_alert_ack_count",
        "acknowledgement_audit_delivery_recovery_executive_report_count",
        "acknowledgement_audit_delivery_recovery_executive_report_schedule_run_count",
        "acknowledgement_audit_delivery_recovery_executive_report_delivery_count",
        "failed_acknowledgement_audit_delivery_recovery_executive_report_delivery_count",
        "acknowledgement_audit_delivery_worker_run_count",
        "acknowledgement_audit_delivery_worker_dry_run_count",
        "acknowledgement_audit_delivery_worker_executed_count",
        "acknowledgement_audit_delivery_worker_health_alert_count",
        "acknowledgement_audit_delivery_worker_health_alert_ack_count",
    }
    assert named - set(evidence_fields()) == set()


def test_every_family_kind_and_every_named_kind_has_a_row() -> None:
    kinds = {
        k
        for spec in FAMILY_SPECS.values()
        for k in (spec.retry_plan_kind, spec.worker_run_kind, spec.execution_kind)
    }
    kinds |= {
        f"{AD_KIND}-{suffix}"
        for suffix in (
            "retry-ack",
            "retry-execution-approval-plan",
            "retry-execution-approval-decision",
            "connector-recovery-playbook",
            "connector-recovery-closure",
            "recovery-escalation-plan",
            "recovery-escalation-ack",
            "worker-health-alert-plan",
            "worker-health-alert-ack",
            "recovery-escalation-retry-health-alert-plan",
            "recovery-escalation-retry-health-alert-ack",
            "recovery-executive-report-delivery-retry-health-alert-plan",
            "recovery-executive-report-delivery-retry-health-alert-ack",
            "recovery-executive-report",
            "recovery-executive-report-schedule-run",
        )
    }
    assert kinds - set(KIND_COUNTERS) == set()
    fields = list(evidence_fields())
    assert len(fields) == len(set(fields)), "two kinds would write one dashboard field"


def test_every_table_field_is_a_dashboard_field() -> None:
    dashboard = NotificationDashboardV1.model_fields
    assert set(evidence_fields()) - set(dashboard) == set()
    assert all(dashboard[field].default == 0 for field in evidence_fields()), "optional: added fields only"


def test_a_playbook_opens_a_recovery_per_provider_and_a_closure_closes_one() -> None:
    playbook = recorded(
        PLAYBOOK_KIND,
        "gordackrecovery-1",
        hoisted={"playbook_id": "gordackrecovery-1", "provider_count": 2},
        payload={
            "generated_at": (T0 + timedelta(minutes=1)).isoformat(),
            "provider_playbooks": [
                {"provider": "webhook", "category": "webhook", "failure_count": 3},
                {"provider": "splunk", "category": "siem", "failure_count": 2},
                {"category": "no provider: ignored"},
            ],
        },
    )
    change = evidence_recorded(playbook, AT)
    assert change.evidence is not None
    assert [(r.provider, r.generated_at) for r in change.evidence.recoveries] == [
        ("splunk", T0 + timedelta(minutes=1)),
        ("webhook", T0 + timedelta(minutes=1)),
    ]
    assert change.lock_keys() == ["item:gordackrecovery-1", "recovery:gordackrecovery-1"]
    closure = recorded(
        CLOSURE_KIND,
        "gordackrecoveryclosure-1",
        minutes=30,
        hoisted={"playbook_id": "gordackrecovery-1", "provider": "webhook", "closure_state": "resolved"},
    )
    closed = evidence_recorded(closure, AT)
    assert closed.evidence is not None
    (row,) = closed.evidence.closures
    assert (row.playbook_id, row.provider, row.state, row.closed_at) == (
        "gordackrecovery-1",
        "webhook",
        "resolved",
        T0 + timedelta(minutes=30),
    )
    assert f"{EVIDENCE_COUNTER}acknowledgement_audit_delivery_connector_recovery_closed_count" in (
        closed.items[0].counters
    )
    assert closed.lock_keys() == ["item:gordackrecoveryclosure-1", "recovery:gordackrecovery-1"]


def test_a_breach_is_strict() -> None:
    """Spec §8.6 case 56: a recovery exactly as old as the SLO (in whole minutes) is open, not breached."""
    now = T0 + timedelta(hours=10)
    cutoff = breach_cutoff(now, 240)
    at_slo = now - timedelta(minutes=240, seconds=59)
    past_slo = now - timedelta(minutes=241)
    assert at_slo > cutoff, "age 240 min (floor) is not > 240: still open"
    assert past_slo <= cutoff, "age 241 min is breached"


def test_the_consumer_reads_every_recorded_event_of_the_registry() -> None:
    recorded_in_registry = {c for c in CONTRACTS if issubclass(c, RecordedEvent)}
    assert recorded_in_registry <= set(handlers.EVENTS)
    assert all(handlers.CHANGES[c] is domain.evidence_recorded for c in recorded_in_registry)
    table = handlers.recorded_events([*CONTRACTS, ThingRecordedV1, RecordedEvent, EvidenceRecordV1])
    assert ThingRecordedV1 in table and RecordedEvent not in table and EvidenceRecordV1 not in table
    events = handlers.event_table({**handlers.CHANGES, **table})
    assert {c.MESSAGE.subject for c in events} >= {
        ThingRecordedV1.MESSAGE.subject,
        *(c.MESSAGE.subject for c in handlers.EVENTS),
    }
