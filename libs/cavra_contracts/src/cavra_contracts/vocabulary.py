"""The words every service shares: readiness states, alert levels, route actions and categories,
and how a provider name is normalised.

One home for each: a service that needs one of these imports it from here, never keeps a copy.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, Literal, get_args

ReadinessStatus = Literal["ready", "due_soon", "not_requested", "needs_attention"]
"""A schedule's readiness (spec §3.2)."""
READY: Final = "ready"
DUE_SOON: Final = "due_soon"
NOT_REQUESTED: Final = "not_requested"
NEEDS_ATTENTION: Final = "needs_attention"
NOTIFYING_STATES: Final = frozenset({DUE_SOON, NEEDS_ATTENTION})
"""The readiness states that plan a notification by themselves."""

AlertLevel = Literal["healthy", "warning", "critical"]
ALERT_HEALTHY: Final = "healthy"
ALERT_WARNING: Final = "warning"
ALERT_CRITICAL: Final = "critical"

RouteAction = Literal["deliver", "suppress"]
DELIVER: Final = "deliver"
SUPPRESS: Final = "suppress"

RouteCategory = Literal["deliver", "healthy_schedule", "maintenance_window", "owner_calendar", "other"]
"""Why a route was delivered or suppressed (``deliver`` for delivered routes)."""
ROUTE_CATEGORIES: Final = tuple(get_args(RouteCategory))

DeliveryOutcome = Literal[
    "pending", "delivered", "failed", "permanent_failure", "unconfigured", "quarantined"
]
"""How one route's delivery through one connector ended (``pending`` until it has)."""
FINAL_OUTCOMES: Final = frozenset(set(get_args(DeliveryOutcome)) - {"pending"})


def alert_level(status: str) -> AlertLevel:
    """The alert level of a readiness state: stale is critical, due soon a warning, else healthy."""
    if status == NEEDS_ATTENTION:
        return ALERT_CRITICAL
    if status == DUE_SOON:
        return ALERT_WARNING
    return ALERT_HEALTHY


def normalize_provider(name: str) -> str:
    """A provider name as routing and delivery compare it: trimmed, lower-case, ``-`` written ``_``."""
    return name.strip().lower().replace("-", "_")


def normalize_providers(names: Iterable[object]) -> list[str]:
    """The normalised provider names among ``names``, first occurrence order, blanks and non-text dropped."""
    found: list[str] = []
    for name in names:
        if isinstance(name, str) and (provider := normalize_provider(name)) and provider not in found:
            found.append(provider)
    return found
