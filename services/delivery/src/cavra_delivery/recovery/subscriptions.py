"""The durable consumer of recovery commands."""

from __future__ import annotations

from cavra_contracts.subjects import COMMAND_STREAM
from cavra_runtime.bus import ConsumerSpec

RECOVERY_CONSUMER = "delivery-recovery-commands"


def recovery_commands(ack_wait_seconds: float) -> ConsumerSpec:
    """Recovery commands from the gateway: small transactions, a few at a time."""
    return ConsumerSpec(
        durable=RECOVERY_CONSUMER, stream=COMMAND_STREAM, ack_wait_seconds=ack_wait_seconds, concurrency=4
    )
