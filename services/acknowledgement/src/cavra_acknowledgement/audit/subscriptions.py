"""The durable consumer of audit commands."""

from __future__ import annotations

from cavra_contracts.subjects import COMMAND_STREAM
from cavra_runtime.bus import ConsumerSpec

AUDIT_CONSUMER = "acknowledgement-audit-commands"


def audit_commands(ack_wait_seconds: float) -> ConsumerSpec:
    """Audit commands from the gateway; appends serialise on the chain head, so a few at a time."""
    return ConsumerSpec(
        durable=AUDIT_CONSUMER, stream=COMMAND_STREAM, ack_wait_seconds=ack_wait_seconds, concurrency=4
    )
