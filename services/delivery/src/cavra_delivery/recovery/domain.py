"""Connector recovery rules (pure, no I/O): playbook, closure and recovery-escalation-ack documents,
the SLO state of a recovery row (spec §4.9), ids and hashes, and the metadata records (spec §3.0b)
their events carry."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from cavra_contracts.evidence import MAX_RECORD_LIST_ITEMS, PRODUCT, EvidenceRecordV1
from cavra_contracts.recovery import (
    CLOSED_STATES,
    CLOSURE_KIND,
    CLOSURE_PREFIX,
    CLOSURE_SCHEMA,
    ESCALATION_ACK_KIND,
    ESCALATION_ACK_PREFIX,
    ESCALATION_ACK_SCHEMA,
    PLAYBOOK_KIND,
    PLAYBOOK_PREFIX,
    PLAYBOOK_SCHEMA,
    AcknowledgeRecoveryEscalationV1,
    CloseRecoveryV1,
    recovery_category,
)
from cavra_contracts.timestamps import iso
from cavra_contracts.vocabulary import AlertLevel

RECOVERY_STEPS: Final = (
    "confirm destination ownership and any maintenance window with the connector owner",
    "verify the network path and allowlist from the delivery service to the destination",
    "rotate the connector credential privately if the failures were authentication errors",
    "run the retry worker as a dry run to confirm which deliveries would be retried",
    "request retry execution approval before any live retry",
    "record the external incident or change reference after recovery",
)
"""The six fixed recovery steps of spec §3.18, in order."""
PRIVATE_CONNECTOR_BOUNDARY: Final = (
    "Connector credentials, endpoint secrets and private ticket payloads stay in the private connector "
    "configuration; this playbook carries only public-safe provider names, counts and status codes."
)
CONTROLS: Final = (
    "recovery records carry public-safe metadata only",
    "a closure names a stored playbook and one of its providers",
    "the recovery report is computed on read and never stored",
)


def content_id(prefix: str, material: Mapping[str, Any]) -> str:
    """``prefix`` + the first 16 hex of SHA-256 over the key-sorted JSON of ``material``."""
    return f"{prefix}{digest(material)[:16]}"


def digest(material: Mapping[str, Any]) -> str:
    """Full SHA-256 hex over the key-sorted JSON of ``material``."""
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode("utf-8")).hexdigest()


def is_closed(closure_state: str | None) -> bool:
    """Closed ⇔ the latest closure is resolved or mitigated (reopened, deferred, escalated: open)."""
    return closure_state in CLOSED_STATES


def slo_status(closure_state: str | None, age_minutes: int, slo_minutes: int) -> tuple[str, bool]:
    """``(slo_status, slo_breached)`` of a recovery row: breach is strict (age > SLO, case 56)."""
    if is_closed(closure_state):
        return "closed", False
    if age_minutes > slo_minutes:
        return "breached", True
    return "open", False


def age_minutes(since: datetime, now: datetime) -> int:
    """Whole minutes from ``since`` to ``now`` (floor), as the SQL computes them."""
    return int((now - since).total_seconds() // 60)


# --- playbook ---------------------------------------------------------------------------------------


def provider_playbook(row: Mapping[str, Any]) -> dict[str, Any]:
    """One provider's entry of a playbook, from its failure aggregate row."""
    latest = row["latest_failure_at"]
    return {
        "provider": row["provider"],
        "category": recovery_category(row["provider"]),
        "failure_count": int(row["failure_count"]),
        "latest_failure_at": iso(latest) if latest else None,
        "status_codes": list(row["status_codes"]),
        "recovery_steps": list(RECOVERY_STEPS),
        "private_connector_boundary": PRIVATE_CONNECTOR_BOUNDARY,
    }


