"""Gateway settings, read once from the environment."""

from __future__ import annotations

from pydantic import Field, field_validator

from cavra_runtime import services as registry
from cavra_runtime.settings import RuntimeSettings


class GatewaySettings(RuntimeSettings):
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    command_wait_seconds: float = Field(default=5.0, ge=0, le=60)
    query_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    delivery_wait_seconds: float = Field(default=8.0, ge=0, le=120)
    # Who /readyz asks for its health: every message-driven service of the registry, unless
    # CAVRA_SERVICES names a subset (a partial deployment, a test running fewer services).
    services: tuple[str, ...] = Field(default_factory=registry.health_checked)

    @field_validator("services")
    @classmethod
    def _known_services(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        known = registry.health_checked()
        unknown = [name for name in value if name not in known]
        if unknown:
            raise ValueError(f"not a message-driven service: {', '.join(unknown)}; known: {', '.join(known)}")
        return value
