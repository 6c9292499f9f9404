"""Delivery jobs: any message the system sends through its connectors, beside notification plans.

Escalations, reminders and acknowledgement audit packages (and, later, recovery escalations and
executive reports) are delivered by the same pipeline as notification plans: the delivery service
takes a :class:`DeliverMessageV1`, sends it to each target through the connectors serving the
target's provider (same retries, breakers, redacted evidence and outcome rows), then publishes one
:class:`MessageDeliveredV1`. The ``source`` names the family (the ``connector_delivery_source`` of
the stored ``release-connector-delivery`` record); nothing else differs between families.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar, Final, Self

from pydantic import Field, model_validator

from cavra_contracts.base import Contract
from cavra_contracts.limits import (
    MAX_ID_LENGTH,
    MAX_OWNER_LENGTH,
    MAX_PLAN_ID_LENGTH,
    MAX_PROVIDER_LENGTH,
    MAX_ROUTES_PER_PLAN,
    MAX_TEXT_LENGTH,
)
from cavra_contracts.notifications import DeliveryOptions, RouteDeliveryV1
from cavra_contracts.subjects import MessageSpec
from cavra_contracts.vocabulary import AlertLevel

SERVICE = "delivery"

ESCALATION_SOURCE: Final = "go_backend_rollback_drill_notification_escalation"
"""Automatic escalations and reminders of unacknowledged notification routes."""
AUDIT_SOURCE: Final = "go_backend_rollback_drill_acknowledgement_audit"
"""Acknowledgement audit packages (spec §3.11)."""
MAX_JOB_DATA_BYTES: Final = 64 * 1024
"""Largest ``MessageContentV1.data`` as compact JSON (a job's message is sent to each target)."""


class DeliveryTargetV1(Contract):
    """One addressee of a job: a provider, the owner it is for, and the route it concerns."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "cmd", SERVICE, "delivery_target", "cavra.drillops.delivery.delivery-target.v1", channel=False
    )

    target_key: str = Field(
        min_length=1,
        max_length=MAX_ID_LENGTH,
        description="Stable within the job: delivery ids are job_id:target_key:connector (idempotent).",
    )
    provider: str = Field(min_length=1, max_length=MAX_PROVIDER_LENGTH)
    owner: str = Field(default="", max_length=MAX_OWNER_LENGTH)
    route_id: str = Field(default="", max_length=MAX_ID_LENGTH, description="The route concerned, if any.")
    schedule_id: str = Field(default="", max_length=MAX_ID_LENGTH)
    plan_id: str = Field(default="", max_length=MAX_PLAN_ID_LENGTH)


class FactV1(Contract):
    """One titled value shown in chat cards and tickets."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "cmd", SERVICE, "fact", "cavra.drillops.delivery.fact.v1", channel=False
    )

    title: str = Field(max_length=MAX_TEXT_LENGTH)
    value: str = Field(max_length=2000)


class MessageContentV1(Contract):
    """What a job says, alike for every target (public-safe: no secrets, private URLs or customer data)."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "cmd", SERVICE, "message_content", "cavra.drillops.delivery.message-content.v1", channel=False
    )

    kind: str = Field(min_length=1, max_length=MAX_TEXT_LENGTH, description="e.g. rollback_drill_escalation.")
    event_type: str = Field(
        min_length=1, max_length=MAX_TEXT_LENGTH, description="CloudEvents type of webhook/HEC bodies."
    )
    title: str = Field(min_length=1, max_length=MAX_TEXT_LENGTH)
    text: str = Field(max_length=4000)
    severity: AlertLevel
    facts: list[FactV1] = Field(default_factory=list, max_length=20)
    data: dict[str, Any] = Field(
        default_factory=dict,
        description="The CloudEvent's data: structured, public-safe, JSON only "
        f"(at most {MAX_JOB_DATA_BYTES} bytes as JSON).",
    )

    @model_validator(mode="after")
    def _bounded_data(self) -> Self:
        try:
            size = len(json.dumps(self.data, separators=(",", ":"), allow_nan=False))
        except (TypeError, ValueError):
            raise ValueError("data must be plain JSON") from None
        if size > MAX_JOB_DATA_BYTES:
            raise ValueError(f"data must be at most {MAX_JOB_DATA_BYTES} bytes as JSON, not {size}")
        return self


class DeliverMessageV1(Contract):
    """Send one message to each target through the connectors serving its provider."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "cmd",
        SERVICE,
        "deliver_message",
        "cavra.drillops.delivery.deliver-message.v1",
        summary="Deliver a job (escalation, reminder, audit package, ...) like a plan's routes.",
    )

    job_id: str = Field(
        min_length=1,
        max_length=MAX_PLAN_ID_LENGTH,
        description="Stable id: a redelivery sends nothing twice.",
    )
    source: str = Field(
        min_length=1, max_length=MAX_TEXT_LENGTH, description="connector_delivery_source of the record."
    )
    content: MessageContentV1
    targets: list[DeliveryTargetV1] = Field(min_length=1, max_length=MAX_ROUTES_PER_PLAN)
    delivery: DeliveryOptions = Field(default_factory=DeliveryOptions)
    ack_links: bool = Field(
        default=False, description="Put a signed one-time ack link for each target's route in the payloads."
    )

    @model_validator(mode="after")
    def _unique_target_keys(self) -> Self:
        keys = [target.target_key for target in self.targets]
        if len(set(keys)) != len(keys):
            raise ValueError("targets must have distinct target_key values")
        return self


class MessageDeliveredV1(Contract):
    """A job's targets were delivered (or failed): redacted evidence, one event per job."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt",
        SERVICE,
        "message_delivered",
        "cavra.drillops.delivery.message-delivered.v1",
        summary="Redacted delivery evidence of a job (escalation, audit package, ...).",
    )

    job_id: str
    source: str
    kind: str
    event_type: str = Field(default="", description="The job's content.event_type.")
    success: bool
    record_id: str
    deliveries: list[RouteDeliveryV1]


__all__ = [
    "AUDIT_SOURCE",
    "ESCALATION_SOURCE",
    "DeliverMessageV1",
    "DeliveryTargetV1",
    "MAX_JOB_DATA_BYTES",
    "FactV1",
    "MessageContentV1",
    "MessageDeliveredV1",
]
