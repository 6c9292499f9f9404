"""Reporting read models (spec §3.9, §3.10): the notification history and dashboard queries and replies.

The reporting service builds both from the events on ``CAVRA_EVENTS`` only. Public schema_version
strings kept from the original CAVRA:

* ``cavra.go-backend-pilot.rollback-drill-notification-history.v1`` — the history page;
* ``cavra.go-backend-pilot.rollback-drill-notification-dashboard.v1`` — the dashboard.

A history page is found by ``offset`` or, for deep pages, by the keyset ``cursor`` the previous
page returned as ``next`` (``<created_at in µs since the epoch>.<stream sequence>.<ordinal>``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Final, Literal

from pydantic import Field, field_validator, model_validator

from cavra_contracts.base import Contract
from cavra_contracts.families import Family
from cavra_contracts.limits import MAX_ID_LENGTH, MAX_OFFSET, MAX_PROVIDER_LENGTH, MAX_TEXT_LENGTH
from cavra_contracts.sorting import HISTORY_DEFAULT_SORT, HistorySort
from cavra_contracts.subjects import MessageSpec

SERVICE = "reporting"

HISTORY_SCHEMA: Final = "cavra.go-backend-pilot.rollback-drill-notification-history.v1"
DASHBOARD_SCHEMA: Final = "cavra.go-backend-pilot.rollback-drill-notification-dashboard.v1"

PLAN_KIND: Final = "go-backend-rollback-drill-notification-plan"
ESCALATION_KIND: Final = "go-backend-rollback-drill-notification-escalation"
"""An automatic reminder or escalation of one route (beyond the original, which had none)."""
AUDIT_KIND_PREFIX: Final = "go-backend-rollback-drill-acknowledgement-audit-"
"""Every acknowledgement-audit kind starts so (spec §3.0b); the audit delivery source matches them all."""

MAX_HISTORY_LIMIT: Final = 200
"""Items in one history page: a page of the largest items still fits one NATS reply (1 MiB)."""
MAX_CURSOR_LENGTH: Final = 64
CURSOR_SORT_MESSAGE: Final = (
    f"cursor pages the default order ({HISTORY_DEFAULT_SORT}) only: page another sort with offset"
)
CURSOR_PATTERN: Final = r"^\d{1,17}\.\d{1,18}\.\d{1,6}$"
"""Microseconds (17 digits reach past year 5000), a stream sequence within bigint, an ordinal."""
OUTSTANDING_LISTED: Final = 20
"""Outstanding routes the dashboard lists (the count is of all of them)."""
BREACHED_LISTED: Final = 20
"""Breached recoveries the dashboard lists (the count is of all of them)."""
LATEST_LISTED: Final = 10
"""History items the dashboard shows as ``latest``."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, order=True)
class HistoryPosition:
    """Where an item sits in the history: newest first, ties broken by stream sequence, then ordinal."""

    created_at: datetime
    sequence: int
    ordinal: int

    def cursor(self) -> str:
        """The opaque cursor of the page that starts after this item."""
        micros = (self.created_at - _EPOCH) // timedelta(microseconds=1)
        return f"{micros}.{self.sequence}.{self.ordinal}"

    @classmethod
    def from_cursor(cls, cursor: str) -> HistoryPosition:
        """Parse a cursor; ``ValueError`` when it is not one."""
        if not re.match(CURSOR_PATTERN, cursor):
            raise ValueError("cursor must be the `next` value of a previous page")
        micros, sequence, ordinal = (int(part) for part in cursor.split("."))
        try:
            created_at = _EPOCH + timedelta(microseconds=micros)
        except OverflowError:
            raise ValueError("cursor is out of range") from None
        return cls(created_at, sequence, ordinal)


