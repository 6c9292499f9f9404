"""Documents and metadata records of retries (spec §3.0b, §3.12, §3.13, §3.16): pure, no I/O.

Each stored retry record is announced by an event whose ``record`` is the metadata record of spec
§3.0b (:class:`~cavra_contracts.evidence.EvidenceRecordV1`) with its hoisted fields and payload.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from cavra_contracts.approvals import (
    APPROVAL_DECISION_KIND,
    APPROVAL_DECISION_SCHEMA,
    APPROVAL_PLAN_KIND,
    APPROVAL_PLAN_SCHEMA,
    RETRY_ACK_KIND,
    RETRY_ACK_SCHEMA,
)
from cavra_contracts.evidence import MAX_RECORD_LIST_ITEMS, EvidenceRecordV1
from cavra_contracts.families import AD_KIND, FamilySpec
from cavra_contracts.timestamps import iso

CONTROLS = [
    "retries re-send the stored message of the failed job, to the failed provider only",
    "live retries of approval-bound families need an unconsumed, unexpired approval bound to the digest",
    "evidence carries public ids and hashes only, never secrets, private URLs or customer data",
]


def _picked(row: Mapping[str, Any], *names: str) -> dict[str, Any]:
    return {name: row[name] for name in names}


def payload_key(kind: str) -> str:
    """The payload key of a metadata kind (spec §3.0b)."""
    if kind.startswith(f"{AD_KIND}-"):
        rest = kind[len(AD_KIND) + 1 :]
        if rest in ("retry-plan", "worker-run"):
            rest = f"acknowledgement-audit-delivery-{rest}"
    else:
        rest = kind.removeprefix("go-backend-rollback-drill-")
    return rest.replace("-", "_")


def decision_view(row: Mapping[str, Any]) -> dict[str, Any]:
    """One retry decision as plans and runs show it (spec §3.12 step 6 plus digest and attempt)."""
    ids = dict(row["ids"] or {})
    return {
        **{
            name: value
            for name, value in ids.items()
            if name in ("plan_id", "schedule_id", "audit_id", "run_id")
        },
        "delivery_id": row["origin_job_id"],
        "origin_job_id": row["origin_job_id"],
        "provider": row["provider"],
        "action": row["action"],
        "reason": row["reason"],
        "retry_count": row["retry_count"],
        "max_retry_attempts": row["max_retry_attempts"],
        "retry_delay_minutes": row["retry_delay_minutes"],
        "latest_delivery_id": row["latest_job_id"],
        "latest_delivery_at": iso(row["latest_delivery_at"]),
        "next_retry_at": iso(row["next_retry_at"]),
        "failed_status_codes": list(row["failed_status_codes"]),
        "payload_hash": row["payload_hash"],
        "attempt": row["attempt"],
        "digest": row["digest"],
    }


def plan_document(
    spec: FamilySpec, plan: Mapping[str, Any], decisions: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """A retry plan (spec §3.12 step 7); ``retry_decisions`` holds the first decisions only
    (``decision_count``: all of them, paged by GET .../retry-plans/{retry_plan_id})."""
    policy = plan["policy"]
    return {
        "schema_version": spec.retry_plan_schema,
        "retry_plan_id": plan["retry_plan_id"],
        "family": spec.name,
        "generated_at": iso(plan["generated_at"]),
        "generated_by": plan["generated_by"],
        "alert_level": plan["alert_level"],
        "decision_count": plan["decision_count"],
        "retryable_count": plan["retryable_count"],
        "waiting_count": plan["waiting_count"],
        "suppressed_count": plan["suppressed_count"],
        "max_retry_attempts": policy["max_retry_attempts"],
        "base_retry_delay_minutes": policy["retry_delay_minutes"],
        "allow_immediate_retry": policy["allow_immediate_retry"],
        "backoff_multiplier": policy["backoff_multiplier"],
        "decisions_pruned_at": iso(plan["decisions_pruned_at"]) if plan.get("decisions_pruned_at") else None,
        "retry_decisions": [decision_view(row) for row in decisions[:MAX_RECORD_LIST_ITEMS]],
        "controls": CONTROLS,
    }


def plan_record(spec: FamilySpec, document: Mapping[str, Any]) -> EvidenceRecordV1:
    return EvidenceRecordV1(
        metadata_kind=spec.retry_plan_kind,
        session_id=document["retry_plan_id"],
        created_at=document["generated_at"],
        signer=document["generated_by"],
        decision_count=document["decision_count"],
        blocked_count=document["suppressed_count"],
        approval_required_count=document["retryable_count"],
        providers=sorted({d["provider"] for d in document["retry_decisions"]})[:64],
        source=spec.source,
        alert_level=document["alert_level"],
        hoisted=_picked(
            document, "retry_plan_id", "alert_level", "retryable_count", "waiting_count", "suppressed_count"
        ),
        payload_key=payload_key(spec.retry_plan_kind),
        payload=dict(document),
    )


def run_record(spec: FamilySpec, run: Mapping[str, Any]) -> EvidenceRecordV1:
    summary = run["summary"]
    return EvidenceRecordV1(
        metadata_kind=spec.worker_run_kind,
        session_id=run["run_id"],
        created_at=run["generated_at"],
        signer=run["generated_by"],
        decision_count=summary["follow_up_action_count"],
        blocked_count=summary["suppressed_retry_count"],
        approval_required_count=summary["selected_retry_count"],
        providers=sorted({d["provider"] for d in run["selected_retries"]}),
        source=spec.source,
        alert_level=run["retry_plan"]["alert_level"],
        hoisted={
            "run_id": run["run_id"],
            "dry_run": run["dry_run"],
            "retryable_count": summary["retryable_count"],
            "selected_retry_count": summary["selected_retry_count"],
        },
        payload_key=payload_key(spec.worker_run_kind),
        payload=dict(run),
    )


_WORKER_REF = {
    "audit": "go-rollback-drill-retry-worker",
    "recovery_escalation": "go-rollback-drill-recovery-escalation-retry-worker",
    "executive_report": "go-rollback-drill-executive-delivery-retry-worker",
}
_SUBJECT_REF = {
    "audit": ("go-rollback-drill-audit-delivery", "delivery_plan_id"),
    "recovery_escalation": ("go-rollback-drill-recovery-escalation", "plan_id"),
    "executive_report": ("go-rollback-drill-executive-report-schedule-run", "schedule_run_id"),
}
"""Spec §3.16 / §3.22 evidence ref schemes of the original's families (worker run; what was re-sent)."""


