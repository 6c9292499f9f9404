"""The acknowledgement audit package, its delivery plan and delivery job (spec §3.11, §4.4), pure.

A package covers the delivered routes of the current plan of each schedule matching the filters
(not every historical plan, spec §9), each with its latest acknowledgement state. Its id is the
spec's ``gordackaudit-`` content hash, over ``generated_at`` and the chain position too: every
package is its own entry of the signed chain, never an overwrite of an earlier one (spec §9).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from cavra_contracts.acknowledgements import CLEARING_STATES, OUTSTANDING
from cavra_contracts.actors import ActorV1
from cavra_contracts.audit import (
    AUDIT_DELIVERY_EVENT_TYPE,
    AUDIT_DELIVERY_PLAN_SCHEMA,
    AUDIT_DELIVERY_SCHEMA,
    AUDIT_PACKAGE_SCHEMA,
    AuditCountsV1,
    AuditFiltersV1,
    requested_providers,
)
from cavra_contracts.deliveries import (
    AUDIT_SOURCE,
    MAX_JOB_DATA_BYTES,
    DeliverMessageV1,
    DeliveryTargetV1,
    FactV1,
    MessageContentV1,
)
from cavra_contracts.notifications import DeliveryOptions
from cavra_contracts.timestamps import iso
from cavra_contracts.vocabulary import ALERT_CRITICAL, ALERT_HEALTHY, normalize_provider

PRODUCT: Final = "CAVRA"
AUDIT_ID_PREFIX: Final = "gordackaudit-"
DELIVERY_ID_PREFIX: Final = "gordackdelivery-"
DEFAULT_DELIVERY_PROVIDER: Final = "webhook"
DELIVERY_KIND: Final = "rollback_drill_acknowledgement_audit"
PACKAGE_CONTROLS: Final = (
    "audit-package-derived-from-public-safe-acknowledgement-metadata",
    "audit-package-covers-the-current-plan-of-each-schedule",
    "audit-package-signed-and-hash-chained-for-offline-verification",
)
DELIVERY_CONTROLS: Final = (
    "audit-delivery-routes-omit-acknowledgement-notes",
    "connector-delivery-evidence-redacts-secrets",
    "audit-delivery-does-not-mutate-runtime-mode",
)
ROUTE_EVENT_FIELDS: Final = (
    "route_id",
    "schedule_id",
    "plan_id",
    "provider",
    "owner",
    "escalation_owner",
    "acknowledgement_state",
    "acknowledged",
    "acknowledged_by",
    "acknowledged_at",
    "external_ref",
    "acknowledgement_id",
)
"""A route as the delivery event shows it: without ``notes`` (spec §3.11)."""
JOB_DATA_HEADROOM: Final = 512
"""Bytes of a job's data kept for the route counts and JSON punctuation."""


@dataclass(frozen=True)
class RouteRow:
    """One delivered route of a current plan with its latest acknowledgement (the ``routes`` table)."""

    route_id: str
    schedule_id: str
    plan_id: str
    provider: str
    owner: str
    escalation_owner: str
    route_created_at: datetime
    state: str = OUTSTANDING
    acknowledgement_id: str = ""
    acknowledged_by: str = ""
    acknowledged_at: datetime | None = None
    external_ref: str = ""
    notes: str = ""


def content_id(prefix: str, material: Mapping[str, Any]) -> str:
    """``prefix`` + the first 16 hex of SHA-256 over the key-sorted JSON of ``material``."""
    encoded = json.dumps(material, sort_keys=True).encode("utf-8")
    return f"{prefix}{hashlib.sha256(encoded).hexdigest()[:16]}"


def route_entry(row: RouteRow) -> dict[str, Any]:
    """A route of the package: its latest acknowledgement state, or ``outstanding``."""
    return {
        "route_id": row.route_id,
        "schedule_id": row.schedule_id,
        "plan_id": row.plan_id,
        "provider": row.provider,
        "owner": row.owner,
        "escalation_owner": row.escalation_owner,
        "route_action": "deliver",
        "route_created_at": iso(row.route_created_at),
        "acknowledgement_state": row.state,
        "acknowledged": row.state in CLEARING_STATES,
        "acknowledged_by": row.acknowledged_by,
        "acknowledged_at": iso(row.acknowledged_at) if row.acknowledged_at else "",
        "external_ref": row.external_ref,
        "notes": row.notes,
        "acknowledgement_id": row.acknowledgement_id,
    }


