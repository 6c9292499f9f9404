"""Turn a plan's deliverable route into the Notification a connector sends (pure)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cavra_contracts.notifications import (
    NOTIFICATION_EVENT_TYPE,
    NotificationContentV1,
    NotificationPlanV1,
    RouteDecisionV1,
)
from cavra_delivery.connectors.notification import Notification


def delivery_id(plan_id: str, route_key: str, connector: str | None) -> str:
    """The delivery's id, also its idempotency key: stable across every retry of this route."""
    return f"{plan_id}:{route_key}:{connector or '-'}"


def dedup_key(plan: NotificationPlanV1, decision: RouteDecisionV1) -> str:
    """Stable across re-plans of the same schedule, readiness and due date (one ticket, not one per plan)."""
    material = "|".join([plan.schedule_id, plan.status, plan.next_due_at, decision.owner, decision.provider])
    return hashlib.sha256(material.encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class PlanMessage:
    """What every route of one plan says alike, worked out once per plan."""

    plan: NotificationPlanV1
    title: str
    text: str
    next_due: str
    days_until_due: str
    runbook_ref: str
    summary: Mapping[str, Any]
    evidence_refs: tuple[str, ...]

    @classmethod
    def of(cls, plan: NotificationPlanV1, content: NotificationContentV1) -> PlanMessage:
        summary = content.summary
        return cls(
            plan=plan,
            title=content.title or f"CAVRA Go rollback drill schedule {plan.alert_level}",
            text=content.message or plan.reason,
            next_due=summary.next_due_at or plan.next_due_at or "unknown",
            days_until_due=str(summary.days_until_due),
            runbook_ref=content.runbook_ref,
            summary=summary.model_dump(mode="json"),
            evidence_refs=tuple(content.evidence_refs),
        )


def notification(
    message: PlanMessage, decision: RouteDecisionV1, *, delivery: str, now: datetime
) -> Notification:
    """What one route says: public-safe schedule metadata only (no secrets, no private URLs)."""
    plan = message.plan
    facts = (
        ("Schedule", plan.schedule_id),
        ("Status", plan.status),
        ("Next due", message.next_due),
        ("Days until due", message.days_until_due),
        ("Owner", decision.owner),
        ("Escalation owner", decision.escalation_owner),
        ("Acknowledge within", f"{decision.acknowledgement_minutes} min"),
        ("Runbook", message.runbook_ref),
    )
    cloud_event = {
        "specversion": "1.0",
        "id": delivery,
        "source": "/cavra/delivery",
        "type": NOTIFICATION_EVENT_TYPE,
        "subject": f"schedule/{plan.schedule_id}/route/{decision.route_id}",
        "time": now.isoformat(),
        "datacontenttype": "application/json",
        "correlationid": plan.plan_id,
        "data": {
            "plan_id": plan.plan_id,
            "schedule_id": plan.schedule_id,
            "status": plan.status,
            "alert_level": plan.alert_level,
            "route_id": decision.route_id,
            "route": {
                "route_id": decision.route_id,
                "route_key": decision.route_key,
                "owner": decision.owner,
                "provider": decision.provider,
                "escalation_owner": decision.escalation_owner,
                "acknowledgement_minutes": decision.acknowledgement_minutes,
                "reason": decision.reason,
            },
            "summary": message.summary,
            "runbook_ref": message.runbook_ref,
            "evidence_refs": list(message.evidence_refs),
        },
    }
    return Notification(
        notification_id=delivery,
        kind="rollback_drill_notification",
        title=message.title,
        text=message.text,
        severity=plan.alert_level,
        facts=facts,
        dedup_key=dedup_key(plan, decision),
        route_id=decision.route_id,
        owner=decision.owner,
        event=cloud_event,
    )
