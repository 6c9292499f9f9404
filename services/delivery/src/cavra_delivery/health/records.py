"""The documents of health alerts: alert plan, alert event (what providers get), acknowledgement, and
their metadata records (spec §3.0b, §3.15). Pure: built from a health report and a decision."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from cavra_contracts.deliveries import DeliverMessageV1, DeliveryTargetV1, FactV1, MessageContentV1
from cavra_contracts.evidence import MAX_RECORD_LIST_ITEMS, PRODUCT, EvidenceRecordV1
from cavra_contracts.health import HealthNames
from cavra_contracts.notifications import DeliveryOptions
from cavra_contracts.timestamps import iso
from cavra_contracts.vocabulary import ALERT_CRITICAL, ALERT_WARNING

SUMMARY_FIELDS = (
    "run_count",
    "missed_run_count",
    "failed_execution_count",
    "retryable_count",
    "connector_delivery_failure_count",
    "stale_retry_plan_count",
    "disabled_schedule_count",
    "pending_count",
)


def summary(names: HealthNames, health: Mapping[str, Any], max_alerts: int) -> dict[str, Any]:
    """The counts an alert plan and its event carry, under the family's field names."""
    alert_count = int(health["alert_count"])
    return {
        **{names.fields[name]: health[names.fields[name]] for name in SUMMARY_FIELDS},
        "alert_count": alert_count,
        "omitted_alert_count": max(alert_count - max_alerts, 0),
    }


def plan_document(
    names: HealthNames,
    health: Mapping[str, Any],
    *,
    plan_id: str,
    job_id: str,
    now: datetime,
    generated_by: str,
    requested: str,
    eligible: Sequence[str],
    selected: Sequence[str],
    suppressed: Sequence[Mapping[str, str]],
    window_minutes: int,
    force: bool,
    max_alerts: int,
) -> dict[str, Any]:
    """The alert plan ``…health-alert-plan.v1``."""
    return {
        "schema_version": names.plan_schema,
        "product": PRODUCT,
        "plan_id": plan_id,
        "health_id": health["health_id"],
        "family": names.family,
        "job_id": job_id,
        "generated_at": iso(now),
        "generated_by": generated_by,
        "source_health_generated_at": health["generated_at"],
        "alert_level": health["alert_level"],
        "summary": summary(names, health, max_alerts),
        "requested_provider": requested,
        "eligible_providers": list(eligible),
        "selected_providers": list(selected),
        "suppressed_providers": [dict(item) for item in suppressed],
        "suppression_window_minutes": window_minutes,
        "force": force,
        "acknowledgement_required_providers": list(selected),
        "controls": [
            "providers alerted about the same health_id inside the suppression window are suppressed "
            "unless force is set",
            "a healthy report selects no provider, forced or not",
        ],
    }


def plan_record(names: HealthNames, plan: Mapping[str, Any], source: str) -> EvidenceRecordV1:
    """The plan's metadata record (spec §3.0b: #eligible / #suppressed / #ack-required)."""
    suppressed = [item["provider"] for item in plan["suppressed_providers"]]
    return EvidenceRecordV1(
        metadata_kind=names.plan_kind,
        session_id=plan["plan_id"],
        created_at=plan["generated_at"],
        signer=plan["generated_by"],
        decision_count=len(plan["eligible_providers"]),
        blocked_count=len(suppressed),
        approval_required_count=len(plan["acknowledgement_required_providers"]),
        plan_id=plan["plan_id"],
        providers=plan["eligible_providers"],
        source=source,
        alert_level=plan["alert_level"],
        hoisted={
            "plan_id": plan["plan_id"],
            "health_id": plan["health_id"],
            "alert_level": plan["alert_level"],
            "selected_providers": plan["selected_providers"],
            "suppressed_providers": suppressed,
            "suppressed_provider_count": len(suppressed),
            "acknowledgement_required_providers": plan["acknowledgement_required_providers"],
            "suppression_window_minutes": plan["suppression_window_minutes"],
        },
        payload_key=names.plan_payload_key,
        payload=dict(plan),
    )


def health_record(names: HealthNames, health: Mapping[str, Any], source: str) -> EvidenceRecordV1:
    """The record a health report would be (it is never stored: the query answers with it)."""
    fields = names.fields
    blocked = int(health[fields["missed_run_count"]]) + int(health[fields["failed_execution_count"]])
    latest = list(health[fields["latest"]])[:MAX_RECORD_LIST_ITEMS]
    return EvidenceRecordV1(
        metadata_kind=names.health_kind,
        session_id=health["health_id"],
        created_at=health["generated_at"],
        signer=health["generated_by"],
        decision_count=int(health[fields["run_count"]]),
        blocked_count=blocked,
        approval_required_count=int(health[fields["pending_count"]]),
        source=source,
        alert_level=health["alert_level"],
        hoisted={
            "health_id": health["health_id"],
            "alert_level": health["alert_level"],
            "alert_count": health["alert_count"],
            "failed_execution_count": health[fields["failed_execution_count"]],
            "acknowledgement_pending_count": health[fields["pending_count"]],
        },
        payload_key=names.health_payload_key,
        payload={**health, fields["latest"]: latest},
    )


