"""What each event changes in the read models (pure, no I/O): its history items, routes and states.

Every function takes the typed event and where it sits in the stream (:class:`EventPosition`) and
returns a :class:`Change`; the repository applies it. The history items are metadata records shaped
as the original evidence store kept them (spec §3.0b), sized so that a page of the largest fits one
NATS reply: a plan without its route decisions, a delivery record without its per-route evidence
(``GET .../plans/{plan_id}`` and ``GET .../routes`` have those).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from cavra_contracts.acknowledgements import ACK_KIND, AcknowledgementsRecordedV1, AcknowledgementV1
from cavra_contracts.deliveries import AUDIT_SOURCE, MessageDeliveredV1
from cavra_contracts.escalations import ESCALATION_PLAN_KIND, EscalationPlanGeneratedV1, RouteEscalatedV1
from cavra_contracts.notifications import (
    DELIVERY_RECORD_KIND,
    DELIVERY_SCHEMA,
    NOTIFICATION_SOURCE,
    NotificationDeliveredV1,
    NotificationPlannedV1,
    RouteDeliveryV1,
)
from cavra_contracts.reporting import ESCALATION_KIND, PLAN_KIND
from cavra_contracts.timestamps import iso, parse_timestamp
from cavra_reporting.domain.model import (
    AUDIT_PROVIDER,
    Change,
    EventPosition,
    Item,
    PlanChange,
    Route,
    RouteAck,
    latest_per_route,
    unique,
)

METADATA_SCHEMA = "cavra.evidence.metadata.v1"


def moment(text: str, fallback: datetime) -> datetime:
    """A document's timestamp, or the event's time when it has none that parses (tolerant reader)."""
    return parse_timestamp(text) or fallback


def metadata_record(
    kind: str, session_id: str, created_at: str, signer: str, counts: tuple[int, int, int]
) -> dict[str, Any]:
    return {
        "schema_version": METADATA_SCHEMA,
        "product": "CAVRA",
        "session_id": session_id,
        "created_at": created_at,
        "signer": signer,
        "decision_count": counts[0],
        "blocked_count": counts[1],
        "approval_required_count": counts[2],
        "metadata_kind": kind,
    }


def notification_planned(event: NotificationPlannedV1, at: EventPosition) -> Change:
    """A plan: one history item, and its routes for the outstanding view."""
    plan = event.plan
    alert = plan.alert_level
    summary = plan.model_dump(mode="json", exclude={"route_decisions", "owners"})
    summary |= {"owner_count": len(plan.owners), "route_count": len(plan.route_decisions)}
    document = metadata_record(
        PLAN_KIND,
        plan.plan_id,
        plan.generated_at,
        plan.generated_by,
        (len(plan.eligible_providers), int(alert == "critical"), int(alert == "warning")),
    ) | {
        "plan_id": plan.plan_id,
        "schedule_id": plan.schedule_id,
        "alert_level": alert,
        "trigger": event.trigger,
        "selected_providers": plan.selected_providers,
        "acknowledgement_required_providers": plan.acknowledgement_required_providers,
        "deliverable_route_count": plan.deliverable_route_count,
        "suppressed_route_count": plan.suppressed_route_count,
        "maintenance_suppressed_count": plan.maintenance_suppressed_count,
        "calendar_suppressed_count": plan.calendar_suppressed_count,
        "healthy_suppressed_count": plan.healthy_suppressed_count,
        "plan": summary,
    }
    generated_at = moment(plan.generated_at, at.occurred_at)
    item = Item(
        item_id=plan.plan_id,
        metadata_kind=PLAN_KIND,
        created_at=generated_at,
        ordinal=0,
        document=document,
        schedule_id=plan.schedule_id,
        plan_id=plan.plan_id,
        providers=unique(plan.selected_providers),
        alert_level=alert,
    )
    routes = tuple(
        Route(route_id=d.route_id, provider=d.provider, owner=d.owner, action=d.action)
        for d in plan.route_decisions
    )
    return Change(
        items=(item,),
        plan=PlanChange(plan.plan_id, plan.schedule_id, generated_at, routes),
        locks=(f"schedule:{plan.schedule_id}", f"plan:{plan.plan_id}"),
    )


def _delivery_record(
    *,
    record_id: str,
    source: str,
    event_id: str,
    event_type: str,
    plan_id: str,
    schedule_id: str,
    success: bool,
    deliveries: Sequence[RouteDeliveryV1],
    at: EventPosition,
) -> dict[str, Any]:
    """The redacted ``release-connector-delivery`` record: hosts, codes, counts and ids only."""
    providers = sorted({d.provider for d in deliveries})
    failed = sorted({d.provider for d in deliveries if d.outcome != "delivered"})
    attempts = [d.attempt_count for d in deliveries]
    created_at = iso(at.occurred_at)
    return metadata_record(DELIVERY_RECORD_KIND, record_id, created_at, source, (0, len(failed), 0)) | {
        "record_id": record_id,
        "connector_delivery_source": source,
        "event_id": event_id,
        "event_type": event_type,
        "plan_id": plan_id,
        "schedule_id": schedule_id,
        "delivery_success": success,
        "providers": providers,
        "failed_providers": failed,
        "route_count": len(deliveries),
        "attempt_count": sum(attempts),
        "max_attempt_count": max(attempts, default=0),
        "status_codes": sorted({d.status_code for d in deliveries if d.status_code is not None}),
        "outcome_counts": dict(sorted(Counter(d.outcome for d in deliveries).items())),
        "target_hosts": sorted({d.target_host for d in deliveries if d.target_host}),
        "delivery": {
            "schema_version": DELIVERY_SCHEMA,
            "product": "CAVRA",
            "event_type": event_type,
            "event_id": event_id,
            "generated_at": created_at,
            "success": success,
        },
    }


def _delivery_item(
    record: dict[str, Any], at: EventPosition, *, source: str, alert_level: str = "", schedule_id: str = ""
) -> Item:
    success = bool(record["delivery_success"])
    counters = [f"deliveries:{source}"] + ([] if success else [f"failed_deliveries:{source}"])
    if source == AUDIT_SOURCE:
        counters += [f"{AUDIT_PROVIDER}{provider}" for provider in record["providers"]]
    return Item(
        item_id=record["record_id"],
        metadata_kind=DELIVERY_RECORD_KIND,
        created_at=at.occurred_at,
        ordinal=0,
        document=record,
        schedule_id=schedule_id,
        plan_id=record["plan_id"],
        providers=unique([*record["providers"], *record["failed_providers"]]),
        connector_delivery_source=source,
        delivery_success=success,
        alert_level=alert_level,
        counters=tuple(counters),
    )


def notification_delivered(event: NotificationDeliveredV1, at: EventPosition) -> Change:
    """A plan's delivery: one redacted delivery record."""
    record = _delivery_record(
        record_id=event.record_id,
        source=event.connector_delivery_source or NOTIFICATION_SOURCE,
        event_id=event.schedule_id or event.plan_id,
        event_type=event.event_type,
        plan_id=event.plan_id,
        schedule_id=event.schedule_id,
        success=event.success,
        deliveries=event.deliveries,
        at=at,
    )
    record["alert_level"] = event.alert_level
    item = _delivery_item(
        record,
        at,
        source=record["connector_delivery_source"],
        alert_level=event.alert_level,
        schedule_id=event.schedule_id,
    )
    return Change(items=(item,))


