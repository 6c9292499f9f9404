"""The escalation service's durable consumers."""

from __future__ import annotations

from cavra_contracts.subjects import COMMAND_STREAM, EVENT_STREAM
from cavra_escalation.handlers import COMMANDS_CONSUMER, EVENTS_CONSUMER
from cavra_runtime.bus import ConsumerSpec


def route_events(ack_wait_seconds: float) -> ConsumerSpec:
    """Plans and acknowledgements; those of one schedule are serialised by a lock in the handlers."""
    return ConsumerSpec(
        durable=EVENTS_CONSUMER,
        stream=EVENT_STREAM,
        ack_wait_seconds=ack_wait_seconds,
        concurrency=16,
    )


def plan_commands(ack_wait_seconds: float) -> ConsumerSpec:
    """Escalation plan commands from the gateway: each reads every current route, so a few at a time."""
    return ConsumerSpec(
        durable=COMMANDS_CONSUMER,
        stream=COMMAND_STREAM,
        ack_wait_seconds=ack_wait_seconds,
        concurrency=2,
    )