class NotificationHistoryQueryV1(Contract):
    """Ask for a page of the notification history (spec §3.9), newest first; every filter ANDs."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "qry",
        SERVICE,
        "notification_history",
        "cavra.drillops.reporting.notification-history-query.v1",
        summary=f"Reply: {HISTORY_SCHEMA}.",
    )

    schedule_id: str = Field(default="", max_length=MAX_ID_LENGTH)
    provider: str = Field(default="", max_length=MAX_PROVIDER_LENGTH)
    metadata_kind: str = Field(default="", max_length=MAX_TEXT_LENGTH)
    acknowledgement_state: str = Field(default="", max_length=MAX_TEXT_LENGTH)
    connector_delivery_source: str = Field(default="", max_length=MAX_TEXT_LENGTH)
    delivery_success: bool | None = None
    alert_level: str = Field(default="", max_length=MAX_TEXT_LENGTH)
    item_id: str = Field(
        default="", max_length=MAX_ID_LENGTH, description="One item, by the `item_id` every item carries."
    )
    audit_id: str = Field(default="", max_length=MAX_ID_LENGTH, description="Item or embedded audit_id.")
    delivery_id: str = Field(
        default="", max_length=MAX_ID_LENGTH, description="Item delivery_id or event_id."
    )
    cadence: str = Field(
        default="", max_length=MAX_TEXT_LENGTH, description="A delivery plan's cadence or a worker run's."
    )
    family: Family | Literal[""] = Field(
        default="", description="A delivery family: the items whose connector_delivery_source is its source."
    )
    limit: int = Field(default=50, ge=1, le=MAX_HISTORY_LIMIT)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)
    cursor: str = Field(default="", max_length=MAX_CURSOR_LENGTH, description="`next` of the previous page.")
    sort: HistorySort = Field(
        default="", description="Order of the page (empty: newest first); a cursor pages the default only."
    )

    @field_validator("cursor")
    @classmethod
    def _a_cursor(cls, value: str) -> str:
        if value:
            HistoryPosition.from_cursor(value)
        return value

    @model_validator(mode="after")
    def _cursor_pages_the_default_order(self) -> NotificationHistoryQueryV1:
        if self.cursor and self.sort not in ("", HISTORY_DEFAULT_SORT):
            raise ValueError(CURSOR_SORT_MESSAGE)
        return self

    def position(self) -> HistoryPosition | None:
        """Where the page starts (after this position), or None for the first page."""
        return HistoryPosition.from_cursor(self.cursor) if self.cursor else None


class NotificationDashboardQueryV1(Contract):
    """Ask for the notification dashboard (spec §3.10)."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "qry",
        SERVICE,
        "notification_dashboard",
        "cavra.drillops.reporting.notification-dashboard-query.v1",
        summary=f"Reply: {DASHBOARD_SCHEMA}.",
    )


class NotificationHistoryV1(Contract):
    """``cavra.go-backend-pilot.rollback-drill-notification-history.v1``: one page of history items."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "qry", SERVICE, "notification_history_page", HISTORY_SCHEMA, channel=False
    )

    schema_version: str = HISTORY_SCHEMA
    product: str = "CAVRA"
    items: list[dict[str, Any]] = Field(
        description="Metadata records (plans, redacted delivery records, acknowledgements, escalation "
        "plans, automatic escalations), newest first."
    )
    total: int = Field(description="Items matching the filters (before paging).")
    limit: int
    offset: int
    next: str | None = Field(description="Cursor of the next page (`cursor=`), null on the last page.")
    has_more: bool = Field(default=False, description="A next page exists (in any sort).")


class OutstandingRouteV1(Contract):
    """A deliverable route of the current plan of its schedule that no acknowledgement cleared."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "qry", SERVICE, "outstanding_route", "cavra.drillops.reporting.outstanding-route.v1", channel=False
    )

    schedule_id: str
    provider: str
    plan_id: str
    route_id: str
    owner: str
    acknowledgement_state: str
    escalated: bool


class LatestEscalationPlanV1(Contract):
    """The newest escalation plan's summary."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "qry",
        SERVICE,
        "latest_escalation_plan",
        "cavra.drillops.reporting.latest-escalation-plan.v1",
        channel=False,
    )

    plan_id: str
    generated_at: str
    alert_level: str
    route_count: int
    outstanding_count: int
    breached_count: int


class BreachedRecoveryV1(Contract):
    """An open connector recovery (playbook x provider) older than the recovery SLO at the time asked."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "qry", SERVICE, "breached_recovery", "cavra.drillops.reporting.breached-recovery.v1", channel=False
    )

    playbook_id: str
    provider: str
    generated_at: str = Field(description="The playbook's time (the recovery's age counts from it).")
    closure_state: str = Field(description="`open`, or the latest closure's (deferred, escalated, reopened).")


