"""Owner rules and the acknowledgement SLO precedence (spec §3.4.5), shared by router and escalation.

The router stamps each route with its SLO when it plans; the escalation service recomputes it
from the escalation request's policy with the route's stored value as the fallback (spec §3.6).
Both read the same rules here, so the two can never disagree about which value wins:
**owner rule > policy ``acknowledgement_minutes`` > ``default_slo.acknowledgement_minutes`` >
the caller's default > 60**. Everything here is pure and total over any JSON-like input.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from cavra_contracts.limits import MAX_ACKNOWLEDGEMENT_MINUTES
from cavra_contracts.vocabulary import normalize_provider, normalize_providers

DEFAULT_ACKNOWLEDGEMENT_MINUTES: Final = 60
"""The SLO when nothing names one."""


def owner_rule(policy: Mapping[str, Any], owner: str) -> dict[str, Any]:
    """The routing rule for ``owner`` (``owner_routes``, alias ``routing_rules``).

    Object form: the rule keyed by the owner. List form: every entry whose ``owners`` is empty or
    names the owner, merged in order (later entries win).
    """
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
    """The providers a rule names (alias ``notification_providers``, one string allowed), sorted."""
    configured = rule.get("providers", rule.get("notification_providers", []))
    return sorted(normalize_providers(as_list(configured)))


def default_acknowledgement_minutes(policy: Mapping[str, Any], default: Any = None) -> int:
    """The policy-level SLO: ``acknowledgement_minutes`` > ``default_slo.acknowledgement_minutes`` >
    ``default`` > 60, as a positive whole number (else 60) no larger than the limit."""
    slo = policy.get("default_slo")
    defaults = slo if isinstance(slo, Mapping) else {}
    minutes = (
        policy.get("acknowledgement_minutes")
        or defaults.get("acknowledgement_minutes")
        or default
        or DEFAULT_ACKNOWLEDGEMENT_MINUTES
    )
    return bounded_minutes(minutes)


def acknowledgement_minutes(
    policy: Mapping[str, Any],
    rule: Mapping[str, Any],
    provider: str,
    *,
    default: Any = None,
) -> int:
    """Minutes a route may stay unacknowledged: owner rule > policy > ``default_slo`` > ``default`` > 60.

    The rule's value (alias ``ack_minutes``) only counts when the rule lists no providers or lists
    this one. Whatever wins must be a positive integer, else the answer is 60; above
    ``MAX_ACKNOWLEDGEMENT_MINUTES`` (only a value stored before that limit existed) it is clamped
    to it, so the answer always fits an ``integer`` column.
    """
    minutes: Any = default_acknowledgement_minutes(policy, default)
    providers = rule_providers(rule)
    if rule and (not providers or normalize_provider(provider) in providers):
        minutes = rule.get("acknowledgement_minutes", rule.get("ack_minutes", minutes))
    return bounded_minutes(minutes)


def bounded_minutes(value: Any) -> int:
    """``value`` as a positive whole number of minutes (else 60), clamped to the limit."""
    return min(positive_int(value, DEFAULT_ACKNOWLEDGEMENT_MINUTES), MAX_ACKNOWLEDGEMENT_MINUTES)


def positive_int(value: Any, default: int) -> int:
    """``value`` as an integer the way ``int()`` reads it, or ``default`` when unreadable or not positive."""
    try:
        parsed = int(value)
    except (TypeError, ValueError, OverflowError):
        return default
    return parsed if parsed > 0 else default


def as_list(value: object, *, strings_only: bool = True) -> list[Any]:
    """A matcher or provider setting as a list; a single string counts as a one-item list."""
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, str)] if strings_only else list(value)


def _rule_applies_to(entry: Mapping[str, Any], owner: str) -> bool:
    owners = {str(item) for item in as_list(entry.get("owners", []), strings_only=False)}
    return not owners or owner in owners


__all__ = [
    "DEFAULT_ACKNOWLEDGEMENT_MINUTES",
    "acknowledgement_minutes",
    "as_list",
    "bounded_minutes",
    "default_acknowledgement_minutes",
    "owner_rule",
    "positive_int",
    "rule_providers",
]
