"""The router's durable consumers."""

from __future__ import annotations

from cavra_contracts.subjects import COMMAND_STREAM, EVENT_STREAM
from cavra_router.handlers import COMMANDS_CONSUMER, EVENTS_CONSUMER
from cavra_runtime.bus import ConsumerSpec


def schedule_events(ack_wait_seconds: float) -> ConsumerSpec:
    """Readiness changes from the scheduler; independent per schedule, so handled concurrently."""
    return ConsumerSpec(
        durable=EVENTS_CONSUMER,
        stream=EVENT_STREAM,
        ack_wait_seconds=ack_wait_seconds,
        concurrency=32,
    )


def plan_commands(ack_wait_seconds: float) -> ConsumerSpec:
    """On-demand plan commands from the gateway."""
    return ConsumerSpec(
        durable=COMMANDS_CONSUMER,
        stream=COMMAND_STREAM,
        ack_wait_seconds=ack_wait_seconds,
        concurrency=32,
    )
