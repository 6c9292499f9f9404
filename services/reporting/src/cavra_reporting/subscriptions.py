"""The reporting service's durable consumer."""

from __future__ import annotations

from cavra_contracts.subjects import EVENT_STREAM
from cavra_reporting.handlers import EVENTS_CONSUMER
from cavra_runtime.bus import ConsumerSpec


def events(ack_wait_seconds: float, concurrency: int) -> ConsumerSpec:
    """Every event the read models are built from, from the first one stored (a new consumer replays)."""
    return ConsumerSpec(
        durable=EVENTS_CONSUMER,
        stream=EVENT_STREAM,
        ack_wait_seconds=ack_wait_seconds,
        concurrency=concurrency,
    )