def evidence_refs(spec: FamilySpec, execution: Mapping[str, Any]) -> list[str]:
    """Spec §3.16, §3.22 ``public_evidence_refs`` in the family's schemes; a ref without an id is dropped."""
    family = spec.name.replace("_", "-")
    worker = _WORKER_REF.get(spec.name, f"go-rollback-drill-{family}-retry-worker")
    scheme, key = _SUBJECT_REF.get(spec.name, (f"go-rollback-drill-{family}-delivery", "delivery_plan_id"))
    subject = execution.get(key) or execution.get("subject_ids", {}).get(key.removeprefix("schedule_")) or ""
    refs = [
        f"{worker}://{execution['run_id']}",
        f"go-rollback-drill-retry-approval://{execution.get('approval_decision_id') or ''}",
        f"{scheme}://{subject}",
        f"connector-delivery://{execution.get('delivery_metadata_id') or ''}",
    ]
    return [ref for ref in refs if not ref.endswith("://")]


def execution_record(spec: FamilySpec, document: Mapping[str, Any]) -> EvidenceRecordV1:
    status = document["execution_status"]
    return EvidenceRecordV1(
        metadata_kind=spec.execution_kind,
        session_id=document["execution_id"],
        created_at=document["executed_at"],
        signer=document["executed_by"],
        decision_count=1,
        blocked_count=0 if status == "delivered" else 1,
        providers=[document["provider"]],
        source=spec.source,
        hoisted={
            name: document.get(name)
            for name in (
                "execution_id",
                "execution_hash",
                "execution_status",
                "run_id",
                "retry_plan_id",
                "provider",
                "delivery_success",
                "delivery_id",
                "approval_decision_id",
            )
        },
        payload_key=payload_key(spec.execution_kind),
        payload=dict(document),
    )


def ack_record(spec: FamilySpec, ack: Mapping[str, Any]) -> EvidenceRecordV1:
    return EvidenceRecordV1(
        metadata_kind=RETRY_ACK_KIND,
        session_id=ack["acknowledgement_id"],
        created_at=ack["acknowledged_at"],
        signer=ack["acknowledged_by"],
        decision_count=1,
        providers=[ack["provider"]],
        acknowledgement_state=ack["acknowledgement_state"],
        source=spec.source,
        hoisted=_picked(
            ack,
            "acknowledgement_id",
            "retry_plan_id",
            "delivery_id",
            "provider",
            "acknowledgement_state",
            "external_ref",
        ),
        payload_key="acknowledgement",
        payload={"schema_version": RETRY_ACK_SCHEMA, **ack},
    )


def approval_plan_record(spec: FamilySpec, plan: Mapping[str, Any]) -> EvidenceRecordV1:
    return EvidenceRecordV1(
        metadata_kind=APPROVAL_PLAN_KIND,
        session_id=plan["approval_plan_id"],
        created_at=plan["generated_at"],
        signer=plan["generated_by"],
        decision_count=plan["decision_count"],
        blocked_count=plan["waiting_count"],
        approval_required_count=plan["approval_required_count"],
        providers=sorted({row["provider"] for row in plan["approval_decisions"]})[:64],
        source=spec.source,
        alert_level=plan["alert_level"],
        hoisted=_picked(plan, "approval_plan_id", "alert_level", "approved_count", "waiting_count"),
        payload_key="retry_execution_approval_plan",
        payload={"schema_version": APPROVAL_PLAN_SCHEMA, **plan},
    )


def decision_record(spec: FamilySpec, decision: Mapping[str, Any]) -> EvidenceRecordV1:
    return EvidenceRecordV1(
        metadata_kind=APPROVAL_DECISION_KIND,
        session_id=decision["decision_id"],
        created_at=decision["decided_at"],
        signer=decision["decided_by"],
        decision_count=1,
        blocked_count=0 if decision["approval_state"] == "approved" else 1,
        providers=[decision["provider"]],
        source=spec.source,
        hoisted=_picked(
            decision,
            "decision_id",
            "approval_plan_id",
            "retry_plan_id",
            "delivery_id",
            "provider",
            "approval_state",
            "external_ref",
        ),
        payload_key="retry_execution_approval_decision",
        payload={"schema_version": APPROVAL_DECISION_SCHEMA, **decision},
    )


def approval_view(row: Mapping[str, Any]) -> dict[str, Any]:
    """An approval request as operators list it."""
    view = dict(row)
    for name in ("requested_at", "decide_by", "decided_at", "execute_by", "consumed_at"):
        view[name] = iso(view[name]) if isinstance(view[name], datetime) else None
    view["delivery_id"] = view["origin_job_id"]
    view["acknowledged_by_all"] = list(view.get("acknowledged_by_all") or [])
    return view
