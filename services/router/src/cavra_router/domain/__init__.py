"""Pure routing rules: effective policy, owner routes, decisions, history rows, suppression trends.

Nothing here touches NATS or the database, and the current time is always passed in as `now`.
Plan ids are the caller's; route and trend ids are content hashes.
"""

from __future__ import annotations

from cavra_contracts.vocabulary import alert_level, normalize_provider, normalize_providers

from .history import (
    ROUTE_CATEGORIES,
    SUPPRESSION_CATEGORIES,
    TREND_SCHEMA,
    build_suppression_trend,
    content_id,
    route_category,
    route_history_row,
)
from .plan import (
    EVENT_SCHEMA,
    EVENT_TYPE,
    PLAN_SCHEMA,
    PlanTooLarge,
    RouteTarget,
    build_notification_event,
    build_notification_plan,
    build_owner_routes,
    decide_route,
    requested_provider_list,
    route_key,
    route_targets,
)
from .policy import (
    acknowledgement_minutes,
    active_maintenance_window,
    effective_routing_policy,
    owner_availability,
    owner_rule,
    rule_providers,
)

__all__ = [
    "EVENT_SCHEMA",
    "EVENT_TYPE",
    "PLAN_SCHEMA",
    "PlanTooLarge",
    "ROUTE_CATEGORIES",
    "RouteTarget",
    "SUPPRESSION_CATEGORIES",
    "TREND_SCHEMA",
    "acknowledgement_minutes",
    "active_maintenance_window",
    "alert_level",
    "build_notification_event",
    "build_notification_plan",
    "build_owner_routes",
    "build_suppression_trend",
    "content_id",
    "decide_route",
    "effective_routing_policy",
    "normalize_provider",
    "normalize_providers",
    "owner_availability",
    "owner_rule",
    "requested_provider_list",
    "route_category",
    "route_history_row",
    "route_key",
    "route_targets",
    "rule_providers",
]
