"""Reporting settings, read once from the environment."""

from __future__ import annotations

from pydantic import Field

from cavra_contracts.recovery import DEFAULT_RECOVERY_SLO_MINUTES, MAX_RECOVERY_SLO_MINUTES
from cavra_reporting.executive.settings import ExecutiveSettings


class ReportingSettings(ExecutiveSettings):
    ack_wait_seconds: float = Field(default=30.0, ge=1, le=3600)
    event_concurrency: int = Field(default=4, ge=1, le=64)
    """Events applied at once per process; the read models come out the same in any order."""
    recovery_slo_minutes: int = Field(default=DEFAULT_RECOVERY_SLO_MINUTES, ge=1, le=MAX_RECOVERY_SLO_MINUTES)
    """``CAVRA_RECOVERY_SLO_MINUTES``: an open recovery older than this is breached on the dashboard."""
