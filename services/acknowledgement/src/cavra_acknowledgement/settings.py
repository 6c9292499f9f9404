"""Acknowledgement settings, read once from the environment."""

from __future__ import annotations

from pydantic import Field

from cavra_acknowledgement.audit.settings import AuditSettings


class AcknowledgementSettings(AuditSettings):
    ack_wait_seconds: float = Field(default=30.0, ge=1, le=3600)
    plan_concurrency: int = Field(default=32, ge=1, le=256)
    """Plans stored at once (independent of each other)."""
    command_concurrency: int = Field(default=32, ge=1, le=256)
    """Acknowledgement commands applied at once; commands on the same route serialise on its row lock."""
