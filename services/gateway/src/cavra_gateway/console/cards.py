"""The metric cards (spec §7.3), in groups that refresh on their own: each group is one API answer
(the notification dashboard, or the suppression trend of the current filters), its alert level the
tone of its Status card. A count the system does not have is not shown (no invented zero)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from cavra_gateway.console.api import ApiAnswer, ConsoleApi
from cavra_gateway.console.filters import ConsoleFilters
from cavra_gateway.console.tables.base import TONES

NP: Final = "/runtime/go-pilot/rollback-drill-notifications"
AUDIT: Final = "acknowledgement_audit_delivery_"


@dataclass(frozen=True)
class Card:
    label: str
    value: str
    tone: str = ""
    hint: str = ""


@dataclass(frozen=True)
class CardGroup:
    name: str
    title: str
    live: tuple[str, ...]
    fetch: Callable[[ConsoleApi, ConsoleFilters], Awaitable[ApiAnswer]]
    cards: Callable[[Mapping[str, Any]], list[Card]]


@dataclass(frozen=True)
class RenderedGroup:
    group: CardGroup
    cards: list[Card]
    error: ApiAnswer | None = None


def _count(body: Mapping[str, Any], field: str) -> str | None:
    value = body.get(field)
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else None


def _counted(body: Mapping[str, Any], rows: tuple[tuple[str, str, str], ...]) -> list[Card]:
    """Cards of ``(label, field, tone when non-zero)``, for the fields the answer has."""
    cards = []
    for label, field, tone in rows:
        value = _count(body, field)
        if value is not None:
            cards.append(Card(label, value, tone if value != "0" else ""))
    return cards


def _level(level: str) -> Card:
    return Card("Status", level or "n/a", TONES.get(level, ""))


def _rate(value: Any) -> str:
    return f"{value * 100:.0f}%" if isinstance(value, int | float) and not isinstance(value, bool) else "n/a"


async def _dashboard(api: ConsoleApi, _: ConsoleFilters) -> ApiAnswer:
    return await api.get(f"{NP}/dashboard")


def drill_cards(body: Mapping[str, Any]) -> list[Card]:
    return [_level(str(body.get("alert_level") or ""))] + _counted(
        body,
        (
            ("Plans", "plan_count", ""),
            ("Deliveries", "delivery_count", ""),
            ("Failed Delivery", "failed_delivery_count", "bad"),
            ("Acknowledgements", "acknowledgement_count", ""),
            ("Outstanding", "outstanding_acknowledgement_count", "attention"),
            ("Escalation Plans", "escalation_plan_count", ""),
            ("Escalation Routes", "escalation_route_count", "attention"),
            ("Breached", "breached_route_count", "bad"),
        ),
    )


def audit_cards(body: Mapping[str, Any]) -> list[Card]:
    health = str(body.get(f"{AUDIT}health") or "")
    return (
        [Card("Audit Delivery Health", health or "n/a", TONES.get(health, ""))]
        + _counted(
            body,
            (
                ("Audit Packages", "acknowledgement_audit_package_count", ""),
                ("Audit Plans", "acknowledgement_audit_delivery_plan_count", ""),
                ("Audit Sends", "acknowledgement_audit_delivery_count", ""),
                ("Audit Failed", "failed_acknowledgement_audit_delivery_count", "bad"),
            ),
        )
        + [Card("Audit Success", _rate(body.get(f"{AUDIT}success_rate")))]
    )


def retry_cards(body: Mapping[str, Any]) -> list[Card]:
    return _counted(
        body,
        (
            ("Audit Retry Plans", f"{AUDIT}retry_plan_count", ""),
            ("Audit Retryable", f"{AUDIT}retryable_count", "attention"),
            ("Audit Workers", f"{AUDIT}worker_run_count", ""),
            ("Worker Dry Runs", f"{AUDIT}worker_dry_run_count", ""),
            ("Worker Alerts", f"{AUDIT}worker_health_alert_count", "attention"),
            ("Retry Acks", f"{AUDIT}retry_ack_count", ""),
            ("Retry Approvals", f"{AUDIT}retry_execution_approval_decision_count", ""),
            ("Approvals Pending", f"{AUDIT}retry_execution_approval_pending_count", "attention"),
            ("Approved Retries", f"{AUDIT}retry_execution_approved_count", ""),
            ("Retry Executions", f"{AUDIT}retry_execution_record_count", ""),
            ("Execution Failed", f"{AUDIT}retry_execution_failed_count", "bad"),
            ("Notification Retryable", "notification_delivery_retryable_count", "attention"),
            ("Escalation Retryable", "notification_escalation_delivery_retryable_count", "attention"),
        ),
    )


def recovery_cards(body: Mapping[str, Any]) -> list[Card]:
    slo = body.get("recovery_slo_minutes")
    cards = _counted(
        body,
        (
            ("Recovery Playbooks", f"{AUDIT}connector_recovery_playbook_count", ""),
            ("Recovery Closed", f"{AUDIT}connector_recovery_closed_count", ""),
            ("Recovery Open", f"{AUDIT}recovery_open_count", "attention"),
            ("Recovery SLO Breached", f"{AUDIT}recovery_slo_breached_count", "bad"),
            ("Recovery Escalations", f"{AUDIT}recovery_escalation_route_count", ""),
            ("Recovery Esc Ack", f"{AUDIT}recovery_escalation_ack_count", ""),
            ("Esc Retryable", f"{AUDIT}recovery_escalation_retryable_count", "attention"),
            ("Esc Retry Runs", f"{AUDIT}recovery_escalation_retry_worker_run_count", ""),
            ("Esc Retry Executions", f"{AUDIT}recovery_escalation_retry_execution_record_count", ""),
            ("Retry Health Alerts", f"{AUDIT}recovery_escalation_retry_health_alert_count", "attention"),
        ),
    )
    if isinstance(slo, int) and cards:
        cards[0] = Card(cards[0].label, cards[0].value, cards[0].tone, hint=f"recovery SLO {slo} min")
    return cards


def executive_cards(body: Mapping[str, Any]) -> list[Card]:
    return _counted(
        body,
        (
            ("Executive Reports", f"{AUDIT}recovery_executive_report_count", ""),
            ("Executive Schedules", f"{AUDIT}recovery_executive_report_schedule_run_count", ""),
            ("Executive Sends", f"{AUDIT}recovery_executive_report_delivery_count", ""),
            ("Exec Send Failed", f"failed_{AUDIT}recovery_executive_report_delivery_count", "bad"),
            ("Exec Retryable", f"{AUDIT}recovery_executive_report_delivery_retryable_count", "attention"),
            ("Exec Retry Runs", f"{AUDIT}recovery_executive_report_delivery_retry_worker_run_count", ""),
            (
                "Exec Retry Failed",
                f"{AUDIT}recovery_executive_report_delivery_retry_execution_failed_count",
                "bad",
            ),
            (
                "Exec Health Alerts",
                f"{AUDIT}recovery_executive_report_delivery_retry_health_alert_plan_count",
                "",
            ),
        ),
    )


async def _routing(api: ConsoleApi, filters: ConsoleFilters) -> ApiAnswer:
    """The suppression trend of the owner / provider filters, and the route rows they match."""
    scope = {"owner": filters.owner, "provider": filters.provider}
    trend = await api.get(f"{NP}/suppression-trends", scope)
    if not trend.ok or not isinstance(trend.body, Mapping):
        return trend
    routes = await api.get(f"{NP}/routes", scope | {"limit": 1})
    if not routes.ok or not isinstance(routes.body, Mapping):
        return routes
    return ApiAnswer(200, {**(trend.body.get("trend") or {}), "route_count": routes.body.get("total")})


def routing_cards(body: Mapping[str, Any]) -> list[Card]:
    return _counted(
        body,
        (
            ("Route Rows", "route_count", ""),
            ("Suppressed", "suppression_event_count", ""),
            ("Maintenance", "maintenance_suppressed_count", ""),
            ("Calendar", "calendar_suppressed_count", ""),
            ("Healthy Schedule", "healthy_schedule_suppressed_count", ""),
        ),
    )


GROUPS: Final[dict[str, CardGroup]] = {
    group.name: group
    for group in (
        CardGroup("drills", "Drill notifications", ("delivery", "acknowledgement", "escalation", "route"),
                  _dashboard, drill_cards),
        CardGroup("audit", "Acknowledgement audit", ("delivery", "acknowledgement"), _dashboard, audit_cards),
        CardGroup("retries", "Retries and approvals", ("retry", "approval", "health"), _dashboard,
                  retry_cards),
        CardGroup("recovery", "Connector recovery", ("recovery",), _dashboard, recovery_cards),
        CardGroup("executive", "Executive reporting", ("executive",), _dashboard, executive_cards),
        CardGroup("routing", "Routing and suppression", ("route", "delivery"), _routing, routing_cards),
    )
}  # fmt: skip


async def render_groups(
    api: ConsoleApi, filters: ConsoleFilters, groups: list[CardGroup]
) -> list[RenderedGroup]:
    """Every group of ``groups`` at once (the dashboard serves five of them: ``ConsoleApi`` sends that
    GET once per console request)."""
    return list(await asyncio.gather(*(_render(api, filters, group) for group in groups)))


async def _render(api: ConsoleApi, filters: ConsoleFilters, group: CardGroup) -> RenderedGroup:
    answer = await group.fetch(api, filters)
    if not answer.ok or not isinstance(answer.body, Mapping):
        return RenderedGroup(group, [], answer)
    return RenderedGroup(group, group.cards(answer.body))
