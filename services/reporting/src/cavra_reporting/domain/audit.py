"""What the acknowledgement-audit events change in the read models (pure, no I/O): one history item each.

A package and a delivery plan are shown as the original evidence store kept them (spec §3.0b, §3.11):
a metadata record with the package's summary (``acknowledgement_audit_package``) or the delivery plan
(``acknowledgement_audit_delivery_plan``), never the routes — the signed envelope is the
acknowledgement service's (``AuditPackageQueryV1``). Their ``connector_delivery_source`` is the audit
delivery source by kind (``Item.source_key``); the delivery itself is a ``MessageDeliveredV1`` job
(``events.message_delivered``). Audit schedules and refused audit requests are no history kind of
§3.0b and move no dashboard figure, so the read models do not read them.
"""

from __future__ import annotations

from typing import Any

from cavra_contracts.actors import ActorV1
from cavra_contracts.audit import (
    AUDIT_DELIVERY_PLAN_KIND,
    AUDIT_PACKAGE_KIND,
    AuditDeliveryPlannedV1,
    AuditPackageGeneratedV1,
)
from cavra_contracts.timestamps import iso
from cavra_reporting.domain.events import metadata_record, moment
from cavra_reporting.domain.model import AUDIT_PROVIDER, Change, EventPosition, Item, unique


def _actor(actor: ActorV1) -> dict[str, Any]:
    return actor.model_dump(mode="json", include={"actor", "role", "method"})


def audit_package_generated(event: AuditPackageGeneratedV1, at: EventPosition) -> Change:
    """A signed audit package: one history item with its summary and the reference of its envelope.

    Its schedule and provider are its filters' (a package over every provider names none: the routes
    it covers stay in the signed envelope)."""
    counts = event.counts
    summary = event.model_dump(mode="json", exclude={"actor"}) | {"actor": _actor(event.actor)}
    document = metadata_record(
        AUDIT_PACKAGE_KIND,
        event.audit_id,
        event.generated_at,
        event.generated_by,
        (counts.route_count, counts.outstanding_count + counts.escalated_count, counts.outstanding_count),
    ) | {
        "audit_id": event.audit_id,
        "sequence": event.sequence,
        "payload_sha256": event.payload_sha256,
        "previous_hash": event.previous_hash,
        "key_id": event.key_id,
        "schedule_id": event.filters.schedule_id,
        "provider": event.filters.provider,
        "owner": event.filters.owner,
        "alert_level": event.alert_level,
        "trigger": event.trigger,
        "plan_ids": event.plan_ids,
        "filters": event.filters.model_dump(mode="json"),
        **counts.model_dump(mode="json"),
        "acknowledgement_audit_package": summary,
    }
    item = Item(
        item_id=event.audit_id,
        metadata_kind=AUDIT_PACKAGE_KIND,
        created_at=moment(event.generated_at, at.occurred_at),
        ordinal=0,
        document=document,
        schedule_id=event.filters.schedule_id,
        providers=unique([event.filters.provider]),
        alert_level=event.alert_level,
    )
    return Change(items=(item,))


def audit_delivery_planned(event: AuditDeliveryPlannedV1, at: EventPosition) -> Change:
    """An audit package's delivery plan: one history item; its selected providers count among the
    dashboard's audit delivery providers."""
    generated_at = iso(at.occurred_at)
    plan = event.model_dump(mode="json", exclude={"actor"}) | {
        "generated_at": generated_at,
        "generated_by": event.actor.actor,
        "destination_count": len(event.selected_providers),
        "actor": _actor(event.actor),
    }
    document = metadata_record(
        AUDIT_DELIVERY_PLAN_KIND,
        event.delivery_id,
        generated_at,
        event.actor.actor,
        (len(event.selected_providers), event.outstanding_count + event.escalated_count, 0),
    ) | {
        "delivery_id": event.delivery_id,
        "audit_id": event.audit_id,
        "sequence": event.sequence,
        "cadence": event.cadence,
        "schedule_ref": event.schedule_ref,
        "schedule_ref_id": event.schedule_ref_id,
        "next_delivery_at": event.next_delivery_at,
        "requested_provider": event.requested_provider,
        "selected_providers": event.selected_providers,
        "route_count": event.route_count,
        "outstanding_count": event.outstanding_count,
        "escalated_count": event.escalated_count,
        "alert_level": event.alert_level,
        "acknowledgement_audit_delivery_plan": plan,
    }
    providers = unique(event.selected_providers)
    item = Item(
        item_id=event.delivery_id,
        metadata_kind=AUDIT_DELIVERY_PLAN_KIND,
        created_at=at.occurred_at,
        ordinal=0,
        document=document,
        providers=providers,
        alert_level=event.alert_level,
        counters=tuple(f"{AUDIT_PROVIDER}{provider}" for provider in providers),
    )
    return Change(items=(item,))