def playbook_document(
    *,
    command_id: str,
    generated_at: datetime,
    generated_by: str,
    lookback_hours: int,
    min_failure_count: int,
    failures: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """The §3.18 playbook; its id is stable for the command that asked for it."""
    entries = [provider_playbook(row) for row in failures]
    playbook_id = content_id(PLAYBOOK_PREFIX, {"command_id": command_id})
    return {
        "schema_version": PLAYBOOK_SCHEMA,
        "product": PRODUCT,
        "playbook_id": playbook_id,
        "generated_at": iso(generated_at),
        "generated_by": generated_by,
        "alert_level": "critical" if entries else "healthy",
        "lookback_hours": lookback_hours,
        "min_failure_count": min_failure_count,
        "provider_count": len(entries),
        "failure_count": sum(entry["failure_count"] for entry in entries),
        "provider_playbooks": entries,
        "controls": list(CONTROLS),
    }


def playbook_record(playbook: Mapping[str, Any], at: datetime) -> EvidenceRecordV1:
    """decision = provider_count, blocked = failure_count, approval_required = provider_count."""
    payload = dict(playbook)
    payload["provider_playbooks"] = list(playbook["provider_playbooks"][:MAX_RECORD_LIST_ITEMS])
    providers = [entry["provider"] for entry in payload["provider_playbooks"]]
    return EvidenceRecordV1(
        metadata_kind=PLAYBOOK_KIND,
        session_id=playbook["playbook_id"],
        created_at=at,
        signer=playbook["generated_by"],
        decision_count=playbook["provider_count"],
        blocked_count=playbook["failure_count"],
        approval_required_count=playbook["provider_count"],
        providers=providers[:64],
        alert_level=playbook["alert_level"],
        hoisted={
            "playbook_id": playbook["playbook_id"],
            "alert_level": playbook["alert_level"],
            "provider_count": playbook["provider_count"],
            "failure_count": playbook["failure_count"],
        },
        payload_key="connector_recovery_playbook",
        payload=payload,
    )


# --- closure ----------------------------------------------------------------------------------------


def closure_document(command: CloseRecoveryV1, *, command_id: str, closed_at: datetime) -> dict[str, Any]:
    """The §3.18 closure, closed by the verified actor."""
    refs = [ref for ref in command.verification_refs if ref]
    material = {
        "playbook_id": command.playbook_id,
        "provider": command.provider,
        "closure_state": command.closure_state,
        "closed_by": command.actor.actor,
        "closed_at": iso(closed_at),
        "external_ref": command.external_ref,
        "verification_refs": refs,
    }
    return {
        "schema_version": CLOSURE_SCHEMA,
        "product": PRODUCT,
        "closure_id": content_id(CLOSURE_PREFIX, {"command_id": command_id}),
        "closure_hash": digest(material),
        **material,
        "notes": command.notes,
        "controls": list(CONTROLS),
    }


def closure_record(closure: Mapping[str, Any], at: datetime) -> EvidenceRecordV1:
    """1 / (0 if resolved|mitigated else 1) / 0."""
    return EvidenceRecordV1(
        metadata_kind=CLOSURE_KIND,
        session_id=closure["closure_id"],
        created_at=at,
        signer=closure["closed_by"],
        decision_count=1,
        blocked_count=0 if is_closed(closure["closure_state"]) else 1,
        providers=[closure["provider"]],
        hoisted={
            key: closure[key]
            for key in (
                "closure_id",
                "closure_hash",
                "playbook_id",
                "provider",
                "closure_state",
                "external_ref",
            )
        },
        payload_key="connector_recovery_closure",
        payload=dict(closure),
    )


# --- recovery escalation acknowledgement ------------------------------------------------------------


def escalation_ack_document(
    command: AcknowledgeRecoveryEscalationV1, *, command_id: str, at: datetime
) -> dict[str, Any]:
    """The §3.20 acknowledgement, by the verified actor."""
    return {
        "schema_version": ESCALATION_ACK_SCHEMA,
        "product": PRODUCT,
        "acknowledgement_id": content_id(ESCALATION_ACK_PREFIX, {"command_id": command_id}),
        "plan_id": command.plan_id,
        "provider": command.provider,
        "acknowledged_by": command.actor.actor,
        "acknowledgement_state": command.acknowledgement_state,
        "acknowledged_at": iso(at),
        "external_ref": command.external_ref,
        "notes": command.notes,
        "escalation_reason": command.escalation_reason,
    }


def escalation_ack_record(ack: Mapping[str, Any], at: datetime) -> EvidenceRecordV1:
    """1 / 0 / 0 like every acknowledgement."""
    return EvidenceRecordV1(
        metadata_kind=ESCALATION_ACK_KIND,
        session_id=ack["acknowledgement_id"],
        created_at=at,
        signer=ack["acknowledged_by"],
        decision_count=1,
        plan_id=ack["plan_id"],
        providers=[ack["provider"]],
        acknowledgement_state=ack["acknowledgement_state"],
        hoisted={
            key: ack[key]
            for key in ("acknowledgement_id", "plan_id", "provider", "acknowledgement_state", "external_ref")
        },
        payload_key="recovery_escalation_acknowledgement",
        payload=dict(ack),
    )


def report_alert_level(*, breached: int, failed_executions: int, open_rows: int) -> AlertLevel:
    """Critical on any breach or failed/skipped execution, warning on any open row, else healthy."""
    if breached or failed_executions:
        return "critical"
    return "warning" if open_rows else "healthy"