def counts(entries: Sequence[Mapping[str, Any]]) -> AuditCountsV1:
    """Spec §3.11 counts: ``outstanding`` = not acknowledged (never-acked, escalated and dismissed)."""
    states = [entry["acknowledgement_state"] for entry in entries]
    return AuditCountsV1(
        route_count=len(entries),
        acknowledgement_count=sum(1 for entry in entries if entry["acknowledgement_id"]),
        acknowledged_count=states.count("acknowledged"),
        resolved_count=states.count("resolved"),
        escalated_count=states.count("escalated"),
        dismissed_count=states.count("dismissed"),
        outstanding_count=sum(1 for entry in entries if not entry["acknowledged"]),
    )


def alert_level(summary: AuditCountsV1) -> str:
    """Spec §4.4: critical when any route is escalated or not acknowledged, else healthy."""
    return ALERT_CRITICAL if summary.escalated_count or summary.outstanding_count else ALERT_HEALTHY


def build_package(
    rows: Sequence[RouteRow], *, filters: AuditFiltersV1, actor: ActorV1, now: datetime, sequence: int
) -> dict[str, Any]:
    """The package document for chain position ``sequence`` (:mod:`.chain` adds the link under the lock)."""
    entries = [route_entry(row) for row in sorted(rows, key=_route_order)]
    summary = counts(entries)
    generated_at = iso(now)
    filter_values = filters.model_dump(mode="json")
    audit_id = content_id(
        AUDIT_ID_PREFIX,
        {
            "generated_by": actor.actor,
            "filters": filter_values,
            "route_entries": entries,
            "generated_at": generated_at,
            "sequence": sequence,
        },
    )
    plans = sorted({(entry["schedule_id"], entry["plan_id"]) for entry in entries})
    return {
        "schema_version": AUDIT_PACKAGE_SCHEMA,
        "product": PRODUCT,
        "audit_id": audit_id,
        "generated_at": generated_at,
        "generated_by": actor.actor,
        "actor": {"actor": actor.actor, "role": actor.role, "method": actor.method},
        "alert_level": alert_level(summary),
        **summary.model_dump(mode="json"),
        "filters": filter_values,
        "plans": [{"schedule_id": schedule, "plan_id": plan} for schedule, plan in plans],
        "routes": entries,
        "controls": list(PACKAGE_CONTROLS),
    }


def _route_order(row: RouteRow) -> tuple[str, str, str, str]:
    return (row.schedule_id, row.owner, row.provider, row.route_id)


# --- delivery -------------------------------------------------------------------------------


def build_delivery_plan(
    package: Mapping[str, Any],
    *,
    requested: str,
    available: Sequence[str],
    cadence: str,
    schedule_ref: str,
    next_delivery_at: str,
    now: datetime,
) -> dict[str, Any]:
    """Spec §3.11 delivery plan: the available providers (or webhook), kept to the requested ones."""
    eligible = [normalize_provider(name) for name in available] or [DEFAULT_DELIVERY_PROVIDER]
    wanted = requested_providers(requested)
    selected = [name for name in eligible if name in wanted] if wanted else eligible
    generated_by = str(package["generated_by"])
    delivery_id = content_id(
        DELIVERY_ID_PREFIX,
        {
            "audit_id": package["audit_id"],
            "eligible": selected,
            "generated_by": generated_by,
            "cadence": cadence,
            "schedule_ref": schedule_ref,
            "next_delivery_at": next_delivery_at,
        },
    )
    return {
        "schema_version": AUDIT_DELIVERY_PLAN_SCHEMA,
        "product": PRODUCT,
        "delivery_id": delivery_id,
        "audit_id": package["audit_id"],
        "generated_at": iso(now),
        "generated_by": generated_by,
        "cadence": cadence,
        "schedule_ref": schedule_ref,
        "next_delivery_at": next_delivery_at,
        "requested_provider": requested,
        "requested_providers": wanted,
        "selected_providers": selected,
        "destination_count": len(selected),
        "route_count": package["route_count"],
        "outstanding_count": package["outstanding_count"],
        "escalated_count": package["escalated_count"],
        "alert_level": package["alert_level"],
        "filters": package["filters"],
        "controls": list(DELIVERY_CONTROLS),
    }


