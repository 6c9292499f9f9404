"""The delivery service's durable consumers."""

from __future__ import annotations

from cavra_contracts.subjects import COMMAND_STREAM, EVENT_STREAM
from cavra_delivery.handlers import CONSUMER, JOBS_CONSUMER
from cavra_delivery.retries.handlers import RETRIES_CONSUMER
from cavra_runtime.bus import ConsumerSpec


def planned_notifications(ack_wait_seconds: float, concurrency: int) -> ConsumerSpec:
    """Plans are independent of each other, so replicas and tasks deliver them concurrently.

    ``ack_wait`` must outlast the slowest plan (every attempt timing out plus back-off);
    a replica that dies mid-plan hands the plan over after it.
    """
    return ConsumerSpec(
        durable=CONSUMER,
        stream=EVENT_STREAM,
        ack_wait_seconds=ack_wait_seconds,
        concurrency=concurrency,
        batch=concurrency,
        max_deliver=20,
        nak_delays=(1.0, 2.0, 5.0, 10.0, 30.0),
    )


def delivery_jobs(ack_wait_seconds: float, concurrency: int) -> ConsumerSpec:
    """DeliverMessageV1 commands (escalations, reminders, audit packages): delivered like plans,
    by the same pipeline, with the same patience."""
    return ConsumerSpec(
        durable=JOBS_CONSUMER,
        stream=COMMAND_STREAM,
        ack_wait_seconds=ack_wait_seconds,
        concurrency=concurrency,
        batch=concurrency,
        max_deliver=20,
        nak_delays=(1.0, 2.0, 5.0, 10.0, 30.0),
    )


def retry_commands(ack_wait_seconds: float) -> ConsumerSpec:
    """Retry plans, worker runs and governed execution from the gateway: a few at a time (a plan is
    one statement over every failed delivery of its family)."""
    return ConsumerSpec(
        durable=RETRIES_CONSUMER,
        stream=COMMAND_STREAM,
        ack_wait_seconds=ack_wait_seconds,
        concurrency=4,
        batch=4,
        max_deliver=10,
    )