class NotificationDashboardV1(Contract):
    """``cavra.go-backend-pilot.rollback-drill-notification-dashboard.v1`` (spec §3.10)."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "qry", SERVICE, "notification_dashboard_reply", DASHBOARD_SCHEMA, channel=False
    )

    schema_version: str = DASHBOARD_SCHEMA
    product: str = "CAVRA"
    generated_at: str | None = Field(description="Time of the latest applied event (null before any).")
    alert_level: str = Field(
        description="critical on any failed delivery or outstanding route, breached recovery or failed "
        "retry execution, else healthy."
    )
    plan_count: int
    delivery_count: int
    notification_delivery_count: int
    escalation_delivery_count: int
    failed_delivery_count: int
    acknowledgement_count: int
    outstanding_acknowledgement_count: int
    outstanding_acknowledgements: list[OutstandingRouteV1]
    escalation_plan_count: int
    escalation_route_count: int = Field(description="Routes the escalation service escalated by itself.")
    reminder_route_count: int
    breached_route_count: int = Field(description="Escalated routes of current plans still outstanding.")
    latest_escalation_plan: LatestEscalationPlanV1 | None
    acknowledgement_audit_package_count: int
    acknowledgement_audit_delivery_plan_count: int
    acknowledgement_audit_delivery_count: int
    failed_acknowledgement_audit_delivery_count: int
    acknowledgement_audit_delivery_success_count: int
    acknowledgement_audit_delivery_success_rate: float | None
    acknowledgement_audit_delivery_providers: list[str]
    acknowledgement_audit_delivery_health: str
    latest: list[dict[str, Any]]
    # --- recorded events (issue 8): counters by metadata_kind (cavra_reporting.domain.evidence): a
    # kind's record count, hoisted numbers summed (retryable, escalation routes, alerts) and records
    # matched (dry / executed runs, delivered / failed executions, approved, closed) ---
    acknowledgement_audit_delivery_connector_recovery_closed_count: int = 0
    acknowledgement_audit_delivery_connector_recovery_closure_count: int = 0
    acknowledgement_audit_delivery_connector_recovery_playbook_count: int = 0
    acknowledgement_audit_delivery_recovery_escalation_ack_count: int = 0
    acknowledgement_audit_delivery_recovery_escalation_delivery_count: int = 0
    acknowledgement_audit_delivery_recovery_escalation_plan_count: int = 0
    acknowledgement_audit_delivery_recovery_escalation_retry_execution_failed_count: int = 0
    acknowledgement_audit_delivery_recovery_escalation_retry_execution_record_count: int = 0
    acknowledgement_audit_delivery_recovery_escalation_retry_execution_success_count: int = 0
    acknowledgement_audit_delivery_recovery_escalation_retry_health_alert_ack_count: int = 0
    acknowledgement_audit_delivery_recovery_escalation_retry_health_alert_count: int = 0
    acknowledgement_audit_delivery_recovery_escalation_retry_health_alert_delivery_retry_execution_failed_count: int = 0  # noqa: E501 (the name is its metadata kind)
    acknowledgement_audit_delivery_recovery_escalation_retry_health_alert_delivery_retry_execution_record_count: int = 0  # noqa: E501 (the name is its metadata kind)
    acknowledgement_audit_delivery_recovery_escalation_retry_health_alert_delivery_retry_execution_success_count: int = 0  # noqa: E501 (the name is its metadata kind)
    acknowledgement_audit_delivery_recovery_escalation_retry_health_alert_delivery_retry_plan_count: int = 0
    acknowledgement_audit_delivery_recovery_escalation_retry_health_alert_delivery_retry_worker_dry_run_count: int = 0  # noqa: E501 (the name is its metadata kind)
    acknowledgement_audit_delivery_recovery_escalation_retry_health_alert_delivery_retry_worker_executed_count: int = 0  # noqa: E501 (the name is its metadata kind)
    acknowledgement_audit_delivery_recovery_escalation_retry_health_alert_delivery_retry_worker_run_count: int = 0  # noqa: E501 (the name is its metadata kind)
    acknowledgement_audit_delivery_recovery_escalation_retry_health_alert_delivery_retryable_count: int = 0
    acknowledgement_audit_delivery_recovery_escalation_retry_health_alert_plan_count: int = 0
    acknowledgement_audit_delivery_recovery_escalation_retry_health_count: int = 0
    acknowledgement_audit_delivery_recovery_escalation_retry_plan_count: int = 0
    acknowledgement_audit_delivery_recovery_escalation_retry_worker_dry_run_count: int = 0
    acknowledgement_audit_delivery_recovery_escalation_retry_worker_executed_count: int = 0
    acknowledgement_audit_delivery_recovery_escalation_retry_worker_run_count: int = 0
    acknowledgement_audit_delivery_recovery_escalation_retryable_count: int = 0
    acknowledgement_audit_delivery_recovery_escalation_route_count: int = 0
    acknowledgement_audit_delivery_recovery_executive_report_count: int = 0
    acknowledgement_audit_delivery_recovery_executive_report_delivery_count: int = 0
    acknowledgement_audit_delivery_recovery_executive_report_delivery_retry_execution_failed_count: int = 0
    acknowledgement_audit_delivery_recovery_executive_report_delivery_retry_execution_record_count: int = 0
    acknowledgement_audit_delivery_recovery_executive_report_delivery_retry_execution_success_count: int = 0
    acknowledgement_audit_delivery_recovery_executive_report_delivery_retry_health_alert_delivery_retry_execution_failed_count: int = 0  # noqa: E501 (the name is its metadata kind)
    acknowledgement_audit_delivery_recovery_executive_report_delivery_retry_health_alert_delivery_retry_execution_record_count: int = 0  # noqa: E501 (the name is its metadata kind)
    acknowledgement_audit_delivery_recovery_executive_report_delivery_retry_health_alert_delivery_retry_execution_success_count: int = 0  # noqa: E501 (the name is its metadata kind)
    acknowledgement_audit_delivery_recovery_executive_report_delivery_retry_health_alert_delivery_retry_plan_count: int = 0  # noqa: E501 (the name is its metadata kind)
    acknowledgement_audit_delivery_recovery_executive_report_delivery_retry_health_alert_delivery_retry_worker_dry_run_count: int = 0  # noqa: E501 (the name is its metadata kind)
    acknowledgement_audit_delivery_recovery_executive_report_delivery_retry_health_alert_delivery_retry_worker_executed_count: int = 0  # noqa: E501 (the name is its metadata kind)
    acknowledgement_audit_delivery_recovery_executive_report_delivery_retry_health_alert_delivery_retry_worker_run_count: int = 0  # noqa: E501 (the name is its metadata kind)
    acknowledgement_audit_delivery_recovery_executive_report_delivery_retry_health_alert_delivery_retryable_count: int = 0  # noqa: E501 (the name is its metadata kind)
    acknowledgement_audit_delivery_recovery_executive_report_delivery_retry_health_alert_ack_count: int = 0
    acknowledgement_audit_delivery_recovery_executive_report_delivery_retry_health_alert_plan_count: int = 0
    acknowledgement_audit_delivery_recovery_executive_report_delivery_retry_plan_count: int = 0
    acknowledgement_audit_delivery_recovery_executive_report_delivery_retry_worker_dry_run_count: int = 0
    acknowledgement_audit_delivery_recovery_executive_report_delivery_retry_worker_executed_count: int = 0
    acknowledgement_audit_delivery_recovery_executive_report_delivery_retry_worker_run_count: int = 0
    acknowledgement_audit_delivery_recovery_executive_report_delivery_retryable_count: int = 0
    acknowledgement_audit_delivery_recovery_executive_report_schedule_run_count: int = 0
    acknowledgement_audit_delivery_retry_ack_count: int = 0
    acknowledgement_audit_delivery_retry_execution_approval_decision_count: int = 0
    acknowledgement_audit_delivery_retry_execution_approval_plan_count: int = 0
    acknowledgement_audit_delivery_retry_execution_approved_count: int = 0
    acknowledgement_audit_delivery_retry_execution_failed_count: int = 0
    acknowledgement_audit_delivery_retry_execution_record_count: int = 0
    acknowledgement_audit_delivery_retry_execution_success_count: int = 0
    acknowledgement_audit_delivery_retry_plan_count: int = 0
    acknowledgement_audit_delivery_retry_recovery_report_count: int = 0
    acknowledgement_audit_delivery_retryable_count: int = 0
    acknowledgement_audit_delivery_worker_dry_run_count: int = 0
    acknowledgement_audit_delivery_worker_executed_count: int = 0
    acknowledgement_audit_delivery_worker_health_alert_ack_count: int = 0
    acknowledgement_audit_delivery_worker_health_alert_count: int = 0
    acknowledgement_audit_delivery_worker_health_alert_delivery_retry_execution_failed_count: int = 0
    acknowledgement_audit_delivery_worker_health_alert_delivery_retry_execution_record_count: int = 0
    acknowledgement_audit_delivery_worker_health_alert_delivery_retry_execution_success_count: int = 0
    acknowledgement_audit_delivery_worker_health_alert_delivery_retry_plan_count: int = 0
    acknowledgement_audit_delivery_worker_health_alert_delivery_retry_worker_dry_run_count: int = 0
    acknowledgement_audit_delivery_worker_health_alert_delivery_retry_worker_executed_count: int = 0
    acknowledgement_audit_delivery_worker_health_alert_delivery_retry_worker_run_count: int = 0
    acknowledgement_audit_delivery_worker_health_alert_delivery_retryable_count: int = 0
    acknowledgement_audit_delivery_worker_run_count: int = 0
    failed_acknowledgement_audit_delivery_recovery_escalation_delivery_count: int = 0
    failed_acknowledgement_audit_delivery_recovery_executive_report_delivery_count: int = 0
    notification_delivery_retry_execution_failed_count: int = 0
    notification_delivery_retry_execution_record_count: int = 0
    notification_delivery_retry_execution_success_count: int = 0
    notification_delivery_retry_plan_count: int = 0
    notification_delivery_retry_worker_dry_run_count: int = 0
    notification_delivery_retry_worker_executed_count: int = 0
    notification_delivery_retry_worker_run_count: int = 0
    notification_delivery_retryable_count: int = 0
    notification_escalation_delivery_retry_execution_failed_count: int = 0
    notification_escalation_delivery_retry_execution_record_count: int = 0
    notification_escalation_delivery_retry_execution_success_count: int = 0
    notification_escalation_delivery_retry_plan_count: int = 0
    notification_escalation_delivery_retry_worker_dry_run_count: int = 0
    notification_escalation_delivery_retry_worker_executed_count: int = 0
    notification_escalation_delivery_retry_worker_run_count: int = 0
    notification_escalation_delivery_retryable_count: int = 0
    acknowledgement_audit_delivery_retry_execution_approval_pending_count: int = Field(
        default=0,
        description="Approvals the newest approval plan requires that no decision (approved, denied, "
        "expired) answered yet.",
    )
    acknowledgement_audit_delivery_recovery_open_count: int = Field(
        default=0,
        description="(playbook, provider) recoveries whose latest closure is not resolved|mitigated.",
    )
    acknowledgement_audit_delivery_recovery_slo_breached_count: int = Field(
        default=0, description="Open recoveries older than recovery_slo_minutes now (strict, spec §3.19)."
    )
    breached_recoveries: list[BreachedRecoveryV1] = Field(
        default_factory=list,
        description=f"The {BREACHED_LISTED} oldest breached recoveries (the count is of all of them).",
    )
    recovery_slo_minutes: int | None = Field(default=None, description="The SLO the breaches are counted at.")


__all__ = [
    "DASHBOARD_SCHEMA",
    "HISTORY_SCHEMA",
    "HistoryPosition",
    "NotificationDashboardQueryV1",
    "NotificationDashboardV1",
    "NotificationHistoryQueryV1",
    "NotificationHistoryV1",
    "OutstandingRouteV1",
]
