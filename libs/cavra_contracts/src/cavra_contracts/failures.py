"""The events a service publishes when it gives up on a message: rejected, never silently dropped.

Every service's dispatcher publishes ``MessageRejectedV1`` on ``cavra.evt.<service>.message_rejected.v1``
when a message cannot be decoded or its handler fails for a reason no retry can fix, and copies the
message to the dead-letter stream. The event names the message it rejects as its causation, so
whoever waits for that command's outcome (the gateway) answers at once instead of timing out.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from cavra_contracts.base import Contract
from cavra_contracts.scheduler import FieldProblem
from cavra_contracts.subjects import MessageSpec, subject_for

RejectionReason = Literal["undecodable", "unhandled", "permanent", "max_deliver"]


def rejection_subject(service: str) -> str:
    """Subject of the MessageRejectedV1 events of ``service``."""
    return subject_for("evt", service, "message_rejected")


class MessageRejectedV1(Contract):
    """A consumer gave up on a message; it is in ``CAVRA_DLQ`` for inspection and replay."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt",
        "any",
        "message_rejected",
        "cavra.drillops.message-rejected.v1",
        summary="Sent on cavra.evt.<service>.message_rejected.v1 when a consumer dead-letters a message.",
        channel=False,
    )

    consumer: str = Field(description="The durable consumer that gave up.")
    message_type: str = Field(description="Subject / contract of the rejected message.")
    message_id: str
    reason: RejectionReason
    error_class: str
    error: str = Field(max_length=500, description="What went wrong, without payload content.")
    delivery_attempts: int
    stream_sequence: int


class OutboxMessageSetAsideV1(Contract):
    """An event its service stored but the bus refused (e.g. larger than ``max_payload``).

    The row stays in the service's outbox with its error (``set_aside_at``); the service's health
    reports it until an operator has looked at it.
    """

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt",
        "runtime",
        "outbox_set_aside",
        "cavra.drillops.outbox-message-set-aside.v1",
        summary="An outbox row the bus refused was set aside; the relay moved on.",
    )

    schema_name: str = Field(description="The service (database schema) whose outbox holds the row.")
    message_id: str
    message_type: str
    size_bytes: int
    error_class: str
    error: str = Field(max_length=500)


class RequestRefused(Contract):
    """Base of the events a service publishes when it refuses a command before storing anything: the
    HTTP-like status to answer with and every offending field (not a message by itself)."""

    MESSAGE: ClassVar[MessageSpec]

    status_code: int
    problems: list[FieldProblem]
