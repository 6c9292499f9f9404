"""The scheduler's durable consumers."""

from __future__ import annotations

from cavra_contracts.subjects import COMMAND_STREAM, subject_for
from cavra_runtime.bus import ConsumerSpec
from cavra_scheduler import SERVICE
from cavra_scheduler.handlers import CONSUMER

COMMANDS = ConsumerSpec(
    durable=CONSUMER,
    stream=COMMAND_STREAM,
    filter_subjects=(subject_for("cmd", SERVICE, "*", 1),),
    concurrency=8,
)