def delivery_event(
    package: Mapping[str, Any], plan: Mapping[str, Any], signature: Mapping[str, Any]
) -> dict[str, Any]:
    """The spec §3.11 delivery event: summary, plan, routes without notes, and the signed reference."""
    critical = package["alert_level"] == ALERT_CRITICAL
    summary = {
        key: package[key]
        for key in (
            "audit_id",
            "route_count",
            "acknowledged_count",
            "resolved_count",
            "escalated_count",
            "dismissed_count",
            "outstanding_count",
            "alert_level",
            "filters",
        )
    }
    summary |= {key: plan[key] for key in ("delivery_id", "cadence", "schedule_ref", "next_delivery_at")}
    event = {
        "schema_version": AUDIT_DELIVERY_SCHEMA,
        "event_type": AUDIT_DELIVERY_EVENT_TYPE,
        "product": PRODUCT,
        "session_id": plan["delivery_id"] or package["audit_id"],
        "generated_at": plan["generated_at"],
        "generated_by": plan["generated_by"],
        "title": _title(package),
        "description": _description(package),
        "alert_level": package["alert_level"],
        "blocked_count": package["outstanding_count"] + package["escalated_count"],
        "max_severity": "high" if critical else "low",
        "audit_package_summary": summary,
        "signed_package": dict(signature),
        "delivery_plan": dict(plan),
        "controls": list(DELIVERY_CONTROLS),
    }
    routes = _routes_within(
        [{key: route[key] for key in ROUTE_EVENT_FIELDS} for route in package["routes"]],
        budget=MAX_JOB_DATA_BYTES - _json_size(event) - JOB_DATA_HEADROOM,
    )
    return event | {
        "routes": routes,
        "routes_included": len(routes),
        "routes_omitted": len(package["routes"]) - len(routes),
    }


def _json_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":")))


def _routes_within(routes: list[dict[str, Any]], *, budget: int) -> list[dict[str, Any]]:
    """The first routes whose JSON fits ``budget``: a delivery job's data is bounded, the signed
    package (``signed_package``) always has every route."""
    kept: list[dict[str, Any]] = []
    used = 0
    for route in routes:
        used += _json_size(route) + 1
        if used > budget:
            break
        kept.append(route)
    return kept


def _title(package: Mapping[str, Any]) -> str:
    return f"CAVRA rollback drill acknowledgement audit {package['alert_level']}"


def _description(package: Mapping[str, Any]) -> str:
    return (
        f"Audit package {package['audit_id']} has {package['outstanding_count']} outstanding route(s) "
        f"and {package['escalated_count']} escalated route(s)."
    )


def delivery_job(
    package: Mapping[str, Any],
    plan: Mapping[str, Any],
    signature: Mapping[str, Any],
    delivery: DeliveryOptions,
) -> DeliverMessageV1:
    """The delivery service's job: one target per selected provider, source ``AUDIT_SOURCE``."""
    facts = [
        FactV1(title="Audit package", value=str(package["audit_id"])),
        FactV1(title="Routes", value=str(package["route_count"])),
        FactV1(title="Outstanding", value=str(package["outstanding_count"])),
        FactV1(title="Escalated", value=str(package["escalated_count"])),
        FactV1(title="Chain sequence", value=str(signature["sequence"])),
        FactV1(title="Signing key", value=str(signature["key_id"])),
    ]
    content = MessageContentV1(
        kind=DELIVERY_KIND,
        event_type=AUDIT_DELIVERY_EVENT_TYPE,
        title=_title(package),
        text=_description(package),
        severity=package["alert_level"],
        facts=facts,
        data=delivery_event(package, plan, signature),
    )
    targets = [
        DeliveryTargetV1(target_key=provider, provider=provider) for provider in plan["selected_providers"]
    ]
    return DeliverMessageV1(
        job_id=plan["delivery_id"], source=AUDIT_SOURCE, content=content, targets=targets, delivery=delivery
    )
