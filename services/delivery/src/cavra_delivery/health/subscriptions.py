"""The durable consumer of health alert commands."""

from __future__ import annotations

from cavra_contracts.subjects import COMMAND_STREAM
from cavra_runtime.bus import ConsumerSpec

HEALTH_CONSUMER = "delivery-health-commands"


def health_commands(ack_wait_seconds: float) -> ConsumerSpec:
    """Alert plans of one family serialise on an advisory lock, so a few at a time."""
    return ConsumerSpec(
        durable=HEALTH_CONSUMER, stream=COMMAND_STREAM, ack_wait_seconds=ack_wait_seconds, concurrency=4
    )