def message_delivered(event: MessageDeliveredV1, at: EventPosition) -> Change:
    """A job's delivery (escalation, reminder, audit package, ...): one redacted delivery record. Its
    schedule is its plan's (the repository fills it in from the plan, whichever came first)."""
    plan_id = next((d.plan_id for d in event.deliveries if d.plan_id), "")
    record = _delivery_record(
        record_id=event.record_id,
        source=event.source,
        event_id=event.job_id,
        event_type=event.event_type or event.kind,
        plan_id=plan_id,
        schedule_id="",
        success=event.success,
        deliveries=event.deliveries,
        at=at,
    )
    record |= {"job_id": event.job_id, "route_ids": sorted({d.route_id for d in event.deliveries})[:20]}
    if event.source == AUDIT_SOURCE:
        record["delivery_id"] = event.job_id  # an audit delivery's job is its delivery plan's (§3.11)
    return Change(items=(_delivery_item(record, at, source=event.source),), locks=(f"plan:{plan_id}",))


def _ack_document(ack: AcknowledgementV1, bulk_id: str) -> dict[str, Any]:
    acknowledgement = ack.model_dump(mode="json", exclude={"actor"})
    acknowledgement["actor"] = ack.actor.model_dump(mode="json", include={"actor", "role", "method"})
    return metadata_record(
        ACK_KIND, ack.acknowledgement_id, ack.acknowledged_at, ack.acknowledged_by, (1, 0, 0)
    ) | {
        "acknowledgement_id": ack.acknowledgement_id,
        "bulk_id": bulk_id,
        "route_id": ack.route_id,
        "schedule_id": ack.schedule_id,
        "plan_id": ack.plan_id,
        "provider": ack.provider,
        "owner": ack.owner,
        "acknowledgement_state": ack.acknowledgement_state,
        "previous_state": ack.previous_state,
        "external_ref": ack.external_ref,
        "mode": ack.mode,
        "acknowledgement": acknowledgement,
    }


