"""Acknowledgement settings, read once from the environment."""

from __future__ import annotations

from pydantic import Field

from cavra_acknowledgement.audit.settings import AuditSettings


class AcknowledgementSettings(AuditSettings):
    ack_wait_seconds: float = Field(default=30.0, ge=1, le=3600)
    plan_concurrency: int = Field(default=32, ge=1, le=256)
    """Plans stored at once (independent of each other)."""
    command_concurrency: int = Field(default=128, ge=1, le=512)
    """Acknowledgement commands applied at once; commands on the same route serialise on its row lock."""
    command_batch_size: int = Field(default=64, ge=1, le=1000)
    """Acknowledgement commands committed per transaction at most (group commit)."""
    command_batch_ms: float = Field(default=2.0, ge=0, le=1000)
    """How long the first command of a batch waits for others before the batch is applied."""
