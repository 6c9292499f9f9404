"""Pure escalation rules: the §3.6 escalation plan, and the reminder / escalation timers of a route.

Nothing here touches NATS or the database; the current time is always passed in as ``now``.
"""

from __future__ import annotations

from .plan import (
    ROUTE_FIELDS,
    EscalationPlan,
    RouteRow,
    SloLookup,
    SourceRoute,
    age_centiminutes,
    age_minutes,
    alert_level,
    build_escalation_plan,
    is_acknowledged,
    is_breached,
    plan_summary,
    recommended_action,
    route_dict,
    route_line,
    routes_digest,
)
from .timers import (
    ESCALATION,
    REMINDER,
    TrackedRoute,
    deliver_command,
    escalated_event,
    job_id,
    next_due,
    recipients,
    step,
    tracked_routes,
)

__all__ = [
    "ESCALATION",
    "REMINDER",
    "ROUTE_FIELDS",
    "EscalationPlan",
    "RouteRow",
    "SloLookup",
    "SourceRoute",
    "TrackedRoute",
    "age_centiminutes",
    "age_minutes",
    "alert_level",
    "build_escalation_plan",
    "plan_summary",
    "route_line",
    "routes_digest",
    "deliver_command",
    "escalated_event",
    "is_acknowledged",
    "is_breached",
    "job_id",
    "next_due",
    "recipients",
    "recommended_action",
    "route_dict",
    "step",
    "tracked_routes",
]
