"""Subject grammar, message metadata and the JetStream streams that carry them.

Subjects follow ``cavra.<cmd|evt|qry>.<service>.<message>.v<major>``:

* ``cmd`` — commands, stored in the ``CAVRA_COMMANDS`` stream and handled by one durable
  consumer group of the owning service;
* ``evt`` — events, stored in the ``CAVRA_EVENTS`` stream: the replayable audit log that
  SIEM/ITSM systems and auditors subscribe to;
* ``qry`` — queries, core NATS request/reply served by a queue group; never stored.

Messages a consumer gives up on are copied to ``cavra.dlq.<consumer>`` in ``CAVRA_DLQ``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["cmd", "evt", "qry"]

COMMAND_STREAM = "CAVRA_COMMANDS"
EVENT_STREAM = "CAVRA_EVENTS"
DEAD_LETTER_STREAM = "CAVRA_DLQ"
DEAD_LETTER_PREFIX = "cavra.dlq"


def subject_for(kind: Kind, service: str, message: str, major: int = 1) -> str:
    """Build a subject from its parts, e.g. ``cavra.evt.scheduler.schedule_evaluated.v1``."""
    return f"cavra.{kind}.{service}.{message}.v{major}"


def dead_letter_subject(consumer: str) -> str:
    """Subject that receives the messages a durable consumer terminated."""
    return f"{DEAD_LETTER_PREFIX}.{consumer}"


@dataclass(frozen=True)
class MessageSpec:
    """Metadata of one contract: where it travels and which schema it carries."""

    kind: Kind
    service: str
    name: str
    schema_version: str
    major: int = 1
    summary: str = ""
    channel: bool = True
    """False for payloads that never travel alone (replies, list items): no subject of their own."""

    @property
    def subject(self) -> str:
        return subject_for(self.kind, self.service, self.name, self.major)


@dataclass(frozen=True)
class StreamSpec:
    """A JetStream stream the system provisions at start."""

    name: str
    subjects: tuple[str, ...]
    description: str
    max_age_days: float
    duplicate_window_seconds: float = 600.0
    max_bytes: int = -1
    extra: dict[str, str] = field(default_factory=dict)


STREAMS: tuple[StreamSpec, ...] = (
    StreamSpec(
        name=COMMAND_STREAM,
        subjects=("cavra.cmd.>",),
        description="Commands addressed to one service; an audit trail of every request.",
        max_age_days=30,
    ),
    StreamSpec(
        name=EVENT_STREAM,
        subjects=("cavra.evt.>",),
        description="Every state change, in order; the replayable audit log.",
        max_age_days=400,
    ),
    StreamSpec(
        name=DEAD_LETTER_STREAM,
        subjects=(f"{DEAD_LETTER_PREFIX}.>",),
        description="Messages a consumer terminated (undecodable, permanent failure, retries exhausted).",
        max_age_days=30,
    ),
)
