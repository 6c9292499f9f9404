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

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Final, Literal

from pydantic import Field

from cavra_contracts.actors import ActorV1
from cavra_contracts.base import Contract, UtcDatetime
from cavra_contracts.evidence import RecordedEvent
from cavra_contracts.failures import RequestRefused
from cavra_contracts.families import AD_KIND, PILOT, MonitoredFamily
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

Rule = Literal[
    "missed", "failed_execution", "retryable", "connector_failure", "stale_plan", "disabled", "pending"
]
"""The health rules, in the order alerts are listed; each family names their categories."""
RULES: Final[tuple[Rule, ...]] = (
    "missed",
    "failed_execution",
    "retryable",
    "connector_failure",
    "stale_plan",
    "disabled",
    "pending",
)
CRITICAL_RULES: Final = frozenset({"missed", "failed_execution"})

HEALTH_FIELDS: Final = (
    "run_count",
    "retry_plan_count",
    "execution_record_count",
    "retryable_count",
    "selected_retry_count",
    "pending_count",
    "missed_run_count",
    "failed_execution_count",
    "delivered_execution_count",
    "disabled_schedule_count",
    "stale_retry_plan_count",
    "connector_delivery_failure_count",
    "latest_run_id",
    "latest_run_at",
    "latest_run_age_minutes",
    "latest_retry_plan_id",
    "latest_retry_plan_at",
    "latest_retry_plan_age_minutes",
    "recommendations",
    "latest",
)
"""The generic names of a health report's family-named fields (see ``HealthNames.fields``)."""


@dataclass(frozen=True)
class HealthNames:
    """Every public name of one family's health report, alert event, plan, ack, history and dashboard."""

    family: MonitoredFamily
    health_schema: str
    health_kind: str
    health_payload_key: str
    health_prefix: str
    alert_schema: str
    alert_event_type: str
    alert_title: str
    plan_schema: str
    plan_kind: str
    plan_payload_key: str
    plan_prefix: str
    ack_schema: str
    ack_kind: str
    ack_prefix: str
    history_schema: str
    dashboard_schema: str
    worker: str
    """How alert messages call the worker: ``acknowledgement audit retry worker``."""
    categories: Mapping[str, str]
    """Rule -> alert category."""
    fields: Mapping[str, str]
    """Generic field name (``HEALTH_FIELDS``) -> the family's name of it."""


_AD = f"{PILOT}acknowledgement-audit-delivery-"
_SAME = {name: name for name in HEALTH_FIELDS}
_RETRY_HEALTH_FIELDS = {
    **_SAME,
    "run_count": "worker_run_count",
    "pending_count": "acknowledgement_pending_count",
    "missed_run_count": "missed_worker_count",
    "latest_run_id": "latest_worker_run_id",
    "latest_run_at": "latest_worker_run_at",
    "latest_run_age_minutes": "latest_worker_age_minutes",
    "recommendations": "recommended_actions",
}


def _retry_health(
    family: MonitoredFamily, stem: str, ids: tuple[str, str], worker: str, noun: str, failed_field: str
) -> HealthNames:
    """The names of a ``…-retry-health`` family (spec §3.14 recovery variant): ``stem`` is the part after
    ``acknowledgement-audit-delivery-`` (``recovery-escalation``), ``ids`` the id infixes of the health
    report and of its alert plans and acks (``recoveryesc``, ``recovery``)."""
    snake = stem.replace("-", "_")
    return HealthNames(
        family=family,
        health_schema=f"{_AD}{stem}-retry-health.v1",
        health_kind=f"{AD_KIND}-{stem}-retry-health",
        health_payload_key=f"{snake}_retry_health",
        health_prefix=f"gordack{ids[0]}health-",
        alert_schema=f"{_AD}{stem}-retry-health-alert.v1",
        alert_event_type=f"cavra.go_backend.rollback_drill.acknowledgement_audit_{snake}_retry_health_alert",
        alert_title=f"CAVRA rollback drill {noun} retry health",
        plan_schema=f"{_AD}{stem}-retry-health-alert-plan.v1",
        plan_kind=f"{AD_KIND}-{stem}-retry-health-alert-plan",
        plan_payload_key=f"{snake}_retry_health_alert_plan",
        plan_prefix=f"gordack{ids[1]}healthalert-",
        ack_schema=f"{_AD}{stem}-retry-health-alert-ack.v1",
        ack_kind=f"{AD_KIND}-{stem}-retry-health-alert-ack",
        ack_prefix=f"gordack{ids[1]}healthack-",
        history_schema=f"{_AD}{stem}-retry-health-alert-history.v1",
        dashboard_schema=f"{_AD}{stem}-retry-health-alert-dashboard.v1",
        worker=worker,
        categories={
            "missed": f"missed_{snake}_retry_worker",
            "failed_execution": f"failed_{snake}_retry_execution",
            "retryable": f"retryable_{snake}_deliveries",
            "connector_failure": f"{snake}_connector_failure",
            "stale_plan": f"stale_{snake}_retry_plan",
            "disabled": f"disabled_{snake}_retry_schedule",
            "pending": f"{snake}_acknowledgement_gap",
        },
        fields={**_RETRY_HEALTH_FIELDS, "connector_delivery_failure_count": failed_field},
    )


HEALTH_NAMES: Final[dict[str, HealthNames]] = {
    "audit": HealthNames(
        family="audit",
        health_schema=f"{_AD}worker-health.v1",
        health_kind=f"{AD_KIND}-worker-health",
        health_payload_key="acknowledgement_audit_delivery_worker_health",
        health_prefix="gordackhealth-",
        alert_schema=f"{_AD}worker-health-alert.v1",
        alert_event_type="cavra.go_backend.rollback_drill.acknowledgement_audit_worker_health_alert",
        alert_title="CAVRA rollback drill audit worker health",
        plan_schema=f"{_AD}worker-health-alert-plan.v1",
        plan_kind=f"{AD_KIND}-worker-health-alert-plan",
        plan_payload_key="worker_health_alert_plan",
        plan_prefix="gordackhealthalert-",
        ack_schema=f"{_AD}worker-health-alert-ack.v1",
        ack_kind=f"{AD_KIND}-worker-health-alert-ack",
        ack_prefix="gordackhealthack-",
        history_schema=f"{_AD}worker-health-alert-history.v1",
        dashboard_schema=f"{_AD}worker-health-alert-dashboard.v1",
        worker="acknowledgement audit retry worker",
        categories={
            "missed": "missed_worker_run",
            "failed_execution": "failed_worker_run",
            "retryable": "retryable_deliveries",
            "connector_failure": "connector_failure",
            "stale_plan": "stale_retry_plan",
            "disabled": "disabled_schedule",
            "pending": "approval_pending",
        },
        fields={
            **_SAME,
            "failed_execution_count": "failed_job_count",
            "pending_count": "approval_pending_count",
        },
    ),
    "recovery_escalation": _retry_health(
        "recovery_escalation",
        "recovery-escalation",
        ("recoveryesc", "recovery"),
        "recovery escalation retry worker",
        "recovery",
        "failed_recovery_escalation_delivery_count",
    ),
    "executive_report": _retry_health(
        "executive_report",
        "recovery-executive-report-delivery",
        ("execdelivery", "exec"),
        "executive report delivery retry worker",
        "executive report delivery",
        "failed_executive_report_delivery_count",
    ),
}
"""The public names of each monitored family's health records."""


def health_names(family: str) -> HealthNames:
    """The names of ``family``; ``KeyError`` for a family without health."""
    return HEALTH_NAMES[family]


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
