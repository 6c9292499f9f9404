"""Connector recovery: playbooks, closures, the recovery SLO report and recovery escalations
(spec §3.18-3.20), owned by the delivery service (its ``recovery`` package).

The recovery report is a query: it is computed from the stored execution records, playbooks and
closures whenever it is asked for and never written (the original persists one on every read).
The reporting service builds the executive report from it (:class:`RecoveryReportQueryV1`).
"""

from __future__ import annotations

from typing import ClassVar, Final

from pydantic import Field

from cavra_contracts.base import Contract, UtcDatetime
from cavra_contracts.limits import MAX_TEXT_LENGTH
from cavra_contracts.subjects import MessageSpec

SERVICE = "delivery"

RECOVERY_REPORT_SCHEMA: Final = (
    "cavra.go-backend-pilot.rollback-drill-acknowledgement-audit-delivery-retry-recovery-report.v1"
)
DEFAULT_RECOVERY_SLO_MINUTES: Final = 240
MAX_RECOVERY_SLO_MINUTES: Final = 43_200
"""30 days: a recovery SLO is minutes to hours, never longer than a month."""


class RecoveryReportQueryV1(Contract):
    """Compute the recovery SLO report now (spec §3.19), with the recovery escalation plan it implies
    (spec §3.20, not stored) and closure-time statistics over a window.

    Reply result: ``{"report": <retry-recovery-report.v1>, "escalation_plan": <recovery-escalation-plan.v1,
    not stored>, "statistics": {"window_start", "window_end", "closure_count", "closure_minutes_median",
    "closure_minutes_p90", "closure_state_counts", "execution_count", "execution_status_counts",
    "playbook_provider_count", "open_count", "breached_count"}}`` — the statistics count what happened
    inside ``[window_start, window_end)`` (closures by ``closed_at``, executions by ``executed_at``,
    playbooks by ``generated_at``); without a window they cover everything.
    """

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "qry",
        SERVICE,
        "recovery_report",
        "cavra.drillops.delivery.recovery-report-query.v1",
        summary="Reply: {report: retry-recovery-report.v1, escalation_plan (not stored), statistics}.",
    )

    recovery_slo_minutes: int = Field(default=DEFAULT_RECOVERY_SLO_MINUTES, ge=1, le=MAX_RECOVERY_SLO_MINUTES)
    at: UtcDatetime | None = Field(default=None, description="Evaluate as of this moment (default: now).")
    window_start: UtcDatetime | None = None
    window_end: UtcDatetime | None = None
    generated_by: str = Field(default="console", min_length=1, max_length=MAX_TEXT_LENGTH)


__all__ = [
    "DEFAULT_RECOVERY_SLO_MINUTES",
    "MAX_RECOVERY_SLO_MINUTES",
    "RECOVERY_REPORT_SCHEMA",
    "RecoveryReportQueryV1",
]
