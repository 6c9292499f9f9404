"""The acknowledgement service's durable consumers."""

from __future__ import annotations

from cavra_acknowledgement.handlers import PLANS_CONSUMER
from cavra_acknowledgement.recording import COMMANDS_CONSUMER
from cavra_contracts.subjects import COMMAND_STREAM, EVENT_STREAM
from cavra_runtime.bus import ConsumerSpec


def planned_notifications(ack_wait_seconds: float, concurrency: int) -> ConsumerSpec:
    """Plans from the router: each plan's routes become acknowledgeable."""
    return ConsumerSpec(
        durable=PLANS_CONSUMER,
        stream=EVENT_STREAM,
        ack_wait_seconds=ack_wait_seconds,
        concurrency=concurrency,
    )


def acknowledgement_commands(ack_wait_seconds: float, concurrency: int) -> ConsumerSpec:
    """Acknowledgement commands from the gateway (API, bulk, scope, Slack, ack links)."""
    return ConsumerSpec(
        durable=COMMANDS_CONSUMER,
        stream=COMMAND_STREAM,
        ack_wait_seconds=ack_wait_seconds,
        concurrency=concurrency,
        batch=concurrency,
    )
