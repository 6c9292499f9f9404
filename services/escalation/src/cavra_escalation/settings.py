"""Escalation settings, read once from the environment."""

from __future__ import annotations

from pydantic import Field

from cavra_runtime.settings import RuntimeSettings


class EscalationSettings(RuntimeSettings):
    escalation_tick_seconds: float = Field(default=1.0, gt=0, le=3600)
    """How often the timer looks for due reminders and escalations (``CAVRA_ESCALATION_TICK_SECONDS``)."""
    escalation_batch: int = Field(default=200, ge=1, le=10_000)
    """Due routes one timer transaction claims at most (``CAVRA_ESCALATION_BATCH``)."""
    ack_wait_seconds: float = Field(default=60.0, ge=1, le=3600)
    """An escalation plan over 100,000 routes takes about a second: ample room."""
