"""Delivery families: every kind of message the system delivers, and what its retries are called.

A family is a ``connector_delivery_source`` (spec §3.0b) plus the names its retry records carry in the
original's evidence store. The one retry machinery in the delivery service (retry plans, worker runs,
approvals, execution records, worker health and health alerts) takes the family as a parameter and
looks everything else up here; no family has code of its own.

Families and what gates a live retry of theirs (``gate``):

* ``notification`` — a plan's route notifications: approval-bound;
* ``escalation`` — automatic reminders and escalations of unacknowledged routes: none (they are
  re-sent by the worker on its schedule);
* ``audit`` — acknowledgement audit deliveries (spec §3.11): approval-bound (spec §4.5);
* ``recovery_escalation`` — recovery escalations (spec §3.20): approval-bound (the original gates
  them on the recovery escalation's acknowledgement only);
* ``executive_report`` — executive report deliveries (spec §3.21): none;
* ``<family>_health_alert`` — health alerts about the retry worker of a family (spec §3.15): none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, get_args

from cavra_contracts.deliveries import AUDIT_SOURCE, ESCALATION_SOURCE
from cavra_contracts.notifications import NOTIFICATION_SOURCE

Family = Literal[
    "notification",
    "escalation",
    "audit",
    "recovery_escalation",
    "executive_report",
    "audit_health_alert",
    "recovery_escalation_health_alert",
    "executive_report_health_alert",
]
FAMILIES: Final = tuple(get_args(Family))

MonitoredFamily = Literal["audit", "recovery_escalation", "executive_report"]
"""The families whose retry worker has a health report and health alerts (spec §3.14-3.15)."""
MONITORED_FAMILIES: Final = tuple(get_args(MonitoredFamily))

Gate = Literal["approval", "none"]
"""What a live retry of the family needs: an approval bound to its digest, or nothing."""

PILOT: Final = "cavra.go-backend-pilot.rollback-drill-"
AD_KIND: Final = "go-backend-rollback-drill-acknowledgement-audit-delivery"
"""The ``…`` of spec §3.0b: the prefix of every retry and recovery metadata kind."""

RECOVERY_ESCALATION_SOURCE: Final = "go_backend_rollback_drill_acknowledgement_audit_recovery_escalation"
EXECUTIVE_REPORT_SOURCE: Final = "go_backend_rollback_drill_acknowledgement_audit_recovery_executive_report"
AUDIT_HEALTH_ALERT_SOURCE: Final = "go_backend_rollback_drill_acknowledgement_audit_worker_health_alert"
RECOVERY_ESCALATION_HEALTH_ALERT_SOURCE: Final = (
    "go_backend_rollback_drill_acknowledgement_audit_recovery_escalation_retry_health_alert"
)
EXECUTIVE_REPORT_HEALTH_ALERT_SOURCE: Final = (
    "go_backend_rollback_drill_acknowledgement_audit_recovery_executive_report_delivery_retry_health_alert"
)


@dataclass(frozen=True)
class FamilySpec:
    """Everything that differs between families: names, defaults and the gate."""

    name: Family
    source: str
    """``connector_delivery_source`` of its deliveries."""
    noun: str
    """How reasons and alerts call one delivery: ``acknowledgement audit delivery``."""
    gate: Gate
    retry_plan_schema: str
    retry_plan_kind: str
    retry_plan_prefix: str
    worker_run_schema: str
    worker_run_kind: str
    worker_run_prefix: str
    execution_schema: str
    execution_kind: str
    execution_prefix: str
    default_retry_delay_minutes: int = 15
    """Base delay of the backoff when immediate retries are not allowed (spec §3.12: 30 for executive)."""
    health_expected_interval_minutes: int = 30
    health_stale_metadata_minutes: int = 120

    @property
    def retry_reason(self) -> str:
        """The reason of a ``retry`` decision (spec §3.12 step 5)."""
        return f"failed {self.noun} is eligible for retry"


def _kind(kind: str) -> str:
    return kind if kind.startswith("go-") else f"{AD_KIND}-{kind}"


def _spec(
    name: Family,
    source: str,
    noun: str,
    gate: Gate,
    *,
    retry_plan: tuple[str, str, str],
    worker_run: tuple[str, str, str],
    execution: tuple[str, str, str],
    delay: int = 15,
    health: tuple[int, int] = (30, 120),
) -> FamilySpec:
    """(schema suffix, kind, id prefix) triples: a schema gets the ``cavra.go-backend-pilot.`` prefix, a
    kind that is not a whole ``go-backend-…`` kind gets the ``…`` of spec §3.0b (``AD_KIND``)."""
    return FamilySpec(
        name=name,
        source=source,
        noun=noun,
        gate=gate,
        retry_plan_schema=f"{PILOT}{retry_plan[0]}",
        retry_plan_kind=_kind(retry_plan[1]),
        retry_plan_prefix=retry_plan[2],
        worker_run_schema=f"{PILOT}{worker_run[0]}",
        worker_run_kind=_kind(worker_run[1]),
        worker_run_prefix=worker_run[2],
        execution_schema=f"{PILOT}{execution[0]}",
        execution_kind=_kind(execution[1]),
        execution_prefix=execution[2],
        default_retry_delay_minutes=delay,
        health_expected_interval_minutes=health[0],
        health_stale_metadata_minutes=health[1],
    )


_AD = "acknowledgement-audit-delivery-"
_NP = "go-backend-rollback-drill-notification-delivery-"

FAMILY_SPECS: Final[dict[str, FamilySpec]] = {
    spec.name: spec
    for spec in (
        _spec(
            "notification",
            NOTIFICATION_SOURCE,
            "rollback drill notification delivery",
            "approval",
            retry_plan=("notification-delivery-retry-plan.v1", f"{_NP}retry-plan", "gordnretry-"),
            worker_run=(
                "notification-delivery-retry-worker-run.v1",
                f"{_NP}retry-worker-run",
                "gordnworker-",
            ),
            execution=(
                "notification-delivery-retry-execution-record.v1",
                f"{_NP}retry-execution-record",
                "gordnexec-",
            ),
        ),
        _spec(
            "escalation",
            ESCALATION_SOURCE,
            "rollback drill escalation delivery",
            "none",
            retry_plan=(
                "notification-escalation-delivery-retry-plan.v1",
                "go-backend-rollback-drill-notification-escalation-delivery-retry-plan",
                "gordescretry-",
            ),
            worker_run=(
                "notification-escalation-delivery-retry-worker-run.v1",
                "go-backend-rollback-drill-notification-escalation-delivery-retry-worker-run",
                "gordescworker-",
            ),
            execution=(
                "notification-escalation-delivery-retry-execution-record.v1",
                "go-backend-rollback-drill-notification-escalation-delivery-retry-execution-record",
                "gordescexec-",
            ),
        ),
        _spec(
            "audit",
            AUDIT_SOURCE,
            "acknowledgement audit delivery",
            "approval",
            retry_plan=(f"{_AD}retry-plan.v1", "retry-plan", "gordackretry-"),
            worker_run=(f"{_AD}worker-run.v1", "worker-run", "gordackworker-"),
            execution=(f"{_AD}retry-execution-record.v1", "retry-execution-record", "gordackretryexec-"),
        ),
        _spec(
            "recovery_escalation",
            RECOVERY_ESCALATION_SOURCE,
            "recovery escalation delivery",
            "approval",
            retry_plan=(
                f"{_AD}recovery-escalation-delivery-retry-plan.v1",
                "recovery-escalation-delivery-retry-plan",
                "gordackrecoveryescretry-",
            ),
            worker_run=(
                f"{_AD}recovery-escalation-retry-worker-run.v1",
                "recovery-escalation-retry-worker-run",
                "gordackrecoveryescworker-",
            ),
            execution=(
                f"{_AD}recovery-escalation-retry-execution-record.v1",
                "recovery-escalation-retry-execution-record",
                "gordackrecoveryescexec-",
            ),
        ),
        _spec(
            "executive_report",
            EXECUTIVE_REPORT_SOURCE,
            "executive report delivery",
            "none",
            retry_plan=(
                f"{_AD}recovery-executive-report-delivery-retry-plan.v1",
                "recovery-executive-report-delivery-retry-plan",
                "gordackexecdeliveryretry-",
            ),
            worker_run=(
                f"{_AD}recovery-executive-report-delivery-retry-worker-run.v1",
                "recovery-executive-report-delivery-retry-worker-run",
                "gordackexecdeliveryworker-",
            ),
            execution=(
                f"{_AD}recovery-executive-report-delivery-retry-execution-record.v1",
                "recovery-executive-report-delivery-retry-execution-record",
                "gordackexecdeliveryexec-",
            ),
            delay=30,
            health=(60, 180),
        ),
        _spec(
            "audit_health_alert",
            AUDIT_HEALTH_ALERT_SOURCE,
            "audit worker health alert delivery",
            "none",
            retry_plan=(
                f"{_AD}worker-health-alert-delivery-retry-plan.v1",
                "worker-health-alert-delivery-retry-plan",
                "gordackhealthalertretry-",
            ),
            worker_run=(
                f"{_AD}worker-health-alert-delivery-retry-worker-run.v1",
                "worker-health-alert-delivery-retry-worker-run",
                "gordackhealthalertworker-",
            ),
            execution=(
                f"{_AD}worker-health-alert-delivery-retry-execution-record.v1",
                "worker-health-alert-delivery-retry-execution-record",
                "gordackhealthalertexec-",
            ),
        ),
        _spec(
            "recovery_escalation_health_alert",
            RECOVERY_ESCALATION_HEALTH_ALERT_SOURCE,
            "recovery escalation retry health alert delivery",
            "none",
            retry_plan=(
                f"{_AD}recovery-escalation-retry-health-alert-delivery-retry-plan.v1",
                "recovery-escalation-retry-health-alert-delivery-retry-plan",
                "gordackrecoveryhealthalertretry-",
            ),
            worker_run=(
                f"{_AD}recovery-escalation-retry-health-alert-delivery-retry-worker-run.v1",
                "recovery-escalation-retry-health-alert-delivery-retry-worker-run",
                "gordackrecoveryhealthalertworker-",
            ),
            execution=(
                f"{_AD}recovery-escalation-retry-health-alert-delivery-retry-execution-record.v1",
                "recovery-escalation-retry-health-alert-delivery-retry-execution-record",
                "gordackrecoveryhealthalertexec-",
            ),
        ),
        _spec(
            "executive_report_health_alert",
            EXECUTIVE_REPORT_HEALTH_ALERT_SOURCE,
            "executive report delivery retry health alert delivery",
            "none",
            retry_plan=(
                f"{_AD}recovery-executive-report-delivery-retry-health-alert-delivery-retry-plan.v1",
                "recovery-executive-report-delivery-retry-health-alert-delivery-retry-plan",
                "gordackexechealthalertretry-",
            ),
            worker_run=(
                f"{_AD}recovery-executive-report-delivery-retry-health-alert-delivery-retry-worker-run.v1",
                "recovery-executive-report-delivery-retry-health-alert-delivery-retry-worker-run",
                "gordackexechealthalertworker-",
            ),
            execution=(
                f"{_AD}recovery-executive-report-delivery-retry-health-alert-delivery-retry-execution-record.v1",
                "recovery-executive-report-delivery-retry-health-alert-delivery-retry-execution-record",
                "gordackexechealthalertexec-",
            ),
            delay=30,
            health=(60, 180),
        ),
    )
}
"""Every family's names and defaults, by family name."""

