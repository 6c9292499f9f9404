"""Route history and suppression trends: how decided routes are recorded and summarised.

Owns the route category (taken from the decision's own reason, so it always agrees with the
plan's counters), the flat route history row stored per route decision, and the
`cavra.go-backend-pilot.rollback-drill-routing-suppression-trend.v1` document assembled from
counts the service aggregates in SQL.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from cavra_contracts.timestamps import iso
from cavra_contracts.vocabulary import ALERT_HEALTHY, ALERT_WARNING, DELIVER

from .plan import (
    CALENDAR_REASON,
    CATEGORY_CALENDAR,
    CATEGORY_DELIVER,
    CATEGORY_HEALTHY,
    CATEGORY_MAINTENANCE,
    CATEGORY_OTHER,
    DEFAULT_OWNER,
    HEALTHY_REASON,
    MAINTENANCE_REASON,
    PRODUCT,
    ROUTE_KEY_PREFIX,
)

TREND_SCHEMA = "cavra.go-backend-pilot.rollback-drill-routing-suppression-trend.v1"
TREND_ID_PREFIX = "gordrtrend-"
ROUTE_CATEGORIES = (
    CATEGORY_DELIVER,
    CATEGORY_HEALTHY,
    CATEGORY_MAINTENANCE,
    CATEGORY_CALENDAR,
    CATEGORY_OTHER,
)
SUPPRESSION_CATEGORIES = frozenset(ROUTE_CATEGORIES) - {CATEGORY_DELIVER}
TREND_FILTER_KEYS = ("schedule_id", "provider", "owner", "action", "category")
TREND_ACTION = "suppress"
LATEST_EVENT_LIMIT = 20


def route_category(decision: Mapping[str, Any]) -> str:
    """`deliver` for a delivered route, else why it was suppressed.

    A decision's own suppression category wins; a decision stored without one is classified by
    the reason the decision rules give (healthy schedule, then maintenance window, then calendar).
    """
    if str(decision.get("action") or DELIVER) == DELIVER:
        return CATEGORY_DELIVER
    category = decision.get("category")
    if category in SUPPRESSION_CATEGORIES:
        return str(category)
    return _category_from_reason(decision)


def route_history_row(
    plan: Mapping[str, Any], decision: Mapping[str, Any], *, created_at: str
) -> dict[str, Any]:
    """The flat routing-history row of one route decision of `plan`."""
    plan_id = str(plan.get("plan_id") or "")
    schedule_id = str(plan.get("schedule_id") or decision.get("schedule_id") or "")
    provider = str(decision.get("provider") or "")
    owner = str(decision.get("owner") or DEFAULT_OWNER)
    action = str(decision.get("action") or DELIVER)
    reason = str(decision.get("reason") or "")
    created_at = created_at or str(plan.get("generated_at") or "")
    window = _mapping(decision.get("maintenance_window"))
    availability = _mapping(decision.get("owner_availability"))
    identity = {
        "plan_id": plan_id,
        "schedule_id": schedule_id,
        "provider": provider,
        "owner": owner,
        "action": action,
        "reason": reason,
        "created_at": created_at,
    }
    return {
        "route_id": content_id(ROUTE_KEY_PREFIX, identity),
        "created_at": created_at,
        "plan_id": plan_id,
        "schedule_id": schedule_id,
        "alert_level": str(plan.get("alert_level") or "unknown"),
        "provider": provider,
        "owner": owner,
        "escalation_owner": str(decision.get("escalation_owner") or owner),
        "action": action,
        "category": route_category(decision),
        "reason": reason,
        "acknowledgement_minutes": decision.get("acknowledgement_minutes"),
        "maintenance_window_id": str(window.get("window_id") or ""),
        "maintenance_window_reason": str(window.get("reason") or ""),
        "owner_available": bool(availability.get("available", True)),
        "owner_availability_reason": str(availability.get("reason") or ""),
        "next_due_at": str(plan.get("next_due_at") or ""),
    }


def build_suppression_trend(
    *,
    category_counts: Mapping[str, int],
    owner_counts: Mapping[str, int],
    provider_counts: Mapping[str, int],
    schedule_counts: Mapping[str, int],
    latest_events: Sequence[Mapping[str, Any]],
    filters: Mapping[str, str],
    generated_by: str,
    now: datetime,
) -> dict[str, Any]:
    """The suppression trend over suppressed routes counted by category, owner, provider and schedule.

    `trend_id` covers the filters and counts but no timestamp, so an unchanged read keeps its id.
    `filters` are completed to the five routing-history filters, `action` being `suppress`.
    """
    counts = {
        "category_counts": _sorted_counts(category_counts),
        "owner_counts": _sorted_counts(owner_counts),
        "provider_counts": _sorted_counts(provider_counts),
        "schedule_counts": _sorted_counts(schedule_counts),
    }
    trend_filters = _trend_filters(filters)
    suppressed = sum(counts["category_counts"].values())
    return {
        "schema_version": TREND_SCHEMA,
        "product": PRODUCT,
        "trend_id": content_id(
            TREND_ID_PREFIX, {"generated_by": generated_by, "filters": trend_filters, **counts}
        ),
        "generated_at": iso(now),
        "generated_by": generated_by,
        "alert_level": ALERT_WARNING if suppressed else ALERT_HEALTHY,
        "suppression_event_count": suppressed,
        **counts,
        "maintenance_suppressed_count": counts["category_counts"].get(CATEGORY_MAINTENANCE, 0),
        "calendar_suppressed_count": counts["category_counts"].get(CATEGORY_CALENDAR, 0),
        "healthy_schedule_suppressed_count": counts["category_counts"].get(CATEGORY_HEALTHY, 0),
        "filters": trend_filters,
        "latest_events": [_plain_event(event) for event in latest_events[:LATEST_EVENT_LIMIT]],
    }


def content_id(prefix: str, material: Mapping[str, Any]) -> str:
    """`prefix` + the first 16 hex of SHA-256 over the key-sorted JSON of `material`."""
    encoded = json.dumps(material, sort_keys=True).encode("utf-8")
    return f"{prefix}{hashlib.sha256(encoded).hexdigest()[:16]}"


def _category_from_reason(decision: Mapping[str, Any]) -> str:
    reason = str(decision.get("reason") or "")
    if reason == HEALTHY_REASON:
        return CATEGORY_HEALTHY
    if reason == MAINTENANCE_REASON and isinstance(decision.get("maintenance_window"), Mapping):
        return CATEGORY_MAINTENANCE
    availability = _mapping(decision.get("owner_availability"))
    calendar_reason = str(availability.get("reason") or CALENDAR_REASON)
    if not availability.get("available", True) and reason == calendar_reason:
        return CATEGORY_CALENDAR
    return CATEGORY_OTHER


def _trend_filters(filters: Mapping[str, str]) -> dict[str, str]:
    completed = {key: str(filters.get(key) or "") for key in TREND_FILTER_KEYS}
    completed["action"] = completed["action"] or TREND_ACTION
    return completed


def _sorted_counts(counts: Mapping[str, int]) -> dict[str, int]:
    return {str(key): int(value) for key, value in sorted(counts.items())}


def _plain_event(event: Mapping[str, Any]) -> dict[str, Any]:
    # Rows read back from SQL carry datetimes; the trend is stored and sent as JSON.
    return {key: iso(value) if isinstance(value, datetime) else value for key, value in dict(event).items()}


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
