"""Routing policy rules: which policy applies, what an owner's rule says, and who can be told now.

Owns the effective routing policy (a supplied policy wins per key over the schedule's routing
metadata), owner rule lookup (object and list forms), the acknowledgement SLO precedence, active
maintenance windows and owner calendar availability, and the provider-name normalisation every
routing rule shares. Everything here is pure; the current time is always passed in as `now`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cavra_contracts.limits import MAX_ACKNOWLEDGEMENT_MINUTES
from cavra_contracts.timestamps import as_utc, iso, parse_timestamp
from cavra_contracts.vocabulary import normalize_provider, normalize_providers

DEFAULT_ACKNOWLEDGEMENT_MINUTES = 60
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


def owner_rule(policy: Mapping[str, Any], owner: str) -> dict[str, Any]:
    """The routing rule for `owner`; in list form every matching entry is merged, later ones winning."""
    rules = policy.get("owner_routes", policy.get("routing_rules", {}))
    if isinstance(rules, Mapping):
        rule = rules.get(owner)
        return dict(rule) if isinstance(rule, Mapping) else {}
    if not isinstance(rules, list):
        return {}
    merged: dict[str, Any] = {}
    for entry in rules:
        if isinstance(entry, Mapping) and _rule_applies_to(entry, owner):
            merged.update(entry)
    return merged


def rule_providers(rule: Mapping[str, Any]) -> list[str]:
    """The providers a rule names (alias `notification_providers`, one string allowed), sorted."""
    configured = rule.get("providers", rule.get("notification_providers", []))
    return sorted(normalize_providers(_as_list(configured)))


def acknowledgement_minutes(
    policy: Mapping[str, Any],
    rule: Mapping[str, Any],
    provider: str,
    *,
    default: Any = None,
) -> int:
    """Minutes a route may stay unacknowledged: owner rule > policy > `default_slo` > `default` > 60.

    The rule's value (alias `ack_minutes`) only counts when the rule lists no providers or lists
    this one. Whatever wins must be a positive integer, else the answer is 60; above
    `MAX_ACKNOWLEDGEMENT_MINUTES` (only a value stored before that limit existed) it is clamped
    to it, so the answer always fits the route history's `integer` column.
    """
    slo = policy.get("default_slo")
    defaults = slo if isinstance(slo, Mapping) else {}
    minutes = (
        policy.get("acknowledgement_minutes")
        or defaults.get("acknowledgement_minutes")
        or default
        or DEFAULT_ACKNOWLEDGEMENT_MINUTES
    )
    providers = rule_providers(rule)
    if rule and (not providers or normalize_provider(provider) in providers):
        minutes = rule.get("acknowledgement_minutes", rule.get("ack_minutes", minutes))
    return min(positive_int(minutes, DEFAULT_ACKNOWLEDGEMENT_MINUTES), MAX_ACKNOWLEDGEMENT_MINUTES)


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


def positive_int(value: Any, default: int) -> int:
    """`value` as an integer the way `int()` reads it, or `default` when unreadable or not positive."""
    try:
        parsed = int(value)
    except (TypeError, ValueError, OverflowError):
        return default
    return parsed if parsed > 0 else default


def _rule_applies_to(entry: Mapping[str, Any], owner: str) -> bool:
    owners = {str(item) for item in _as_list(entry.get("owners", []), strings_only=False)}
    return not owners or owner in owners


def _window_matches(window: Mapping[str, Any], *, schedule_id: str, provider: str, owner: str) -> bool:
    matchers = (
        ("schedule_ids", schedule_id, str.lower),
        ("providers", provider, normalize_provider),
        ("owners", owner, str.lower),
    )
    for field, value, fold in matchers:
        configured = {fold(item) for item in _as_list(window.get(field, []))}
        if configured and fold(value) not in configured:
            return False
    return True


def _active_span(window: Mapping[str, Any], now: datetime) -> tuple[datetime, datetime] | None:
    start = parse_timestamp(window.get("start_at") or window.get("starts_at"))
    end = parse_timestamp(window.get("end_at") or window.get("ends_at"))
    if start is None or end is None or not start <= as_utc(now) <= end:
        return None
    return start, end


def _as_list(value: object, *, strings_only: bool = True) -> list[Any]:
    """A matcher or provider setting as a list; a single string counts as a one-item list."""
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, str)] if strings_only else list(value)
