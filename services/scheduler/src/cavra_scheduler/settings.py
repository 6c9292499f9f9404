"""Scheduler settings, read once from the environment."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from cavra_contracts.limits import MAX_AGE_DAYS, MAX_DUE_SOON_DAYS
from cavra_runtime.settings import RuntimeSettings

MODES = ("disabled", "shadow", "enforce", "promoted")


def _float_or_default(value: Any, default: float) -> Any:
    if value in (None, ""):
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


class SchedulerSettings(RuntimeSettings):
    """``CAVRA_GO_*`` names are the original CAVRA variables; the rest are ours."""

    go_backend_mode: str = "disabled"
    go_rollback_drill_schedule: str = ""
    go_rollback_drill_history: str = ""
    # Zero or below is allowed (the original then never reports due soon / fresh); past the
    # limit, or not finite, the process refuses to start rather than compute with it.
    go_rollback_drill_due_soon_days: float = Field(default=14.0, le=MAX_DUE_SOON_DAYS, allow_inf_nan=False)
    go_rollback_drill_max_age_days: float = Field(default=90.0, le=MAX_AGE_DAYS, allow_inf_nan=False)
    scheduler_tick_seconds: float = Field(default=1.0, gt=0, le=3600)
    scheduler_batch: int = Field(default=200, ge=1, le=10_000)
    ack_wait_seconds: float = Field(default=30.0, ge=1, le=3600)

    @field_validator("go_backend_mode", mode="before")
    @classmethod
    def _known_mode(cls, value: Any) -> str:
        text = str(value or "").strip().lower()
        return text if text in MODES else "disabled"

    @field_validator("go_rollback_drill_due_soon_days", mode="before")
    @classmethod
    def _due_soon(cls, value: Any) -> Any:
        return _float_or_default(value, 14.0)

    @field_validator("go_rollback_drill_max_age_days", mode="before")
    @classmethod
    def _max_age(cls, value: Any) -> Any:
        return _float_or_default(value, 90.0)
