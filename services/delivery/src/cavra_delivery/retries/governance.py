"""Governed execution (spec §3.16, §4.5, issue 8): retry acknowledgements, approval plans and approval
decisions, inside the caller's transaction. Refusals raise :class:`Rejected` (nothing stored) or
return an :class:`~cavra_contracts.approvals.ApprovalRefusedV1` (the refusal is the event)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from cavra_contracts.approvals import (
    ACKED_STATES,
    APPROVAL_ACTIONS,
    MAX_APPROVAL_ROWS,
    AcknowledgeRetryV1,
    ApprovalDecidedV1,
    ApprovalExpiredV1,
    ApprovalPlanGeneratedV1,
    ApprovalRefusedV1,
    DecideApprovalV1,
    GenerateApprovalPlanV1,
    RetryAcknowledgedV1,
    approval_action,
    separation_problem,
)
from cavra_contracts.families import family_spec
from cavra_contracts.retries import hash_id, sha256_hex
from cavra_contracts.timestamps import iso
from cavra_contracts.vocabulary import normalize_provider
from cavra_delivery.retries import approval_repository as repo
from cavra_delivery.retries import records
from cavra_delivery.retries import repository as retries_repo


class Rejected(Exception):
    """A request refused before anything is stored: its status code and the field at fault."""

    def __init__(self, status_code: int, field: str, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.field = field


@dataclass(frozen=True)
class Windows:
    """How long an approval request may be decided, and an approval executed."""

    decide: timedelta
    execute: timedelta


async def acknowledge(
    conn: asyncpg.Connection, command: AcknowledgeRetryV1, now: datetime
) -> RetryAcknowledgedV1:
    plan = await retries_repo.plan(conn, command.retry_plan_id)
    if plan is None:
        raise Rejected(404, "retry_plan_id", f"retry plan not found: {command.retry_plan_id}")
    provider = normalize_provider(command.provider)
    decision = await retries_repo.decision_for(conn, command.retry_plan_id, provider, command.origin_job_id)
    if decision is None:
        raise Rejected(
            404, "provider", f"retry plan {command.retry_plan_id} has no decision for provider {provider}"
        )
    spec = family_spec(plan["family"])
    by = command.actor.actor
    state = command.acknowledgement_state
    origin = decision["origin_job_id"]
    ack_id = (
        "gordackretryack-"
        + sha256_hex(f"{command.retry_plan_id}|{provider}|{origin}|{state}|{by}|{iso(now)}")[:16]
    )
    ack = {
        "acknowledgement_id": ack_id,
        "retry_plan_id": command.retry_plan_id,
        "family": spec.name,
        "delivery_id": origin,
        "origin_job_id": origin,
        "audit_id": dict(decision["ids"] or {}).get("audit_id", ""),
        "provider": provider,
        "digest": decision["digest"],
        "acknowledgement_state": state,
        "acknowledged_by": by,
        "acknowledged_at": iso(now),
        "external_ref": command.external_ref,
        "notes": command.notes,
        "controls": records.CONTROLS,
    }
    await repo.insert_ack(conn, {**ack, "acknowledged_at": now, "document": ack})
    return RetryAcknowledgedV1(
        record=records.ack_record(spec, ack), acknowledgement_id=ack_id, actor=command.actor
    )


async def approval_plan(
    conn: asyncpg.Connection,
    command: GenerateApprovalPlanV1,
    plan_id_material: str,
    now: datetime,
    windows: Windows,
) -> ApprovalPlanGeneratedV1:
    spec = family_spec(command.family)
    if spec.gate != "approval":
        raise Rejected(400, "family", f"family {spec.name} needs no approval (gate none)")
    approval_plan_id = hash_id("gordackretryapproval-", {"command_id": plan_id_material})
    latest = await repo.latest_decisions(conn, spec.name, MAX_APPROVAL_ROWS)
    acks = await repo.acks_for(conn, spec.name)
    approved = await repo.approved_digests(conn, spec.name, now)
    rows: list[dict[str, Any]] = []
    requests: list[dict[str, Any]] = []
    for decision in latest:
        key = (decision["origin_job_id"], decision["provider"])
        ack = acks.get(key)
        acked = (  # the acknowledgement of exactly this retry: a later attempt needs its own
            ack is not None
            and ack["acknowledgement_state"] in ACKED_STATES
            and ack["digest"] == decision["digest"]
        )
        action = approval_action(
            approved=decision["digest"] in approved, acked=acked, require_retry_ack=command.require_retry_ack
        )
        reason, required = APPROVAL_ACTIONS[action]
        row = {
            "retry_plan_id": decision["retry_plan_id"],
            "provider": decision["provider"],
            "delivery_id": decision["origin_job_id"],
            "origin_job_id": decision["origin_job_id"],
            "audit_id": dict(decision["ids"] or {}).get("audit_id", ""),
            "action": action,
            "reason": reason,
            "approval_required": required,
            "retry_count": decision["retry_count"],
            "attempt": decision["attempt"],
            "next_retry_at": iso(decision["next_retry_at"]),
            "failed_status_codes": list(decision["failed_status_codes"]),
            "retry_action": decision["action"],
            "digest": decision["digest"],
            "approval_id": None,
            "decide_by": None,
        }
        if action == "request_approval":
            row["approval_id"] = hash_id(
                "gordackretryapprovalreq-",
                {"approval_plan_id": approval_plan_id, "digest": decision["digest"]},
            )
            row["decide_by"] = iso(now + windows.decide)
            requests.append(
                {
                    "approval_id": row["approval_id"],
                    "retry_plan_id": decision["retry_plan_id"],
                    "origin_job_id": decision["origin_job_id"],
                    "provider": decision["provider"],
                    "attempt": decision["attempt"],
                    "digest": decision["digest"],
                    "decide_by": now + windows.decide,
                }
            )
        rows.append(row)
    required_count = sum(1 for row in rows if row["approval_required"])
    waiting = sum(1 for row in rows if row["action"] == "wait_for_retry_ack")
    document = {
        "approval_plan_id": approval_plan_id,
        "family": spec.name,
        "generated_at": iso(now),
        "generated_by": command.actor.actor,
        "alert_level": "critical" if required_count else ("warning" if waiting else "healthy"),
        "decision_count": len(rows),
        "approval_required_count": required_count,
        "approved_count": sum(1 for row in rows if row["action"] == "already_approved"),
        "waiting_count": waiting,
        "require_retry_ack": command.require_retry_ack,
        "approval_decisions": rows[:100],
        "controls": records.CONTROLS,
    }
    summary = {k: v for k, v in document.items() if k != "approval_decisions"}
    await repo.insert_plan(
        conn,
        {
            "approval_plan_id": approval_plan_id,
            "family": spec.name,
            "generated_at": now,
            "generated_by": command.actor.actor,
            "require_retry_ack": command.require_retry_ack,
            "document": summary,
        },
        rows,
        requests,
    )
    return ApprovalPlanGeneratedV1(
        record=records.approval_plan_record(spec, document),
        approval_plan_id=approval_plan_id,
        family=spec.name,
        actor=command.actor,
    )


_FROM = {
    "approved": {"pending", "deferred"},
    "deferred": {"pending", "deferred"},
    "denied": {"pending", "deferred", "approved"},
    "expired": {"pending", "deferred", "approved"},
}
"""Approval decision -> the request states it may be taken in (a later denial revokes an approval)."""


async def decide(
    conn: asyncpg.Connection, command: DecideApprovalV1, now: datetime, windows: Windows
) -> ApprovalDecidedV1 | ApprovalRefusedV1 | ApprovalExpiredV1:
    """Decide one candidate; a refusal (separation of duties, expired, not decidable) is returned."""
    plan = await repo.approval_plan(conn, command.approval_plan_id)
    if plan is None:
        raise Rejected(
            404, "approval_plan_id", f"retry execution approval plan not found: {command.approval_plan_id}"
        )
    provider = normalize_provider(command.provider)
    row = await repo.plan_row(conn, command.approval_plan_id, provider, command.origin_job_id)
    if row is None:
        raise Rejected(
            404,
            "provider",
            f"approval plan {command.approval_plan_id} has no candidate for provider {provider}",
        )
    spec = family_spec(plan["family"])
    approval = None
    if row["approval_id"]:
        approval = await repo.lock_approval(conn, row["approval_id"])
    elif row["action"] == "already_approved":
        approval = await repo.approved_for_key(conn, spec.name, row["origin_job_id"], provider)
    by = command.actor.actor

    def refused(status: int, reason: str, message: str) -> ApprovalRefusedV1:
        return ApprovalRefusedV1(
            status_code=status,
            approval_plan_id=command.approval_plan_id,
            approval_id=approval["approval_id"] if approval else "",
            provider=provider,
            reason=reason,
            message=message,
            actor=command.actor,
        )

    if approval is None:
        return refused(
            409, "not_decidable", f"candidate {provider} is {row['action']}: no approval request to decide"
        )
    acknowledgers = await repo.acknowledgers(conn, spec.name, row["origin_job_id"], provider)
    problem = separation_problem(by, requested_by=approval["requested_by"], acknowledged_by=acknowledgers)
    if problem is not None:
        return refused(403, "separation_of_duties", problem)
    state = command.approval_state
    if approval["state"] in ("pending", "deferred") and approval["decide_by"] < now and state != "expired":
        await repo.expire(conn, approval["approval_id"])
        return ApprovalExpiredV1(
            approval_id=approval["approval_id"],
            family=spec.name,
            provider=provider,
            origin_job_id=row["origin_job_id"],
            digest=approval["digest"],
            stage="decide",
        )
    if approval["state"] not in _FROM[state]:
        return refused(409, "not_decidable", f"approval is {approval['state']}; it cannot become {state}")
    origin = row["origin_job_id"]
    retry_plan_id = command.retry_plan_id or approval["retry_plan_id"]
    material = f"{command.approval_plan_id}|{retry_plan_id}|{provider}|{origin}|{state}|{by}|{iso(now)}"
    decision_id = "gordackretryapprovaldecision-" + sha256_hex(material)[:16]
    execute_by = now + windows.execute if state == "approved" else None
    await repo.decide(
        conn,
        approval["approval_id"],
        state=state,
        decision_id=decision_id,
        decided_by=by,
        decided_at=now,
        execute_by=execute_by,
        external_ref=command.external_ref,
    )
    decision = {
        "decision_id": decision_id,
        "approval_id": approval["approval_id"],
        "approval_plan_id": command.approval_plan_id,
        "retry_plan_id": retry_plan_id,
        "delivery_id": origin,
        "origin_job_id": origin,
        "audit_id": dict(row["row"]).get("audit_id", ""),
        "provider": provider,
        "digest": approval["digest"],
        "attempt": approval["attempt"],
        "approval_state": state,
        "decided_by": by,
        "decided_at": iso(now),
        "executable_until": iso(execute_by) if execute_by else None,
        "external_ref": command.external_ref,
        "notes": command.notes,
        "controls": records.CONTROLS,
    }
    return ApprovalDecidedV1(
        record=records.decision_record(spec, decision),
        decision_id=decision_id,
        approval_id=approval["approval_id"],
        approval_state=state,
        actor=command.actor,
    )
