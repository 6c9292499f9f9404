"""Gateway settings, read once from the environment."""

from __future__ import annotations

from pydantic import Field

from cavra_runtime.settings import RuntimeSettings


class GatewaySettings(RuntimeSettings):
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    command_wait_seconds: float = Field(default=5.0, ge=0, le=60)
    query_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    delivery_wait_seconds: float = Field(default=8.0, ge=0, le=120)
    services: tuple[str, ...] = ("scheduler", "router", "delivery")
