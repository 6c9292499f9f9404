"""Reporting handlers: events applied to the read models, and the history and dashboard queries.

Every event handler is the same: the event's pure change (``domain``) applied once (inbox) in one
transaction. Reading one more event type is one function in ``domain.events`` and one row in ``CHANGES``;
every ``RecordedEvent`` of the registry is read with ``domain.evidence_recorded`` without any.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from cavra_contracts.acknowledgements import AcknowledgementsRecordedV1, normalize_state
from cavra_contracts.audit import AuditDeliveryPlannedV1, AuditPackageGeneratedV1
from cavra_contracts.base import Contract
from cavra_contracts.deliveries import MessageDeliveredV1
from cavra_contracts.envelope import utc_now
from cavra_contracts.escalations import ESCALATION_PLAN_KIND, EscalationPlanGeneratedV1, RouteEscalatedV1
from cavra_contracts.evidence import RecordedEvent
from cavra_contracts.families import FAMILY_SPECS
from cavra_contracts.notifications import NotificationDeliveredV1, NotificationPlannedV1
from cavra_contracts.queries import QueryReplyV1
from cavra_contracts.recovery import DEFAULT_RECOVERY_SLO_MINUTES
from cavra_contracts.registry import CONTRACTS
from cavra_contracts.reporting import (
    BREACHED_LISTED,
    LATEST_LISTED,
    OUTSTANDING_LISTED,
    BreachedRecoveryV1,
    LatestEscalationPlanV1,
    NotificationDashboardQueryV1,
    NotificationDashboardV1,
    NotificationHistoryQueryV1,
    NotificationHistoryV1,
    OutstandingRouteV1,
)
from cavra_contracts.timestamps import iso
from cavra_reporting import domain, evidence_repository, queries
from cavra_reporting import repository as repo
from cavra_reporting.domain import AUDIT_PROVIDER, Change, EventPosition
from cavra_reporting.domain.evidence import EXECUTION_FAILED_FIELDS, OPEN_RECOVERIES
from cavra_runtime.dispatch import HandlerTable, Message
from cavra_runtime.inbox import once
from cavra_runtime.service import QueryTable

EVENTS_CONSUMER = "reporting-events"


@dataclass(frozen=True)
class Deps:
    pool: asyncpg.Pool
    clock: Callable[[], datetime] = field(default=utc_now)
    """Only the recovery SLO breaches on the dashboard depend on the time asked."""
    recovery_slo_minutes: int = DEFAULT_RECOVERY_SLO_MINUTES


ChangeOf = Callable[[Any, EventPosition], Change]
"""What an event changes in the read models (pure): ``domain.<event>(contract, position)``."""


def applying(change_of: ChangeOf) -> Callable[[Message[Any], Deps], Awaitable[None]]:
    """The handler that applies ``change_of(event, position)`` once, in one transaction."""

    async def handle(message: Message[Any], deps: Deps) -> None:
        at = EventPosition(message.stream_sequence, message.envelope.occurred_at)
        change = change_of(message.contract, at)
        async with once(deps.pool, EVENTS_CONSUMER, message.envelope) as conn:
            if conn is None:
                return
            await repo.apply(conn, change, at)

    handle.__name__ = f"apply_{change_of.__name__}"
    return handle


CHANGES: Mapping[type[Contract], ChangeOf] = {
    NotificationPlannedV1: domain.notification_planned,
    NotificationDeliveredV1: domain.notification_delivered,
    MessageDeliveredV1: domain.message_delivered,
    AcknowledgementsRecordedV1: domain.acknowledgements_recorded,
    EscalationPlanGeneratedV1: domain.escalation_plan_generated,
    RouteEscalatedV1: domain.route_escalated,
    AuditPackageGeneratedV1: domain.audit_package_generated,
    AuditDeliveryPlannedV1: domain.audit_delivery_planned,
}
"""Every event the read models are built from, with what it changes (recorded events below)."""


def recorded_events(contracts: Iterable[type[Contract]]) -> dict[type[Contract], ChangeOf]:
    """Every event among ``contracts`` that announces a stored record (a ``RecordedEvent``), with the
    one change they all make: a new recorded event needs no code here."""
    return {
        contract: domain.evidence_recorded
        for contract in contracts
        if issubclass(contract, RecordedEvent)
        and contract is not RecordedEvent
        and contract.MESSAGE.kind == "evt"
        and contract.MESSAGE.channel
    }


CHANGES = {**CHANGES, **recorded_events(CONTRACTS)}


def event_table(changes: Mapping[type[Contract], ChangeOf]) -> HandlerTable[Deps]:
    """The consumer's handlers (and so its filter subjects): each event's change, applied once."""
    return {contract: applying(change_of) for contract, change_of in changes.items()}


EVENTS: HandlerTable[Deps] = event_table(CHANGES)
"""Handlers of the reporting service's event consumer: each event's change, applied once."""


# --- queries --------------------------------------------------------------------------------------


def history_filter(query: NotificationHistoryQueryV1) -> queries.HistoryFilter:
    family_source = FAMILY_SPECS[query.family].source if query.family else ""
    return queries.HistoryFilter(
        item_id=query.item_id,
        schedule_id=query.schedule_id,
        provider=query.provider,
        metadata_kind=query.metadata_kind,
        acknowledgement_state=normalize_state(query.acknowledgement_state),
        source_key=query.connector_delivery_source,
        delivery_success=query.delivery_success,
        alert_level=query.alert_level,
        audit_id=query.audit_id,
        delivery_id=query.delivery_id,
        cadence=query.cadence,
        family_source="" if family_source == query.connector_delivery_source else family_source,
    )


async def _history(conn: asyncpg.Connection, query: NotificationHistoryQueryV1) -> NotificationHistoryV1:
    where = history_filter(query)
    items, after, has_more = await queries.history_page(
        conn, where, query.limit, query.offset, query.position(), query.sort
    )
    return NotificationHistoryV1(
        items=items,
        total=await queries.history_total(conn, where),
        limit=query.limit,
        offset=query.offset,
        next=after.cursor() if after else None,
        has_more=has_more,
    )


async def history(query: NotificationHistoryQueryV1, deps: Deps) -> QueryReplyV1:
    async with deps.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        page = await _history(conn, query)
    return QueryReplyV1(ok=True, result=page.model_dump(mode="json"))


async def dashboard(_: NotificationDashboardQueryV1, deps: Deps) -> QueryReplyV1:
    fields = domain.counter_names()
    recorded = domain.evidence_fields()
    names = [*fields.values(), *recorded.values(), OPEN_RECOVERIES]
    async with deps.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        counted = await queries.counters(conn, names, AUDIT_PROVIDER)
        state = await queries.dashboard_state(conn, ESCALATION_PLAN_KIND, OUTSTANDING_LISTED)
        latest, _position, _more = await queries.history_page(
            conn, queries.HistoryFilter(), LATEST_LISTED, 0, None
        )
        evidence = await evidence_repository.evidence_state(
            conn, deps.clock(), deps.recovery_slo_minutes, BREACHED_LISTED
        )
    values = {field: counted[name] for field, name in fields.items()}
    recorded_values = {field: counted[name] for field, name in recorded.items()}
    open_recoveries = counted[OPEN_RECOVERIES]
    breached = max(open_recoveries - evidence.open_recoveries_within_slo, 0)
    failed_executions = sum(recorded_values[field] for field in EXECUTION_FAILED_FIELDS)
    audit_providers = [
        name.removeprefix(AUDIT_PROVIDER) for name in counted if name.startswith(AUDIT_PROVIDER)
    ]
    audit_total = values["acknowledgement_audit_delivery_count"]
    audit_failed = values["failed_acknowledgement_audit_delivery_count"]
    escalation_plan = state.latest_escalation_plan
    report = NotificationDashboardV1(
        generated_at=iso(state.latest_event_at) if state.latest_event_at else None,
        alert_level=domain.alert_level(
            values["failed_delivery_count"], values["outstanding_acknowledgement_count"]
        )
        if not (breached or failed_executions)
        else "critical",
        outstanding_acknowledgements=[OutstandingRouteV1.model_validate(row) for row in state.outstanding],
        latest_escalation_plan=(
            LatestEscalationPlanV1.model_validate(escalation_plan["escalation_plan"])
            if escalation_plan
            else None
        ),
        acknowledgement_audit_delivery_success_count=audit_total - audit_failed,
        acknowledgement_audit_delivery_success_rate=domain.success_rate(
            audit_total - audit_failed, audit_total
        ),
        acknowledgement_audit_delivery_providers=audit_providers,
        acknowledgement_audit_delivery_health="critical" if audit_failed else "healthy",
        latest=latest,
        acknowledgement_audit_delivery_retry_execution_approval_pending_count=evidence.approvals_pending,
        acknowledgement_audit_delivery_recovery_open_count=open_recoveries,
        acknowledgement_audit_delivery_recovery_slo_breached_count=breached,
        breached_recoveries=[BreachedRecoveryV1.model_validate(row) for row in evidence.breached],
        recovery_slo_minutes=deps.recovery_slo_minutes,
        **recorded_values,
        **values,
    )
    return QueryReplyV1(ok=True, result=report.model_dump(mode="json"))


QUERIES: QueryTable[Deps] = {
    NotificationHistoryQueryV1: history,
    NotificationDashboardQueryV1: dashboard,
}
"""The reporting service's query handlers, one per contract."""
