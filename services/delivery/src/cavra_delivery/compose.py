"""Turn a plan's deliverable route into the Notification a connector sends (pure)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cavra_contracts.notifications import NOTIFICATION_EVENT_TYPE
from cavra_delivery.connectors.notification import Notification


def delivery_id(plan_id: str, route_key: str, connector: str | None) -> str:
    """The delivery's id, also its idempotency key: stable across every retry of this route."""
    return f"{plan_id}:{route_key}:{connector or '-'}"


def dedup_key(plan: Mapping[str, Any], decision: Mapping[str, Any]) -> str:
    """Stable across re-plans of the same schedule, readiness and due date (one ticket, not one per plan)."""
    material = "|".join(
        [plan["schedule_id"], plan["status"], plan["next_due_at"], decision["owner"], decision["provider"]]
    )
    return hashlib.sha256(material.encode()).hexdigest()[:32]


def notification(
    plan: Mapping[str, Any],
    event: Mapping[str, Any],
    decision: Mapping[str, Any],
    *,
    delivery: str,
    now: datetime,
) -> Notification:
    """What one route says: public-safe schedule metadata only (no secrets, no private URLs)."""
    summary = event.get("summary", {})
    facts = (
        ("Schedule", str(plan["schedule_id"])),
        ("Status", str(plan["status"])),
        ("Next due", str(summary.get("next_due_at") or plan.get("next_due_at") or "unknown")),
        ("Days until due", str(summary.get("days_until_due"))),
        ("Owner", str(decision["owner"])),
        ("Escalation owner", str(decision["escalation_owner"])),
        ("Acknowledge within", f"{decision['acknowledgement_minutes']} min"),
        ("Runbook", str(event.get("runbook_ref") or "")),
    )
    cloud_event = {
        "specversion": "1.0",
        "id": delivery,
        "source": "/cavra/delivery",
        "type": NOTIFICATION_EVENT_TYPE,
        "subject": f"schedule/{plan['schedule_id']}/route/{decision['route_key']}",
        "time": now.isoformat(),
        "datacontenttype": "application/json",
        "correlationid": plan["plan_id"],
        "data": {
            "plan_id": plan["plan_id"],
            "schedule_id": plan["schedule_id"],
            "status": plan["status"],
            "alert_level": plan["alert_level"],
            "route": {
                k: decision[k]
                for k in (
                    "route_key",
                    "owner",
                    "provider",
                    "escalation_owner",
                    "acknowledgement_minutes",
                    "reason",
                )
            },
            "summary": dict(summary),
            "runbook_ref": event.get("runbook_ref", ""),
            "evidence_refs": list(event.get("evidence_refs", [])),
        },
    }
    return Notification(
        notification_id=delivery,
        kind="rollback_drill_notification",
        title=str(event.get("title") or f"CAVRA Go rollback drill schedule {plan['alert_level']}"),
        text=str(event.get("message") or plan["reason"]),
        severity=plan["alert_level"],
        facts=facts,
        dedup_key=dedup_key(plan, decision),
        route_id=str(decision["route_key"]),
        owner=str(decision["owner"]),
        event=cloud_event,
    )
