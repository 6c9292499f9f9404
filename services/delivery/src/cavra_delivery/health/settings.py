"""Settings of worker health checks, read once from the environment with the delivery service's own."""

from __future__ import annotations

from pydantic import Field

from cavra_contracts.health import MAX_HEALTH_MINUTES
from cavra_contracts.limits import MAX_PROVIDER_SELECTION_LENGTH
from cavra_runtime.settings import RuntimeSettings


class HealthSettings(RuntimeSettings):
    """The delivery service's settings derive from these (``CAVRA_WORKER_HEALTH_*``, ``CAVRA_HEALTH_*``)."""

    worker_health_check_minutes: int = Field(default=15, ge=1, le=MAX_HEALTH_MINUTES)
    """How often the timer evaluates each monitored family's worker health."""
    health_alert_providers: str = Field(
        default="",
        max_length=MAX_PROVIDER_SELECTION_LENGTH,
        pattern=r"^$|^(all|[A-Za-z0-9_-]+(\s*,\s*[A-Za-z0-9_-]+)*)$",
    )
    """Where the timer sends alerts about an unhealthy worker (``all`` or a comma list); empty: it
    only evaluates and sends nothing."""
    health_alert_suppression_minutes: int = Field(default=60, ge=1, le=MAX_HEALTH_MINUTES)
    """The timer's duplicate suppression window: a lasting problem is alerted once per window."""
    health_tick_seconds: float = Field(default=5.0, gt=0, le=3600)
    """How often the timer looks for due checks."""
