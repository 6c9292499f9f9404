"""The message envelope every message travels in.

On the wire the envelope is a CloudEvents 1.0 structured JSON document: the Python field
names follow our style (``message_id``, ``occurred_at``, ``payload``), the serialised
names follow CloudEvents (``id``, ``time``, ``data``, extension attributes in lower case).
``message_id`` is also sent as the ``Nats-Msg-Id`` header so JetStream de-duplicates
republishes, and consumers key their inbox on it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal
from uuid import uuid4

from pydantic import BaseModel, ConfigDict, Field, field_validator

CONTENT_TYPE = "application/cloudevents+json"


def new_message_id() -> str:
    """Return a fresh, globally unique message id."""
    return str(uuid4())


def utc_now() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


class Envelope(BaseModel):
    """One message: contract name and version, provenance, and the payload."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    specversion: Literal["1.0"] = "1.0"
    message_id: str = Field(default_factory=new_message_id, alias="id", min_length=1)
    type: str = Field(description="Contract name; equals the NATS subject it travels on.")
    schema_version: str = Field(alias="schemaversion")
    producer: str = Field(description="Service that produced the message.")
    source: str = Field(default="", description="CloudEvents source, /cavra/<producer>.")
    subject: str | None = Field(default=None, description="What the message is about, e.g. schedule/<id>.")
    occurred_at: datetime = Field(default_factory=utc_now, alias="time")
    correlation_id: str | None = Field(default=None, alias="correlationid")
    causation_id: str | None = Field(default=None, alias="causationid")
    datacontenttype: Literal["application/json"] = "application/json"
    payload: dict[str, Any] = Field(default_factory=dict, alias="data")

    @field_validator("occurred_at")
    @classmethod
    def _aware_utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def to_json(self) -> bytes:
        """Serialise as CloudEvents structured JSON."""
        return self.model_dump_json(by_alias=True, exclude_none=True).encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> Envelope:
        """Parse CloudEvents structured JSON; raises ``pydantic.ValidationError``."""
        return cls.model_validate_json(data)

    def nats_headers(self) -> dict[str, str]:
        """Headers for NATS: de-duplication id plus CloudEvents binary-mode attributes."""
        headers = {
            "Nats-Msg-Id": self.message_id,
            "content-type": CONTENT_TYPE,
            "ce-specversion": self.specversion,
            "ce-id": self.message_id,
            "ce-type": self.type,
            "ce-source": self.source,
            "ce-time": self.occurred_at.isoformat(),
            "ce-schemaversion": self.schema_version,
        }
        if self.subject:
            headers["ce-subject"] = self.subject
        if self.correlation_id:
            headers["ce-correlationid"] = self.correlation_id
        if self.causation_id:
            headers["ce-causationid"] = self.causation_id
        return headers


def make_envelope(
    contract: Any,
    *,
    producer: str,
    subject: str | None = None,
    correlation_id: str | None = None,
    causation_id: str | None = None,
    message_id: str | None = None,
    occurred_at: datetime | None = None,
    cause: Envelope | None = None,
) -> Envelope:
    """Wrap a contract instance (a model with ``MESSAGE`` metadata) in an envelope.

    With ``cause`` (the message being handled) the new message names it as its causation and
    inherits its correlation (or starts one from it), so a whole chain can be followed.
    """
    if cause is not None:
        causation_id = cause.message_id
        correlation_id = cause.correlation_id or cause.message_id
    spec = contract.MESSAGE
    fields: dict[str, Any] = {
        "type": spec.subject,
        "schema_version": spec.schema_version,
        "producer": producer,
        "source": f"/cavra/{producer}",
        "subject": subject,
        "correlation_id": correlation_id,
        "causation_id": causation_id,
        "payload": contract.model_dump(mode="json"),
    }
    if message_id:
        fields["message_id"] = message_id
    if occurred_at:
        fields["occurred_at"] = occurred_at
    return Envelope(**fields)