def _max_severity(level: str) -> str:
    return {ALERT_CRITICAL: "critical", ALERT_WARNING: "warning"}.get(level, "low")


def alert_event(
    names: HealthNames, health: Mapping[str, Any], plan: Mapping[str, Any], max_alerts: int
) -> dict[str, Any]:
    """The alert event of spec §3.15 (``…health-alert.v1``): what every selected provider is sent."""
    fields = names.fields
    level = str(health["alert_level"])
    alerts = list(health["alerts"])[:max_alerts]
    return {
        "schema_version": names.alert_schema,
        "event_type": names.alert_event_type,
        "session_id": health["health_id"],
        "health_id": health["health_id"],
        "plan_id": plan["plan_id"],
        "family": names.family,
        "title": f"{names.alert_title} {level}: {health['health_id']}",
        "alert_level": level,
        "max_severity": _max_severity(level),
        "blocked_count": int(health[fields["missed_run_count"]])
        + int(health[fields["failed_execution_count"]]),
        "approval_required_count": len(alerts),
        "decision_count": int(health[fields["run_count"]]),
        "summary": plan["summary"],
        "alerts": alerts,
        "recommendations": list(health[fields["recommendations"]]),
    }


def delivery_job(
    names: HealthNames,
    event: Mapping[str, Any],
    *,
    job_id: str,
    source: str,
    selected: Sequence[str],
    options: DeliveryOptions,
) -> DeliverMessageV1:
    """The DeliverMessageV1 that sends the alert event to each selected provider."""
    alerts = event["alerts"]
    text = "; ".join(str(alert["message"]) for alert in alerts[:5]) or "No alert."
    content = MessageContentV1(
        kind=f"{names.family}_worker_health_alert",
        event_type=names.alert_event_type,
        title=str(event["title"]),
        text=text[:4000],
        severity=event["alert_level"],
        facts=[
            FactV1(title="Family", value=names.family),
            FactV1(title="Health id", value=str(event["health_id"])),
            FactV1(title="Alert level", value=str(event["alert_level"])),
            FactV1(title="Alerts", value=str(event["summary"]["alert_count"])),
            *[FactV1(title=str(alert["category"]), value=str(alert["count"])) for alert in alerts[:10]],
        ],
        data=dict(event),
    )
    targets = [
        DeliveryTargetV1(target_key=provider, provider=provider, plan_id=str(event["plan_id"]))
        for provider in selected
    ]
    return DeliverMessageV1(job_id=job_id, source=source, content=content, targets=targets, delivery=options)


def ack_document(
    names: HealthNames,
    *,
    acknowledgement_id: str,
    health_id: str,
    plan_id: str,
    provider: str,
    state: str,
    by: str,
    at: datetime,
    external_ref: str,
    notes: str,
) -> dict[str, Any]:
    """The acknowledgement ``…health-alert-ack.v1``."""
    return {
        "schema_version": names.ack_schema,
        "product": PRODUCT,
        "acknowledgement_id": acknowledgement_id,
        "health_id": health_id,
        "plan_id": plan_id,
        "family": names.family,
        "provider": provider,
        "acknowledgement_state": state,
        "acknowledged_by": by,
        "acknowledged_at": iso(at),
        "external_ref": external_ref,
        "notes": notes,
        "controls": ["acknowledged_by is the authenticated actor, whatever the request body says"],
    }


def ack_record(names: HealthNames, ack: Mapping[str, Any], source: str) -> EvidenceRecordV1:
    """The acknowledgement's metadata record (spec §3.0b: 1 / 0 / 0)."""
    return EvidenceRecordV1(
        metadata_kind=names.ack_kind,
        session_id=ack["acknowledgement_id"],
        created_at=ack["acknowledged_at"],
        signer=ack["acknowledged_by"],
        decision_count=1,
        plan_id=ack["plan_id"],
        providers=[ack["provider"]],
        acknowledgement_state=ack["acknowledgement_state"],
        source=source,
        hoisted={
            "acknowledgement_id": ack["acknowledgement_id"],
            "health_id": ack["health_id"],
            "plan_id": ack["plan_id"],
            "provider": ack["provider"],
            "acknowledgement_state": ack["acknowledgement_state"],
            "external_ref": ack["external_ref"],
        },
        payload_key="acknowledgement",
        payload=dict(ack),
    )
