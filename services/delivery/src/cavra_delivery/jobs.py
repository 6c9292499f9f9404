"""A delivery job: what the pipeline delivers, whatever asked for it (pure, no I/O).

A job is an id, a source (the family: ``connector_delivery_source`` of its record and rows), its
targets, a message builder that says what each target is sent, and the event that announces the
job's evidence. A notification plan (NotificationPlannedV1) is one kind of job, a DeliverMessageV1
command another; the pipeline never asks which. Delivery ids are ``job_id:target_key:connector``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from cavra_contracts.base import Contract
from cavra_contracts.deliveries import DeliverMessageV1, MessageDeliveredV1
from cavra_contracts.notifications import (
    NOTIFICATION_EVENT_TYPE,
    NOTIFICATION_SOURCE,
    DeliveryOptions,
    NotificationDeliveredV1,
    NotificationPlannedV1,
)
from cavra_contracts.retries import sha256_hex
from cavra_delivery import compose
from cavra_delivery.connectors.notification import Notification
from cavra_delivery.targets import Target

Announce = Callable[[Mapping[str, Any], list[dict[str, Any]]], Contract]
"""(the job's scrubbed record, its deliveries) -> the event that announces them."""


class MessageBuilder(Protocol):
    """Says what one target of a job is sent."""

    def notification(
        self, target: Target, *, delivery: str, now: datetime, ack_url: str | None
    ) -> Notification: ...


@dataclass(frozen=True, slots=True)
class Stored:
    """How a job is kept (``delivery_jobs``): its message, so a retry re-sends exactly it."""

    message_type: str
    message: Mapping[str, Any]
    payload_hash: str
    """SHA-256 of the canonical JSON of what it sends (alike for every retry of the same message)."""
    origin_job_id: str
    attempt: int = 0


@dataclass(frozen=True, slots=True)
class Job:
    """One thing to deliver: every target through every connector serving its provider."""

    job_id: str
    source: str
    noun: str
    """What its log lines call it: ``plan`` (``plan.delivered``) or ``job``."""
    event_type: str
    targets: Sequence[Target]
    message: MessageBuilder
    options: DeliveryOptions
    ids: Mapping[str, str]
    """The ids its ``release-connector-delivery`` record carries (``plan_id``, ``schedule_id``, ...)."""
    about: str
    """The envelope subject of its event (``plan/<id>``, ``job/<id>``)."""
    announce: Announce
    record_plan_id: str | None = None
    """The plan this job is, when it is a plan's (its record is the plan's record), else ``None``."""
    stored: Stored | None = None
    """Its ``delivery_jobs`` row (``None``: not kept)."""


class Retry(NamedTuple):
    """A job rebuilt as a retry: its own job id, the one provider that failed, the chain it retries."""

    job_id: str
    provider: str
    origin_job_id: str
    attempt: int


def _kept(contract: Contract, sent: Any, job_id: str, origin: str | None, attempt: int) -> Stored:
    return Stored(
        message_type=contract.MESSAGE.schema_version,
        message=contract.model_dump(mode="json"),
        payload_hash=sha256_hex(sent),
        origin_job_id=origin or job_id,
        attempt=attempt,
    )


def plan_job(
    planned: NotificationPlannedV1,
    *,
    retry: Retry | None = None,
) -> Job:
    """A plan's deliverable routes as a job whose id is the plan's id; ``retry``: only that provider's
    routes, under the retry's own job id."""
    plan = planned.plan
    job_id, only, origin, attempt = retry or (plan.plan_id, "", None, 0)
    targets = tuple(
        Target(
            key=decision.route_key,
            provider=decision.provider,
            owner=decision.owner,
            route_id=decision.route_id,
            schedule_id=plan.schedule_id,
            plan_id=plan.plan_id,
            ack_link=True,
        )
        for decision in plan.deliverable()
        if not only or decision.provider == only
    )

    def announce(record: Mapping[str, Any], deliveries: list[dict[str, Any]]) -> Contract:
        if retry is not None:  # a retry is a job of its own: the plan's delivery event stays the plan's
            return MessageDeliveredV1.model_validate(
                {
                    "job_id": job_id,
                    "source": NOTIFICATION_SOURCE,
                    "kind": "rollback_drill_notification_retry",
                    "event_type": NOTIFICATION_EVENT_TYPE,
                    "success": record["delivery_success"],
                    "record_id": record["record_id"],
                    "deliveries": deliveries,
                }
            )
        return NotificationDeliveredV1.model_validate(
            {
                "plan_id": plan.plan_id,
                "schedule_id": record["schedule_id"],
                "alert_level": plan.alert_level,
                "success": record["delivery_success"],
                "record_id": record["record_id"],
                "deliveries": deliveries,
            }
        )

    sent = {"plan": plan.model_dump(mode="json"), "content": planned.content.model_dump(mode="json")}
    return Job(
        job_id=job_id,
        source=NOTIFICATION_SOURCE,
        noun="plan",
        event_type=NOTIFICATION_EVENT_TYPE,
        targets=targets,
        message=compose.PlanMessage.of(plan, planned.content),
        options=planned.delivery,
        ids={"plan_id": plan.plan_id, "schedule_id": plan.schedule_id}
        | ({"job_id": job_id} if retry else {}),
        about=f"plan/{plan.plan_id}",
        announce=announce,
        record_plan_id=None if retry else plan.plan_id,
        stored=_kept(planned, sent, job_id, origin, attempt),
    )


def message_job(command: DeliverMessageV1, *, retry: Retry | None = None) -> Job:
    """A DeliverMessageV1 command as a job; its targets get ack links when it asks for them.
    ``retry`` as for :func:`plan_job`."""
    content = command.content
    job_id, only, origin, attempt = retry or (command.job_id, "", None, 0)
    targets = tuple(
        Target(
            key=target.target_key,
            provider=target.provider,
            owner=target.owner,
            route_id=target.route_id,
            schedule_id=target.schedule_id,
            plan_id=target.plan_id,
            ack_link=command.ack_links and bool(target.route_id),
        )
        for target in command.targets
        if not only or target.provider == only
    )

    def announce(record: Mapping[str, Any], deliveries: list[dict[str, Any]]) -> Contract:
        return MessageDeliveredV1.model_validate(
            {
                "job_id": job_id,
                "source": command.source,
                "kind": content.kind,
                "event_type": content.event_type,
                "success": record["delivery_success"],
                "record_id": record["record_id"],
                "deliveries": deliveries,
            }
        )

    return Job(
        job_id=job_id,
        source=command.source,
        noun="job",
        event_type=content.event_type,
        targets=targets,
        message=compose.JobMessage.of(job_id, content),
        options=command.delivery,
        ids={"job_id": job_id, "kind": content.kind, **_shared_ids(targets)},
        about=f"job/{job_id}",
        announce=announce,
        stored=_kept(command, content.model_dump(mode="json"), job_id, origin, attempt),
    )


def _shared_ids(targets: Sequence[Target]) -> dict[str, str]:
    """The plan and schedule every target concerns, when they all concern the same one."""
    shared = {}
    for name in ("plan_id", "schedule_id"):
        values = {getattr(target, name) for target in targets}
        if len(values) == 1 and (value := values.pop()):
            shared[name] = value
    return shared
