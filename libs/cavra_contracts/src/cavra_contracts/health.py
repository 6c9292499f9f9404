"""Worker health and health alerts of the retry worker of each monitored family (spec §3.14-3.15, §4.7).

One computation for every family in :data:`~cavra_contracts.families.MONITORED_FAMILIES`; the family
only picks the public names (:data:`HEALTH_NAMES`): the audit family answers with the field names of
``…worker-health.v1``, the recovery escalation and executive report families with those of
``…recovery-escalation-retry-health.v1``.

A health report is a query and is never stored (the original persists one on every read). Its
``health_id`` hashes what the situation is (family, latest run, latest retry plan, alert categories and
their counts), never the time, so asking twice in the same situation gives the same id and an alert
about it is suppressed inside ``suppression_window_minutes``. Alert plans and their acknowledgements
are stored by the delivery service (its ``health`` package) and announced as :class:`RecordedEvent`\\ s.
"""

from __future__ import annotations

from typing import Any, ClassVar, Final, Literal

from pydantic import Field

from cavra_contracts.actors import ActorV1
from cavra_contracts.base import Contract, UtcDatetime
from cavra_contracts.evidence import RecordedEvent
from cavra_contracts.failures import RequestRefused
from cavra_contracts.families import MonitoredFamily
from cavra_contracts.health_names import (
    CRITICAL_RULES,
    HEALTH_FIELDS,
    HEALTH_NAMES,
    RULES,
    HealthNames,
    Rule,
    health_names,
)
from cavra_contracts.limits import (
    MAX_ID_LENGTH,
    MAX_OFFSET,
    MAX_PLAN_ID_LENGTH,
    MAX_PROVIDER_LENGTH,
    MAX_PROVIDER_SELECTION_LENGTH,
    MAX_REF_LENGTH,
    MAX_TEXT_LENGTH,
)
from cavra_contracts.notifications import DeliveryOptions
from cavra_contracts.subjects import MessageSpec

SERVICE = "delivery"

MAX_HEALTH_MINUTES: Final = 10_080
"""``expected_interval_minutes``, ``stale_metadata_minutes`` and ``suppression_window_minutes``: a week."""
DEFAULT_SUPPRESSION_WINDOW_MINUTES: Final = 60
DEFAULT_MAX_ALERTS: Final = 20
MAX_ALERTS: Final = 100
MAX_HEALTH_HISTORY_LIMIT: Final = 500
MAX_NOTES_LENGTH: Final = 2000
MAX_LISTED: Final = 10
"""Failed deliveries and latest runs a health report lists (the counts cover all)."""
MAX_OUTSTANDING_LISTED: Final = 20

HealthAlertState = Literal["acknowledged", "dismissed", "escalated", "resolved"]
HEALTH_ALERT_STATES: Final = ("acknowledged", "dismissed", "escalated", "resolved")
DONE_STATES: Final = frozenset({"acknowledged", "resolved"})
"""States that clear a required provider of an alert (spec §4.7)."""
STATE_PROBLEM: Final = "acknowledgement_state must be acknowledged, dismissed, escalated, or resolved"


class HealthWindowV1(Contract):
    """The thresholds of a health report; ``None``: the family's defaults (30/120, executive 60/180)."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "qry", SERVICE, "health_window", "cavra.drillops.delivery.health-window.v1", channel=False
    )

    expected_interval_minutes: int | None = Field(default=None, ge=1, le=MAX_HEALTH_MINUTES)
    stale_metadata_minutes: int | None = Field(default=None, ge=1, le=MAX_HEALTH_MINUTES)


# --- commands -------------------------------------------------------------------------------


class DeliverHealthAlertV1(Contract):
    """Evaluate a family's worker health and deliver an alert about it (spec §3.15), duplicates suppressed."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "cmd",
        SERVICE,
        "deliver_health_alert",
        "cavra.drillops.delivery.deliver-health-alert.v1",
        summary="POST …/worker-health-alerts/deliver (and the two retry-health variants).",
    )

    family: MonitoredFamily
    window: HealthWindowV1 = Field(default_factory=HealthWindowV1)
    provider: str = Field(
        default="all",
        max_length=MAX_PROVIDER_SELECTION_LENGTH,
        pattern=r"^(all|[A-Za-z0-9_-]+(\s*,\s*[A-Za-z0-9_-]+)*)$",
        description="`all` (every configured connector) or a comma list.",
    )
    suppression_window_minutes: int = Field(
        default=DEFAULT_SUPPRESSION_WINDOW_MINUTES, ge=1, le=MAX_HEALTH_MINUTES
    )
    force: bool = False
    max_alerts: int = Field(default=DEFAULT_MAX_ALERTS, ge=1, le=MAX_ALERTS)
    delivery: DeliveryOptions = Field(default_factory=DeliveryOptions)
    actor: ActorV1


