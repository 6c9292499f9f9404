"""The public names and bounds of connector recovery (spec §3.18-3.20): schema versions, record kinds,
id prefixes, request bounds, closure and escalation acknowledgement states, and the provider
categories of a playbook. Re-exported by :mod:`cavra_contracts.recovery`."""

from __future__ import annotations

from typing import Final, Literal, get_args

from cavra_contracts.families import AD_KIND, PILOT
from cavra_contracts.vocabulary import normalize_provider

RECOVERY_REPORT_SCHEMA: Final = (
    "cavra.go-backend-pilot.rollback-drill-acknowledgement-audit-delivery-retry-recovery-report.v1"
)
PLAYBOOK_SCHEMA: Final = f"{PILOT}acknowledgement-audit-delivery-connector-recovery-playbook.v1"
CLOSURE_SCHEMA: Final = f"{PILOT}acknowledgement-audit-delivery-connector-recovery-closure.v1"
ESCALATION_PLAN_SCHEMA: Final = f"{PILOT}acknowledgement-audit-delivery-recovery-escalation-plan.v1"
ESCALATION_ACK_SCHEMA: Final = f"{PILOT}acknowledgement-audit-delivery-recovery-escalation-ack.v1"

PLAYBOOK_KIND: Final = f"{AD_KIND}-connector-recovery-playbook"
CLOSURE_KIND: Final = f"{AD_KIND}-connector-recovery-closure"
ESCALATION_PLAN_KIND: Final = f"{AD_KIND}-recovery-escalation-plan"
ESCALATION_ACK_KIND: Final = f"{AD_KIND}-recovery-escalation-ack"
ESCALATION_DELIVERY_KIND: Final = f"{AD_KIND}-recovery-escalation-delivery-request"
"""Not a kind of the original: the request to deliver a plan (its delivery record follows)."""

PLAYBOOK_PREFIX: Final = "gordackrecovery-"
CLOSURE_PREFIX: Final = "gordackrecoveryclosure-"
REPORT_PREFIX: Final = "gordackretryreport-"
ESCALATION_PLAN_PREFIX: Final = "gordackrecoveryesc-"
ESCALATION_ACK_PREFIX: Final = "gordackrecoveryescack-"
ESCALATION_JOB_PREFIX: Final = "gordackrecoveryescjob-"

ESCALATION_EVENT_TYPE: Final = (
    "cavra.go_backend.rollback_drill.acknowledgement_audit_delivery.recovery_escalation"
)

DEFAULT_RECOVERY_SLO_MINUTES: Final = 240
MAX_RECOVERY_SLO_MINUTES: Final = 43_200
"""30 days: a recovery SLO is minutes to hours, never longer than a month."""
DEFAULT_MIN_FAILURE_COUNT: Final = 2
MAX_MIN_FAILURE_COUNT: Final = 10_000
DEFAULT_LOOKBACK_HOURS: Final = 24
MAX_LOOKBACK_HOURS: Final = 24 * 90
DEFAULT_REPORT_ROWS: Final = 100
MAX_REPORT_ROWS: Final = 500
DEFAULT_MAX_ROUTES: Final = 20
MAX_ROUTES: Final = 100
DEFAULT_PAGE: Final = 50
MAX_PAGE: Final = 200

ClosureState = Literal["resolved", "mitigated", "deferred", "escalated", "reopened"]
CLOSURE_STATES: Final = tuple(get_args(ClosureState))
CLOSED_STATES: Final = frozenset({"resolved", "mitigated"})
CLOSURE_STATE_MESSAGE: Final = "closure_state must be resolved, mitigated, deferred, escalated, or reopened"

EscalationAckState = Literal["acknowledged", "accepted", "deferred", "escalated", "resolved", "dismissed"]
ESCALATION_ACK_STATES: Final = tuple(get_args(EscalationAckState))
ESCALATION_ACK_STATE_MESSAGE: Final = (
    "acknowledgement_state must be acknowledged, accepted, deferred, escalated, resolved, or dismissed"
)

Category = Literal["siem", "itsm", "chatops", "webhook"]
_CATEGORIES: Final[dict[str, Category]] = {
    "siem": "siem",
    "splunk": "siem",
    "sentinel": "siem",
    "datadog": "siem",
    "jira": "itsm",
    "servicenow": "itsm",
    "slack": "chatops",
    "teams": "chatops",
    "pagerduty": "chatops",
    "email": "chatops",
}


def recovery_category(provider: str) -> Category:
    """Spec §3.18 / case 61: splunk, sentinel, datadog (and this system's ``siem``) -> siem; jira,
    servicenow -> itsm; slack, teams, pagerduty, email -> chatops; anything else -> webhook."""
    return _CATEGORIES.get(normalize_provider(provider), "webhook")


__all__ = [
    "CLOSED_STATES",
    "CLOSURE_KIND",
    "CLOSURE_PREFIX",
    "CLOSURE_SCHEMA",
    "CLOSURE_STATES",
    "CLOSURE_STATE_MESSAGE",
    "DEFAULT_LOOKBACK_HOURS",
    "DEFAULT_MAX_ROUTES",
    "DEFAULT_MIN_FAILURE_COUNT",
    "DEFAULT_PAGE",
    "DEFAULT_RECOVERY_SLO_MINUTES",
    "DEFAULT_REPORT_ROWS",
    "ESCALATION_ACK_KIND",
    "ESCALATION_ACK_PREFIX",
    "ESCALATION_ACK_SCHEMA",
    "ESCALATION_ACK_STATES",
    "ESCALATION_ACK_STATE_MESSAGE",
    "ESCALATION_DELIVERY_KIND",
    "ESCALATION_EVENT_TYPE",
    "ESCALATION_JOB_PREFIX",
    "ESCALATION_PLAN_KIND",
    "ESCALATION_PLAN_PREFIX",
    "ESCALATION_PLAN_SCHEMA",
    "MAX_LOOKBACK_HOURS",
    "MAX_MIN_FAILURE_COUNT",
    "MAX_PAGE",
    "MAX_RECOVERY_SLO_MINUTES",
    "MAX_REPORT_ROWS",
    "MAX_ROUTES",
    "PLAYBOOK_KIND",
    "PLAYBOOK_PREFIX",
    "PLAYBOOK_SCHEMA",
    "RECOVERY_REPORT_SCHEMA",
    "REPORT_PREFIX",
    "Category",
    "ClosureState",
    "EscalationAckState",
    "recovery_category",
]
