"""The public names of each monitored family's worker health (spec §3.14-3.15): the health rules, the
generic report fields and :class:`HealthNames`, which maps them to a family's schema versions, id
prefixes, alert categories and field names. Re-exported by :mod:`cavra_contracts.health`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

from cavra_contracts.families import AD_KIND, PILOT, MonitoredFamily

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


__all__ = ["CRITICAL_RULES", "HEALTH_FIELDS", "HEALTH_NAMES", "RULES", "HealthNames", "Rule", "health_names"]
