"""Which stored events the console's live feed announces, under which topic, and the ids they name.

An event becomes a ``Change``: its console topic, its kind (the message name) and the ids the console
keys rows by (route, plan, delivery, acknowledgement, retry plan, approval, playbook, run ...). Only
ids travel, never payload data. ``TOPICS`` is keyed by subject so an event of no interest is skipped
before its body is decoded.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from pydantic import ValidationError

import cavra_contracts.acknowledgements as acknowledgements
import cavra_contracts.approvals as approvals
import cavra_contracts.audit as audit
import cavra_contracts.deliveries as deliveries
import cavra_contracts.escalations as escalations
import cavra_contracts.executive as executive
import cavra_contracts.health as health
import cavra_contracts.notifications as notifications
import cavra_contracts.recovery as recovery
import cavra_contracts.retries as retries
from cavra_contracts.base import Contract
from cavra_contracts.envelope import Envelope
from cavra_contracts.limits import MAX_ID_LENGTH

Topic = Literal[
    "delivery",
    "acknowledgement",
    "escalation",
    "route",
    "approval",
    "retry",
    "recovery",
    "executive",
    "health",
]
TOPIC_NAMES: Final[tuple[Topic, ...]] = (
    "delivery",
    "acknowledgement",
    "escalation",
    "route",
    "approval",
    "retry",
    "recovery",
    "executive",
    "health",
)

MAX_IDS_PER_EVENT: Final = 500
"""Ids read from one event at most; past it the change asks for a resync of its topic."""


@dataclass(frozen=True)
class Interest:
    """What the console makes of one event type: its topic and where its ids are.

    An id path is a field name, ``a.b`` for a nested field, ``items[].field`` for a field of every
    item of a list.
    """

    contract: type[Contract]
    topic: Topic
    id_paths: tuple[str, ...]

    @property
    def kind(self) -> str:
        return self.contract.MESSAGE.name


@dataclass(frozen=True)
class Change:
    """One stored event as the console sees it."""

    topic: Topic
    kind: str
    record_ids: tuple[str, ...]
    resync: bool
    subject: str
    sequence: int
    stored_at: datetime


_RECORD = "record.session_id"

INTERESTS: Final[tuple[Interest, ...]] = (
    Interest(
        notifications.NotificationPlannedV1,
        "route",
        ("plan.plan_id", "plan.schedule_id", "plan.route_decisions[].route_id"),
    ),
    Interest(
        notifications.NotificationDeliveredV1,
        "delivery",
        ("plan_id", "schedule_id", "record_id", "deliveries[].delivery_id", "deliveries[].route_id"),
    ),
    Interest(
        deliveries.MessageDeliveredV1,
        "delivery",
        ("job_id", "record_id", "deliveries[].delivery_id", "deliveries[].route_id", "deliveries[].plan_id"),
    ),
    Interest(
        acknowledgements.AcknowledgementsRecordedV1,
        "acknowledgement",
        (
            "bulk_id",
            "acknowledgements[].acknowledgement_id",
            "acknowledgements[].route_id",
            "acknowledgements[].plan_id",
        ),
    ),
    Interest(audit.AuditPackageGeneratedV1, "acknowledgement", ("audit_id", "plan_ids")),
    Interest(audit.AuditDeliveryPlannedV1, "acknowledgement", ("delivery_id", "audit_id")),
    Interest(escalations.EscalationPlanGeneratedV1, "escalation", ("plan_id",)),
    Interest(
        escalations.RouteEscalatedV1,
        "escalation",
        ("escalation_id", "route_id", "plan_id", "schedule_id", "job_id"),
    ),
    Interest(
        escalations.EscalationCancelledV1,
        "escalation",
        ("route_id", "plan_id", "schedule_id", "acknowledgement_id"),
    ),
    Interest(executive.ExecutiveReportGeneratedV1, "executive", (_RECORD, "executive_report_id", "run_id")),
    Interest(executive.ExecutiveReportRunRecordedV1, "executive", (_RECORD, "run_id", "executive_report_id")),
    Interest(
        executive.ExecutiveReportDeliveryRequestedV1,
        "executive",
        (_RECORD, "run_id", "executive_report_id", "job_id"),
    ),
    Interest(health.HealthAlertPlannedV1, "health", (_RECORD, "plan_id", "health_id", "job_id")),
    Interest(
        health.HealthAlertAcknowledgedV1, "health", (_RECORD, "acknowledgement_id", "health_id", "plan_id")
    ),
    Interest(recovery.ConnectorRecoveryPlaybookGeneratedV1, "recovery", (_RECORD, "playbook_id")),
    Interest(recovery.ConnectorRecoveryClosedV1, "recovery", (_RECORD, "closure_id", "playbook_id")),
    Interest(recovery.RecoveryEscalationPlannedV1, "recovery", (_RECORD, "plan_id")),
    Interest(recovery.RecoveryEscalationDeliveryRequestedV1, "recovery", (_RECORD, "plan_id", "job_id")),
    Interest(
        recovery.RecoveryEscalationAcknowledgedV1, "recovery", (_RECORD, "acknowledgement_id", "plan_id")
    ),
    Interest(retries.RetryPlanGeneratedV1, "retry", (_RECORD, "retry_plan_id")),
    Interest(retries.WorkerRunCompletedV1, "retry", (_RECORD, "run_id")),
    Interest(retries.RetryExecutedV1, "retry", (_RECORD, "execution_id")),
    Interest(retries.RetryExecutionRefusedV1, "retry", ("run_id", "origin_job_id", "approval_id")),
    Interest(retries.WorkerScheduleSetV1, "retry", ()),
    Interest(approvals.RetryAcknowledgedV1, "retry", (_RECORD, "acknowledgement_id")),
    Interest(approvals.ApprovalPlanGeneratedV1, "approval", (_RECORD, "approval_plan_id")),
    Interest(approvals.ApprovalDecidedV1, "approval", (_RECORD, "decision_id", "approval_id")),
    Interest(approvals.ApprovalRefusedV1, "approval", ("approval_plan_id", "approval_id")),
    Interest(approvals.ApprovalExpiredV1, "approval", ("approval_id", "origin_job_id")),
)
"""Every event the console shows, with its topic and the ids of the rows it changes."""

TOPICS: Final[Mapping[str, Interest]] = {
    interest.contract.MESSAGE.subject: interest for interest in INTERESTS
}
"""``INTERESTS`` by subject."""


def change_of(subject: str, data: bytes, sequence: int, stored_at: datetime) -> Change | None:
    """The console's view of a stored event, or None when the console does not show it (or it does
    not decode: the services that own it dead-letter it, the console has nothing to show)."""
    interest = TOPICS.get(subject)
    if interest is None:
        return None
    try:
        envelope = Envelope.from_json(data)
    except ValidationError:
        return None
    ids = record_ids(envelope.payload, interest.id_paths)
    resync = len(ids) > MAX_IDS_PER_EVENT
    return Change(
        topic=interest.topic,
        kind=interest.kind,
        record_ids=() if resync else ids,
        resync=resync,
        subject=subject,
        sequence=sequence,
        stored_at=stored_at,
    )


def record_ids(payload: Mapping[str, Any], paths: tuple[str, ...]) -> tuple[str, ...]:
    """Every distinct non-empty id found at ``paths`` in ``payload``, first seen first; stops reading
    one past ``MAX_IDS_PER_EVENT`` (the caller resyncs then)."""
    found: dict[str, None] = {}
    for path in paths:
        for value in _values(payload, path.split(".")):
            if isinstance(value, str) and 0 < len(value) <= MAX_ID_LENGTH:
                found[value] = None
                if len(found) > MAX_IDS_PER_EVENT:
                    return tuple(found)
    return tuple(found)


def _values(node: Any, steps: list[str]) -> Iterator[Any]:
    if not steps:
        if isinstance(node, list):  # a list of ids, e.g. plan_ids
            yield from node[: MAX_IDS_PER_EVENT + 1]
        else:
            yield node
        return
    if not isinstance(node, Mapping):
        return
    step, rest = steps[0], steps[1:]
    if step.endswith("[]"):
        items = node.get(step[:-2])
        if isinstance(items, list):
            for item in items[: MAX_IDS_PER_EVENT + 1]:
                yield from _values(item, rest)
        return
    yield from _values(node.get(step), rest)
