"""The scheduler's durable consumers."""

from __future__ import annotations

from cavra_contracts.subjects import COMMAND_STREAM
from cavra_runtime.bus import ConsumerSpec
from cavra_scheduler.handlers import CONSUMER


def commands(ack_wait_seconds: float) -> ConsumerSpec:
    """Scheduler commands, applied one at a time in stream order.

    Commands depend on each other across entities (a drill names a schedule created by an
    earlier command), so they are never handled concurrently: ``max_ack_pending=1`` makes the
    server hand out one command at a time across all replicas, in stream order. A crashed
    replica's in-flight command returns after ``ack_wait_seconds``.
    """
    return ConsumerSpec(
        durable=CONSUMER,
        stream=COMMAND_STREAM,
        ack_wait_seconds=ack_wait_seconds,
        concurrency=1,
        batch=1,
        max_ack_pending=1,
    )
