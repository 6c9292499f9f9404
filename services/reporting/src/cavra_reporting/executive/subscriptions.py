"""The durable consumer of executive report commands."""

from __future__ import annotations

from cavra_contracts.subjects import COMMAND_STREAM
from cavra_runtime.bus import ConsumerSpec

EXECUTIVE_CONSUMER = "reporting-executive-commands"


def executive_commands(ack_wait_seconds: float) -> ConsumerSpec:
    """Schedule-run and deliver commands from the gateway (each asks the recovery source first)."""
    return ConsumerSpec(
        durable=EXECUTIVE_CONSUMER, stream=COMMAND_STREAM, ack_wait_seconds=ack_wait_seconds, concurrency=4
    )
