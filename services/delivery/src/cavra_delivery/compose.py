"""Turn a job's target into the Notification a connector sends (pure).

:class:`PlanMessage` says what a notification plan's routes say; :class:`JobMessage` what a
DeliverMessageV1 job's targets say. Both are worked out once per job and asked once per target.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cavra_contracts.deliveries import MessageContentV1
from cavra_contracts.notifications import (
    NOTIFICATION_EVENT_TYPE,
    NotificationContentV1,
    NotificationPlanV1,
    RouteDecisionV1,
)
from cavra_delivery.connectors.notification import Notification
from cavra_delivery.targets import Target

EVENT_SOURCE = "/cavra/delivery"


def delivery_id(job_id: str, target_key: str, connector: str | None) -> str:
    """The delivery's id, also its idempotency key: stable across every retry of this target."""
    return f"{job_id}:{target_key}:{connector or '-'}"


def dedup_key(plan: NotificationPlanV1, decision: RouteDecisionV1) -> str:
    """Stable across re-plans of the same schedule, readiness and due date (one ticket, not one per plan)."""
    material = "|".join([plan.schedule_id, plan.status, plan.next_due_at, decision.owner, decision.provider])
    return _digest(material)


def _digest(material: str) -> str:
    return hashlib.sha256(material.encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class PlanMessage:
    """What every route of one plan says alike, worked out once per plan."""

    plan: NotificationPlanV1
    decisions: Mapping[str, RouteDecisionV1]
    """The plan's route decisions by route key (a target's key)."""
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
            decisions={decision.route_key: decision for decision in plan.route_decisions},
            title=content.title or f"CAVRA Go rollback drill schedule {plan.alert_level}",
            text=content.message or plan.reason,
            next_due=summary.next_due_at or plan.next_due_at or "unknown",
            days_until_due=str(summary.days_until_due),
            runbook_ref=content.runbook_ref,
            summary=summary.model_dump(mode="json"),
            evidence_refs=tuple(content.evidence_refs),
        )

    def notification(
        self, target: Target, *, delivery: str, now: datetime, ack_url: str | None = None
    ) -> Notification:
        """What one route says: public-safe schedule metadata only (no secrets, no private URLs)."""
        plan = self.plan
        decision = self.decisions[target.key]
        facts = (
            ("Schedule", plan.schedule_id),
            ("Status", plan.status),
            ("Next due", self.next_due),
            ("Days until due", self.days_until_due),
            ("Owner", decision.owner),
            ("Escalation owner", decision.escalation_owner),
            ("Acknowledge within", f"{decision.acknowledgement_minutes} min"),
            ("Runbook", self.runbook_ref),
        )
        cloud_event = {
            "specversion": "1.0",
            "id": delivery,
            "source": EVENT_SOURCE,
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
                "summary": self.summary,
                "runbook_ref": self.runbook_ref,
                "evidence_refs": list(self.evidence_refs),
            },
        }
        return Notification(
            notification_id=delivery,
            kind="rollback_drill_notification",
            title=self.title,
            text=self.text,
            severity=plan.alert_level,
            facts=facts,
            dedup_key=dedup_key(plan, decision),
            route_id=decision.route_id,
            owner=decision.owner,
            event=cloud_event,
            ack_url=ack_url,
        )


@dataclass(frozen=True, slots=True)
class JobMessage:
    """What every target of a DeliverMessageV1 job says alike: its content, once per job."""

    job_id: str
    content: MessageContentV1
    facts: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, job_id: str, content: MessageContentV1) -> JobMessage:
        return cls(job_id, content, tuple((fact.title, fact.value) for fact in content.facts))

    def notification(
        self, target: Target, *, delivery: str, now: datetime, ack_url: str | None = None
    ) -> Notification:
        """The content for one target: a CloudEvent of ``content.event_type`` whose data is the
        content's data plus the target's ids (the ids win over a data key of the same name)."""
        content = self.content
        about = f"route/{target.route_id}" if target.route_id else f"target/{target.key}"
        cloud_event = {
            "specversion": "1.0",
            "id": delivery,
            "source": EVENT_SOURCE,
            "type": content.event_type,
            "subject": f"job/{self.job_id}/{about}",
            "time": now.isoformat(),
            "datacontenttype": "application/json",
            "correlationid": target.plan_id or self.job_id,
            "data": {
                **content.data,
                "job_id": self.job_id,
                "target_key": target.key,
                "route_id": target.route_id,
                "plan_id": target.plan_id,
                "schedule_id": target.schedule_id,
                "owner": target.owner,
                "provider": target.provider,
            },
        }
        return Notification(
            notification_id=delivery,
            kind=content.kind,
            title=content.title,
            text=content.text,
            severity=content.severity,
            facts=self.facts,
            dedup_key=_digest(f"{self.job_id}|{target.key}"),
            route_id=target.route_id,
            owner=target.owner,
            event=cloud_event,
            ack_url=ack_url,
        )
