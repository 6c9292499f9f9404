"""Router settings, read once from the environment."""

from __future__ import annotations

from pydantic import Field

from cavra_runtime.settings import RuntimeSettings


class RouterSettings(RuntimeSettings):
    query_timeout_seconds: float = Field(default=3.0, gt=0, le=60)
    ack_wait_seconds: float = Field(default=30.0, ge=1, le=3600)
    auto_plan_generated_by: str = "cavra-router"
    connectors_cache_seconds: float = Field(default=5.0, ge=0, le=3600)
