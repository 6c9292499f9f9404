"""Evidence records: the shape in which every stored record is announced and shown in history.

The original kept every domain object as a flat *metadata record* in one evidence store (spec §0.2,
§3.0b): a few generic fields, a handful of kind-specific fields hoisted to the top level for
filtering, and the whole object under a payload key. Here each service keeps its own tables, and
each record it stores is announced by an event whose ``record`` is that metadata record. The
reporting service shows it in notification history and counts it on the dashboard by its
``metadata_kind`` alone, so a new record kind needs no code there beyond a counter row.

An event's ``record.payload`` is sized for its consumers (at most ``MAX_RECORD_PAYLOAD_BYTES``):
long lists (a retry plan's 100,000 decisions) stay in the owning service's tables and are read
with its queries; the payload carries the summary and the first items.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar, Final, Self

from pydantic import Field, model_validator

from cavra_contracts.base import Contract, UtcDatetime
from cavra_contracts.limits import MAX_ID_LENGTH, MAX_PROVIDERS, MAX_TEXT_LENGTH
from cavra_contracts.subjects import MessageSpec

PRODUCT: Final = "CAVRA"
"""The ``product`` of every record document and metadata record."""
METADATA_SCHEMA: Final = "cavra.evidence.metadata.v1"
MAX_RECORD_PAYLOAD_BYTES: Final = 256 * 1024
"""Largest ``EvidenceRecordV1.payload`` as compact JSON (an event stays well under NATS max_payload)."""
MAX_RECORD_LIST_ITEMS: Final = 100
"""Most items of any list a record payload carries (the rest is read from the owning service)."""


class EvidenceRecordV1(Contract):
    """One stored record as a metadata record of the original evidence store (spec §0.2, §3.0b)."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt", "any", "evidence_record", "cavra.drillops.evidence-record.v1", channel=False
    )

    metadata_kind: str = Field(min_length=1, max_length=MAX_TEXT_LENGTH)
    session_id: str = Field(min_length=1, max_length=MAX_ID_LENGTH, description="The record's id.")
    created_at: UtcDatetime
    signer: str = Field(
        max_length=MAX_TEXT_LENGTH, description="Who made it (generated_by, acknowledged_by, ...)."
    )
    decision_count: int = Field(default=0, ge=0)
    blocked_count: int = Field(default=0, ge=0)
    approval_required_count: int = Field(default=0, ge=0)
    schedule_id: str = Field(default="", max_length=MAX_ID_LENGTH)
    plan_id: str = Field(default="", max_length=MAX_ID_LENGTH)
    providers: list[str] = Field(
        default_factory=list, max_length=MAX_PROVIDERS * 4, description="Every provider it concerns (filter)."
    )
    acknowledgement_state: str = Field(default="", max_length=MAX_TEXT_LENGTH)
    source: str = Field(
        default="", max_length=MAX_TEXT_LENGTH, description="The family's connector_delivery_source, if any."
    )
    alert_level: str = Field(default="", max_length=MAX_TEXT_LENGTH)
    hoisted: dict[str, Any] = Field(
        default_factory=dict, description="Kind-specific fields hoisted to the top level (spec §3.0b)."
    )
    payload_key: str = Field(min_length=1, max_length=MAX_TEXT_LENGTH)
    payload: dict[str, Any] = Field(description="The record's document (its schema_version inside).")

    @model_validator(mode="after")
    def _bounded(self) -> Self:
        size = len(json.dumps(self.payload, separators=(",", ":"), default=str))
        if size > MAX_RECORD_PAYLOAD_BYTES:
            raise ValueError(f"payload must be at most {MAX_RECORD_PAYLOAD_BYTES} bytes as JSON, not {size}")
        return self

    def document(self) -> dict[str, Any]:
        """The metadata record as history shows it: generic fields, hoisted fields, the payload."""
        return {
            "schema_version": METADATA_SCHEMA,
            "product": PRODUCT,
            "session_id": self.session_id,
            "created_at": self.created_at.isoformat(),
            "signer": self.signer,
            "decision_count": self.decision_count,
            "blocked_count": self.blocked_count,
            "approval_required_count": self.approval_required_count,
            "metadata_kind": self.metadata_kind,
            **self.hoisted,
            self.payload_key: self.payload,
        }


class RecordedEvent(Contract):
    """Base of every event that announces one stored record (not a message by itself)."""

    MESSAGE: ClassVar[MessageSpec]

    record: EvidenceRecordV1


__all__ = [
    "MAX_RECORD_LIST_ITEMS",
    "MAX_RECORD_PAYLOAD_BYTES",
    "METADATA_SCHEMA",
    "PRODUCT",
    "EvidenceRecordV1",
    "RecordedEvent",
]