class AcknowledgeHealthAlertV1(Contract):
    """Record an operator's acknowledgement of one provider's health alert."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "cmd",
        SERVICE,
        "acknowledge_health_alert",
        "cavra.drillops.delivery.acknowledge-health-alert.v1",
        summary="POST …/worker-health-alerts/{health_id}/acknowledgements (and the retry-health variants).",
    )

    family: MonitoredFamily
    health_id: str = Field(min_length=1, max_length=MAX_ID_LENGTH)
    provider: str = Field(min_length=1, max_length=MAX_PROVIDER_LENGTH)
    acknowledgement_state: HealthAlertState = "acknowledged"
    plan_id: str = Field(default="", max_length=MAX_PLAN_ID_LENGTH, description="Default: any plan of it.")
    external_ref: str = Field(default="", max_length=MAX_REF_LENGTH)
    notes: str = Field(default="", max_length=MAX_NOTES_LENGTH)
    actor: ActorV1


# --- events ---------------------------------------------------------------------------------


class HealthAlertPlannedV1(RecordedEvent):
    """An alert plan was stored (``record``: its metadata record); ``job_id`` is set when a
    DeliverMessageV1 was enqueued for its selected providers."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt",
        SERVICE,
        "health_alert_planned",
        "cavra.drillops.delivery.health-alert-planned.v1",
        summary="A worker health alert plan; its MessageDeliveredV1 follows when providers were selected.",
    )

    family: MonitoredFamily
    plan_id: str
    health_id: str
    job_id: str = ""
    trigger: Literal["api", "timer"] = "api"
    health: dict[str, Any] = Field(description="The health report the plan was made from.")
    actor: ActorV1


class HealthAlertAcknowledgedV1(RecordedEvent):
    """A provider's health alert was acknowledged (``record``: the ack's metadata record)."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt",
        SERVICE,
        "health_alert_acknowledged",
        "cavra.drillops.delivery.health-alert-acknowledged.v1",
        summary="A worker health alert acknowledgement (acknowledged, dismissed, escalated, resolved).",
    )

    family: MonitoredFamily
    acknowledgement_id: str
    health_id: str
    plan_id: str
    provider: str
    acknowledgement_state: HealthAlertState
    actor: ActorV1


class HealthAlertRejectedV1(RequestRefused):
    """A health alert command was refused; nothing was stored or sent."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt",
        SERVICE,
        "health_alert_rejected",
        "cavra.drillops.delivery.health-alert-rejected.v1",
        summary="400 unconfigured provider, 404 unknown health_id / provider / plan_id.",
    )


# --- queries --------------------------------------------------------------------------------


class WorkerHealthQueryV1(Contract):
    """Compute a family's worker health now (spec §3.14); nothing is written."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "qry",
        SERVICE,
        "worker_health",
        "cavra.drillops.delivery.worker-health-query.v1",
        summary="Reply: {health, metadata (the record it would be; not stored)}.",
    )

    family: MonitoredFamily
    window: HealthWindowV1 = Field(default_factory=HealthWindowV1)
    generated_by: str = Field(default="console", min_length=1, max_length=MAX_TEXT_LENGTH)
    at: UtcDatetime | None = Field(default=None, description="Evaluate as of this moment (default: now).")


class HealthAlertHistoryQueryV1(Contract):
    """A page of a family's alert plans, acknowledgements and alert deliveries, newest first."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "qry",
        SERVICE,
        "health_alert_history",
        "cavra.drillops.delivery.health-alert-history-query.v1",
        summary="Reply: {schema_version, product, items, total, limit, offset}.",
    )

    family: MonitoredFamily
    health_id: str = Field(default="", max_length=MAX_ID_LENGTH)
    provider: str = Field(default="", max_length=MAX_PROVIDER_LENGTH)
    metadata_kind: str = Field(default="", max_length=MAX_TEXT_LENGTH)
    acknowledgement_state: str = Field(default="", max_length=64)
    suppressed: bool | None = None
    limit: int = Field(default=50, ge=1, le=MAX_HEALTH_HISTORY_LIMIT)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)


class HealthAlertDashboardQueryV1(Contract):
    """A family's alert dashboard (spec §3.15)."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "qry",
        SERVICE,
        "health_alert_dashboard",
        "cavra.drillops.delivery.health-alert-dashboard-query.v1",
        summary="Reply: the …-health-alert-dashboard.v1 document.",
    )

    family: MonitoredFamily


__all__ = [
    "CRITICAL_RULES",
    "DEFAULT_MAX_ALERTS",
    "DEFAULT_SUPPRESSION_WINDOW_MINUTES",
    "DONE_STATES",
    "HEALTH_ALERT_STATES",
    "HEALTH_FIELDS",
    "HEALTH_NAMES",
    "MAX_ALERTS",
    "MAX_HEALTH_HISTORY_LIMIT",
    "MAX_HEALTH_MINUTES",
    "MAX_LISTED",
    "MAX_NOTES_LENGTH",
    "MAX_OUTSTANDING_LISTED",
    "RULES",
    "STATE_PROBLEM",
    "AcknowledgeHealthAlertV1",
    "DeliverHealthAlertV1",
    "HealthAlertAcknowledgedV1",
    "HealthAlertDashboardQueryV1",
    "HealthAlertHistoryQueryV1",
    "HealthAlertPlannedV1",
    "HealthAlertRejectedV1",
    "HealthAlertState",
    "HealthNames",
    "HealthWindowV1",
    "Rule",
    "WorkerHealthQueryV1",
    "health_names",
]