HEALTH_ALERT_FAMILY: Final[dict[str, Family]] = {
    "audit": "audit_health_alert",
    "recovery_escalation": "recovery_escalation_health_alert",
    "executive_report": "executive_report_health_alert",
}
"""The family that delivers the health alerts about a monitored family's retry worker."""


def family_spec(name: str) -> FamilySpec:
    """The spec of family ``name``; ``KeyError`` naming the known families otherwise."""
    try:
        return FAMILY_SPECS[name]
    except KeyError:
        raise KeyError(f"unknown delivery family {name!r}; known: {', '.join(FAMILIES)}") from None


def family_of_source(source: str) -> FamilySpec | None:
    """The family whose deliveries carry ``source``, or ``None`` (an unknown or generic source)."""
    for spec in FAMILY_SPECS.values():
        if spec.source == source:
            return spec
    return None


__all__ = [
    "AD_KIND",
    "AUDIT_HEALTH_ALERT_SOURCE",
    "EXECUTIVE_REPORT_HEALTH_ALERT_SOURCE",
    "EXECUTIVE_REPORT_SOURCE",
    "FAMILIES",
    "FAMILY_SPECS",
    "HEALTH_ALERT_FAMILY",
    "MONITORED_FAMILIES",
    "RECOVERY_ESCALATION_HEALTH_ALERT_SOURCE",
    "RECOVERY_ESCALATION_SOURCE",
    "Family",
    "FamilySpec",
    "Gate",
    "MonitoredFamily",
    "family_of_source",
    "family_spec",
]