def acknowledgements_recorded(event: AcknowledgementsRecordedV1, at: EventPosition) -> Change:
    """Acknowledgements: one history item each, and each route's candidate latest state."""
    items: list[Item] = []
    acks: list[RouteAck] = []
    for ordinal, ack in enumerate(event.acknowledgements):
        acknowledged_at = moment(ack.acknowledged_at, at.occurred_at)
        items.append(
            Item(
                item_id=ack.acknowledgement_id,
                metadata_kind=ACK_KIND,
                created_at=acknowledged_at,
                ordinal=ordinal,
                document=_ack_document(ack, event.bulk_id),
                schedule_id=ack.schedule_id,
                plan_id=ack.plan_id,
                providers=unique([ack.provider]),
                acknowledgement_state=ack.acknowledgement_state,
            )
        )
        acks.append(RouteAck(ack.route_id, ack.acknowledgement_state, acknowledged_at, ordinal))
    schedules = {f"schedule:{ack.schedule_id}" for ack in event.acknowledgements}
    return Change(items=tuple(items), acks=latest_per_route(acks), locks=tuple(sorted(schedules)))


def escalation_plan_generated(event: EscalationPlanGeneratedV1, at: EventPosition) -> Change:
    """An escalation plan: one history item (its routes stay with the escalation service)."""
    summary = event.model_dump(mode="json")
    document = metadata_record(
        ESCALATION_PLAN_KIND,
        event.plan_id,
        event.generated_at,
        event.generated_by,
        (event.route_count, event.breached_count, event.outstanding_count),
    ) | {
        "plan_id": event.plan_id,
        "alert_level": event.alert_level,
        "route_count": event.route_count,
        "outstanding_count": event.outstanding_count,
        "breached_count": event.breached_count,
        "escalation_plan": summary,
    }
    item = Item(
        item_id=event.plan_id,
        metadata_kind=ESCALATION_PLAN_KIND,
        created_at=moment(event.generated_at, at.occurred_at),
        ordinal=0,
        document=document,
        alert_level=event.alert_level,
    )
    return Change(items=(item,))


def route_escalated(event: RouteEscalatedV1, at: EventPosition) -> Change:
    """An automatic reminder or escalation of a route: one history item; an escalation marks the route."""
    document = metadata_record(
        ESCALATION_KIND, event.escalation_id, event.escalated_at, "cavra-escalation", (1, 1, 0)
    )
    document |= {
        "escalation_id": event.escalation_id,
        "escalation_kind": event.kind,
        "route_id": event.route_id,
        "plan_id": event.plan_id,
        "schedule_id": event.schedule_id,
        "provider": event.provider,
        "owner": event.owner,
        "escalation_owner": event.escalation_owner,
        "providers": sorted(set(event.providers)),
        "job_id": event.job_id,
        "acknowledgement_minutes": event.acknowledgement_minutes,
        "age_minutes": event.age_minutes,
        "due_at": event.due_at,
        "alert_level": "critical" if event.kind == "escalation" else "warning",
    }
    item = Item(
        item_id=event.escalation_id,
        metadata_kind=ESCALATION_KIND,
        created_at=moment(event.escalated_at, at.occurred_at),
        ordinal=0,
        document=document,
        schedule_id=event.schedule_id,
        plan_id=event.plan_id,
        providers=unique([event.provider, *event.providers]),
        alert_level=document["alert_level"],
    )
    return Change(
        items=(item,), escalations=((event.route_id, event.kind),), locks=(f"schedule:{event.schedule_id}",)
    )
