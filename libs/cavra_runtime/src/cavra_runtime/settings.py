"""Settings base: every value comes from ``CAVRA_*`` environment variables, read once."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Self

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_NATS_URL = "nats://127.0.0.1:4222"
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5433/cavra"


class RuntimeSettings(BaseSettings):
    """Settings every service process needs; services subclass it with their own fields."""

    model_config = SettingsConfigDict(env_prefix="CAVRA_", frozen=True, extra="ignore")

    nats_url: str = DEFAULT_NATS_URL
    database_url: str = DEFAULT_DATABASE_URL
    home: Path = Path(".cavra")
    log_level: str = "info"
    instance_id: str = Field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    db_pool_max: int = Field(default=10, ge=1, le=200)
    outbox_degraded_after_seconds: float = Field(default=60.0, gt=0, le=86_400)
    """An unpublished outbox row older than this makes the service's health ``degraded``."""

    @classmethod
    def from_env(cls) -> Self:
        """Build the settings from the current environment (the only place that reads it)."""
        return cls()
