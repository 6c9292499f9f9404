"""The pure rules of retries: policy and its aliases, backoff and decisions (spec §3.12, cases 45-46),
worker windows and the delivery clamp (§3.13, cases 47-48, the window aligned from midnight UTC for
intervals from 60 minutes on), the digest, the family gate of a live run (case 58: no approval, no
execution; a consumed, expired or other-digest approval is refused) and separation of duties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from cavra_contracts.approvals import approval_action, separation_problem
from cavra_contracts.families import FAMILY_SPECS
from cavra_contracts.retries import (
    RetryPolicyV1,
    WorkerScheduleV1,
    backoff_minutes,
    clamp_deliveries,
    decide,
    requested_dry_run,
    retry_digest,
    retry_job_id,
    sha256_hex,
    window,
)
from cavra_delivery.retries.records import evidence_refs, payload_key
from cavra_delivery.retries.workers import counting, follow_up, gate, next_due

AUDIT = FAMILY_SPECS["audit"]
EXECUTIVE = FAMILY_SPECS["executive_report"]
NOW = datetime(2026, 11, 1, 10, 47, 12, tzinfo=UTC)


def test_policy_defaults_aliases_and_family_delays() -> None:
    policy = RetryPolicyV1.model_validate({"max_retries": 5, "delay_minutes": 10, "multiplier": 3})
    assert (policy.max_retry_attempts, policy.retry_delay_minutes, policy.backoff_multiplier) == (5, 10, 3.0)
    assert RetryPolicyV1().base_delay(AUDIT) == 15 and RetryPolicyV1().base_delay(EXECUTIVE) == 30
    assert RetryPolicyV1(allow_immediate_retry=True).base_delay(AUDIT) == 0
    assert RetryPolicyV1(retry_delay_minutes=0).base_delay(AUDIT) == 1, "floor 1 unless immediate"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"max_retry_attempts": 0}, "max_retry_attempts"),
        ({"max_retries": 101}, "max_retries"),
        ({"backoff_multiplier": 0.5}, "backoff_multiplier"),
        ({"retry_delay_minutes": -1}, "retry_delay_minutes"),
        ({"retry_delay_minutes": "soon"}, "retry_delay_minutes"),
        ({"max_attempts": 3}, "max_attempts"),
    ],
)
def test_policy_bounds_name_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        RetryPolicyV1.model_validate(body)
    assert raised.value.errors()[0]["loc"][0] == field


def test_backoff_doubles_per_failure_and_waits_until_it_elapsed() -> None:  # spec case 45
    assert backoff_minutes(15, 2.0, 1) == 15 and backoff_minutes(15, 2.0, 2) == 30
    latest = NOW - timedelta(minutes=20)
    action, reason, delay, next_at = decide(
        retry_count=2,
        latest_failure_at=latest,
        now=NOW,
        max_retry_attempts=3,
        base_delay=15,
        multiplier=2,
        spec=AUDIT,
    )
    assert (action, reason, delay, next_at) == (
        "wait",
        "retry delay 30 minutes has not elapsed",
        30.0,
        latest + timedelta(minutes=30),
    )
    action, reason, *_ = decide(
        retry_count=2,
        latest_failure_at=NOW - timedelta(minutes=31),
        now=NOW,
        max_retry_attempts=3,
        base_delay=15,
        multiplier=2,
        spec=AUDIT,
    )
    assert (action, reason) == ("retry", "failed acknowledgement audit delivery is eligible for retry")


def test_the_maximum_attempts_suppress_a_chain() -> None:  # spec case 46
    action, reason, *_ = decide(
        retry_count=3,
        latest_failure_at=NOW,
        now=NOW,
        max_retry_attempts=3,
        base_delay=0,
        multiplier=2,
        spec=AUDIT,
    )
    assert (action, reason) == ("suppress", "maximum retry attempts 3 reached")


def test_windows_within_the_hour_and_from_midnight() -> None:  # spec case 47, §9 for >= 60
    assert window(NOW, 30) == (
        datetime(2026, 11, 1, 10, 30, tzinfo=UTC),
        datetime(2026, 11, 1, 11, 0, tzinfo=UTC),
    )
    assert window(NOW, 1440) == (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC))
    assert window(NOW, 120)[0] == datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
    assert window(NOW, 180)[0] == datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    assert WorkerScheduleV1(interval_minutes=30).cadence_name() == "every_30_minutes"


def test_max_retry_deliveries_is_clamped_and_dry_run_defaults_to_not_execute() -> None:  # case 48
    assert (clamp_deliveries(100), clamp_deliveries(0), clamp_deliveries(7)) == (25, 1, 7)
    assert requested_dry_run(None, False) is True and requested_dry_run(None, True) is False
    assert requested_dry_run(True, True) is True


def test_the_digest_binds_every_part_of_the_retry() -> None:
    base = ("audit", "gordackdelivery-1", "webhook", "a" * 64, 1)
    digest = retry_digest(*base)
    assert digest == sha256_hex(
        {
            "family": "audit",
            "origin_job_id": "gordackdelivery-1",
            "provider": "webhook",
            "payload_hash": "a" * 64,
            "attempt": 1,
        }
    )
    for index, other in enumerate(("notification", "gordackdelivery-2", "slack", "b" * 64, 2)):
        changed = list(base)
        changed[index] = other
        assert retry_digest(*changed) != digest  # type: ignore[arg-type]
    job_id = retry_job_id("gordackretryexec-0000000000000001")
    assert job_id.startswith("retry-") and len(job_id) == 22


def candidate(**changes: Any) -> dict[str, Any]:
    row = {
        "origin_job_id": "gordackdelivery-1",
        "provider": "webhook",
        "action": "retry",
        "reason": "failed acknowledgement audit delivery is eligible for retry",
        "retry_count": 1,
        "max_retry_attempts": 3,
        "retry_delay_minutes": 0,
        "latest_job_id": "gordackdelivery-1",
        "latest_delivery_at": NOW,
        "next_retry_at": NOW,
        "failed_status_codes": [503],
        "payload_hash": "a" * 64,
        "attempt": 1,
        "digest": "d1",
        "ids": {},
        "approval_id": "approval-1",
        "approved_digest": "d1",
        "approval_state": "approved",
        "execute_by": NOW + timedelta(minutes=30),
        "decision_id": "gordackretryapprovaldecision-1",
    }
    return row | changes


def test_a_live_approval_bound_run_selects_only_a_valid_approval_of_the_same_digest() -> None:
    chosen = gate(AUDIT, "run", [candidate()], dry_run=False, limit=5, now=NOW)
    assert [d["digest"] for d in chosen.selected] == ["d1"] and chosen.approval == {"d1": "approval-1"}
    assert chosen.selected[0]["approval_decision_id"] == "gordackretryapprovaldecision-1"
    assert not chosen.refused


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"approved_digest": "d0"}, "digest_mismatch"),
        ({"approval_state": "consumed"}, "approval_consumed"),
        ({"execute_by": NOW - timedelta(seconds=1)}, "approval_expired"),
        ({"approval_state": "expired"}, "approval_expired"),
    ],
)
def test_a_live_run_refuses_a_stale_consumed_or_expired_approval(
    changes: dict[str, Any], reason: str
) -> None:
    chosen = gate(AUDIT, "run", [candidate(**changes)], dry_run=False, limit=5, now=NOW)
    assert chosen.selected == []
    [refused] = chosen.refused
    assert (refused.reason, refused.digest, refused.run_id) == (reason, "d1", "run")
    announced = [e.approval_id for e in chosen.expired]
    assert announced == (["approval-1"] if changes.get("execute_by") else []), (
        "the timer announced the others"
    )


def test_without_an_approval_nothing_is_executed_and_dry_runs_need_none() -> None:  # spec case 58
    unapproved = candidate(approval_id=None, approved_digest=None, approval_state=None, execute_by=None)
    assert gate(AUDIT, "run", [unapproved], dry_run=False, limit=5, now=NOW).selected == []
    assert len(gate(AUDIT, "run", [unapproved] * 30, dry_run=True, limit=25, now=NOW).selected) == 25
    assert len(gate(EXECUTIVE, "run", [unapproved] * 3, dry_run=False, limit=2, now=NOW).selected) == 2, (
        "gate none"
    )


def test_follow_ups_speak_the_family_words() -> None:
    decision = gate(AUDIT, "run", [candidate()], dry_run=True, limit=1, now=NOW).selected[0]
    assert (
        follow_up(AUDIT, decision, dry_run=True, selected=set())["approval_state"] == "dry_run_not_required"
    )
    assert follow_up(AUDIT, decision, dry_run=False, selected={"d1"})["approval_state"] == "approved"
    assert follow_up(AUDIT, decision, dry_run=False, selected=set())["approval_state"] == "approval_required"
    assert (
        follow_up(EXECUTIVE, decision, dry_run=False, selected=set())["execution_state"]
        == "selected_for_delivery_retry"
    )


def test_separation_of_duties_and_approval_actions() -> None:
    assert separation_problem("bob", requested_by="alice", acknowledged_by="carol") is None
    assert "requested" in (separation_problem("alice", requested_by="alice", acknowledged_by="carol") or "")
    assert "acknowledged" in (
        separation_problem("carol", requested_by="alice", acknowledged_by="carol") or ""
    )
    assert approval_action(approved=True, acked=False, require_retry_ack=True) == "already_approved"
    assert approval_action(approved=False, acked=False, require_retry_ack=True) == "wait_for_retry_ack"
    assert approval_action(approved=False, acked=False, require_retry_ack=False) == "request_approval"
    assert approval_action(approved=False, acked=True, require_retry_ack=True) == "request_approval"


def test_payload_keys_and_evidence_refs_follow_spec_3_0b() -> None:
    keys = {name: payload_key(spec.retry_plan_kind) for name, spec in FAMILY_SPECS.items()}
    assert keys["audit"] == "acknowledgement_audit_delivery_retry_plan"
    assert keys["recovery_escalation"] == "recovery_escalation_delivery_retry_plan"
    assert keys["executive_report"] == "recovery_executive_report_delivery_retry_plan"
    assert payload_key(AUDIT.worker_run_kind) == "acknowledgement_audit_delivery_worker_run"
    assert payload_key(AUDIT.execution_kind) == "retry_execution_record"
    refs = evidence_refs(
        AUDIT, {"run_id": "gordackworker-1", "approval_decision_id": "", "delivery_plan_id": "retry-1"}
    )
    assert refs == [
        "go-rollback-drill-retry-worker://gordackworker-1",
        "go-rollback-drill-audit-delivery://retry-1",
    ]
    escalation = evidence_refs(
        FAMILY_SPECS["recovery_escalation"],
        {"run_id": "w-1", "plan_id": "gordackrecoveryesc-1", "delivery_metadata_id": "rcd-x-1"},
    )
    assert escalation == [
        "go-rollback-drill-recovery-escalation-retry-worker://w-1",
        "go-rollback-drill-recovery-escalation://gordackrecoveryesc-1",
        "connector-delivery://rcd-x-1",
    ]
    executive = evidence_refs(EXECUTIVE, {"run_id": "w-2", "subject_ids": {"run_id": "gordackexecsched-1"}})
    assert executive == [
        "go-rollback-drill-executive-delivery-retry-worker://w-2",
        "go-rollback-drill-executive-report-schedule-run://gordackexecsched-1",
    ]


def test_a_schedule_moves_to_the_next_slot_after_now() -> None:
    due = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
    assert next_due(due, 30, due) == due + timedelta(minutes=30)
    assert next_due(due, 30, due + timedelta(minutes=95)) == due + timedelta(minutes=120), (
        "missed slots run once"
    )


def test_the_backoff_is_capped_at_a_year() -> None:
    assert backoff_minutes(10_080, 10.0, 100) == 525_600


def test_the_approval_that_counts_is_a_usable_one_of_the_same_digest_whatever_came_later() -> None:
    usable = candidate(ordinal=1, approval_id="current")
    stale = candidate(ordinal=1, approval_id="stale", approved_digest="d0")  # decided later, another digest
    consumed = candidate(ordinal=2, approval_id="used", approval_state="consumed")
    expired = candidate(ordinal=2, approval_id="late", execute_by=NOW - timedelta(minutes=1))
    [first, second] = counting([stale, usable, expired, consumed], NOW)
    assert (first["approval_id"], second["approval_id"]) == ("current", "late")
    chosen = gate(AUDIT, "run", [first, second], dry_run=False, limit=5, now=NOW)
    assert [d["digest"] for d in chosen.selected] == ["d1"] and chosen.approval == {"d1": "current"}
    assert [r.reason for r in chosen.refused] == ["approval_expired"]
