"""Delivery settings, read once from the environment. Connector secrets stay in CAVRA_CONNECTOR_CONFIG."""

from __future__ import annotations

from pydantic import Field

from cavra_runtime.settings import RuntimeSettings


class DeliverySettings(RuntimeSettings):
    connector_config: str = ""
    delivery_retries: int = Field(default=2, ge=0, le=10)
    delivery_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    delivery_concurrency: int = Field(default=64, ge=1, le=1000)
    quarantine_after_failures: int = Field(default=5, ge=1, le=1000)
    quarantine_seconds: float = Field(default=300.0, ge=1)
    ack_wait_seconds: float = Field(default=30.0, ge=1, le=3600)
    """A running plan renews it every fifth (in_progress): it bounds only how long a plan whose replica
    died waits before another replica takes it."""
    """A plan renews its ack wait (``in_progress``) every fifth of it while it runs."""
    outcome_batch_rows: int = Field(default=256, ge=1, le=10_000)
    """Route outcomes committed per transaction at most."""
    outcome_batch_ms: float = Field(default=5.0, ge=0, le=1000)
    """How long the first outcome of a batch waits for others before the batch is committed."""
