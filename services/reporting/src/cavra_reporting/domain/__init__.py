"""Pure rules of the reporting read models: the vocabulary (``model``), each event's change (``events``)."""

from cavra_reporting.domain.audit import audit_delivery_planned, audit_package_generated
from cavra_reporting.domain.events import (
    acknowledgements_recorded,
    escalation_plan_generated,
    message_delivered,
    notification_delivered,
    notification_planned,
    route_escalated,
)
from cavra_reporting.domain.evidence import evidence_fields, evidence_recorded
from cavra_reporting.domain.model import (
    AUDIT_PROVIDER,
    Change,
    CounterDeltas,
    EventPosition,
    Item,
    PlanChange,
    Route,
    RouteAck,
    alert_level,
    counter_names,
    latest_per_route,
    success_rate,
)

__all__ = [
    "AUDIT_PROVIDER",
    "Change",
    "CounterDeltas",
    "EventPosition",
    "Item",
    "PlanChange",
    "Route",
    "RouteAck",
    "acknowledgements_recorded",
    "audit_delivery_planned",
    "audit_package_generated",
    "alert_level",
    "counter_names",
    "escalation_plan_generated",
    "evidence_fields",
    "evidence_recorded",
    "latest_per_route",
    "message_delivered",
    "notification_delivered",
    "notification_planned",
    "route_escalated",
    "success_rate",
]
