"""Routing policy rules: which policy applies, what an owner's rule says, and who can be told now.

Owns the effective routing policy (a supplied policy wins per key over the schedule's routing
metadata), active maintenance windows and owner calendar availability. Owner rule lookup and the
acknowledgement SLO precedence live in `cavra_contracts.slo` (the escalation service applies the
same precedence). Everything here is pure; the current time is always passed in as `now`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cavra_contracts.slo import (
    DEFAULT_ACKNOWLEDGEMENT_MINUTES,
    acknowledgement_minutes,
    as_list,
    owner_rule,
    positive_int,
    rule_providers,
)
from cavra_contracts.timestamps import as_utc, iso, parse_timestamp
from cavra_contracts.vocabulary import normalize_provider

__all__ = [
    "DEFAULT_ACKNOWLEDGEMENT_MINUTES",
    "acknowledgement_minutes",
    "active_maintenance_window",
    "effective_routing_policy",
    "owner_availability",
    "owner_rule",
    "positive_int",
    "rule_providers",
]

DEFAULT_WINDOW_ID = "maintenance-window"
DEFAULT_WINDOW_REASON = "maintenance window"
NO_OWNER_CALENDAR = "no owner calendar configured"
OWNER_CALENDAR_UNAVAILABLE = "owner calendar unavailable"
OWNER_CALENDAR_AVAILABLE = "owner calendar available"

# Each group names one policy setting and its alias. Supplying either name supplies the setting,
# otherwise the schedule's always-present empty defaults would shadow an aliased policy value.
_SETTING_NAMES = (
    ("owner_routes", "routing_rules"),
    ("maintenance_windows", "suppression_windows"),
    ("owner_calendars", "calendars"),
)
_SCHEDULE_POLICY_KEYS = frozenset({"owner_routes", "routing_rules", "maintenance_windows", "owner_calendars"})


def effective_routing_policy(
    schedule: Mapping[str, Any],
    routing_policy: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The supplied policy, completed with the schedule's routing settings it does not supply."""
    policy = dict(routing_policy) if isinstance(routing_policy, Mapping) else {}
    for names in _SETTING_NAMES:
        if any(name in policy for name in names):
            continue
        for name in names:
            if name in _SCHEDULE_POLICY_KEYS and name in schedule:
                policy[name] = schedule[name]
    return policy


def active_maintenance_window(
    policy: Mapping[str, Any],
    *,
    schedule_id: str,
    provider: str,
    owner: str,
    now: datetime,
) -> dict[str, Any] | None:
    """The first maintenance window active at `now` (bounds inclusive) that matches the route."""
    windows = policy.get("maintenance_windows", policy.get("suppression_windows", []))
    if not isinstance(windows, list):
        return None
    for window in windows:
        if not isinstance(window, Mapping):
            continue
        span = _active_span(window, now)
        if span is None or not _window_matches(
            window, schedule_id=schedule_id, provider=provider, owner=owner
        ):
            continue
        return {
            "window_id": str(window.get("window_id") or window.get("id") or DEFAULT_WINDOW_ID),
            "start_at": iso(span[0]),
            "end_at": iso(span[1]),
            "reason": str(window.get("reason") or window.get("description") or DEFAULT_WINDOW_REASON),
        }
    return None


def owner_availability(policy: Mapping[str, Any], owner: str, now: datetime) -> dict[str, Any]:
    """Whether the owner's calendar lets a route reach them at `now`, and why."""
    calendars = policy.get("owner_calendars", policy.get("calendars", {}))
    calendar = calendars.get(owner) if isinstance(calendars, Mapping) else None
    if not isinstance(calendar, Mapping):
        return {"available": True, "reason": NO_OWNER_CALENDAR}
    blackouts = calendar.get("unavailable_windows", calendar.get("blackout_windows", []))
    for window in blackouts if isinstance(blackouts, list) else []:
        span = _active_span(window, now) if isinstance(window, Mapping) else None
        if span is not None:
            return {
                "available": False,
                "reason": str(window.get("reason") or OWNER_CALENDAR_UNAVAILABLE),
                "start_at": iso(span[0]),
                "end_at": iso(span[1]),
            }
    if calendar.get("available") is False:
        return {"available": False, "reason": str(calendar.get("reason") or OWNER_CALENDAR_UNAVAILABLE)}
    return {"available": True, "reason": str(calendar.get("reason") or OWNER_CALENDAR_AVAILABLE)}


def _window_matches(window: Mapping[str, Any], *, schedule_id: str, provider: str, owner: str) -> bool:
    matchers = (
        ("schedule_ids", schedule_id, str.lower),
        ("providers", provider, normalize_provider),
        ("owners", owner, str.lower),
    )
    for field, value, fold in matchers:
        configured = {fold(item) for item in as_list(window.get(field, []))}
        if configured and fold(value) not in configured:
            return False
    return True


def _active_span(window: Mapping[str, Any], now: datetime) -> tuple[datetime, datetime] | None:
    start = parse_timestamp(window.get("start_at") or window.get("starts_at"))
    end = parse_timestamp(window.get("end_at") or window.get("ends_at"))
    if start is None or end is None or not start <= as_utc(now) <= end:
        return None
    return start, end
