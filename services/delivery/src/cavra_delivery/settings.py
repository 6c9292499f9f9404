"""Delivery settings, read once from the environment. Connector secrets stay in CAVRA_CONNECTOR_CONFIG."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator

from cavra_contracts.vocabulary import normalize_providers
from cavra_delivery.health.settings import HealthSettings


class DeliverySettings(HealthSettings):
    connector_config: str = ""
    delivery_retries: int = Field(default=2, ge=0, le=10)
    delivery_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    delivery_concurrency: int = Field(default=64, ge=1, le=1000)
    quarantine_after_failures: int = Field(default=5, ge=1, le=1000)
    quarantine_seconds: float = Field(default=300.0, ge=1)
    ack_wait_seconds: float = Field(default=30.0, ge=1, le=3600)
    """A running job renews it every fifth (in_progress): it bounds only how long a job whose replica
    died waits before another replica takes it."""
    outcome_batch_rows: int = Field(default=256, ge=1, le=10_000)
    """Route outcomes committed per transaction at most."""
    outcome_batch_ms: float = Field(default=5.0, ge=0, le=1000)
    """How long the first outcome of a batch waits for others before the batch is committed."""
    ack_link_secret: SecretStr | None = Field(default=None, min_length=16, max_length=512)
    """CAVRA_ACK_LINK_SECRET: signs one-time ack links (the gateway verifies them with the same secret)."""
    public_base_url: str = Field(default="", max_length=512)
    """CAVRA_PUBLIC_BASE_URL: the gateway's public URL that ack links point at."""
    ack_link_ttl_seconds: float = Field(default=86_400.0, ge=60, le=30 * 86_400)
    """How long an ack link stays valid."""

    recovery_escalation_providers: str = Field(default="", max_length=1024, pattern=r"^[A-Za-z0-9_,\s-]*$")
    """CAVRA_RECOVERY_ESCALATION_PROVIDERS: the operations channels recovery escalations go to (comma
    list). Empty: like an audit delivery's default (``all``), every routable channel, less the plan's
    failing connectors; a channel named here is used even when it is failing."""

    def recovery_escalation_channels(self) -> list[str]:
        """The policy's operations channels, normalised (empty: none named)."""
        return normalize_providers(p for p in self.recovery_escalation_providers.split(",") if p.strip())

    retry_approval_decide_hours: float = Field(default=24.0, gt=0, le=24 * 90)
    """CAVRA_RETRY_APPROVAL_DECIDE_HOURS: how long an approval request may be decided."""
    retry_approval_execute_hours: float = Field(default=1.0, gt=0, le=24 * 30)
    """CAVRA_RETRY_APPROVAL_EXECUTE_HOURS: how long an approval may be executed once approved."""
    retry_tick_seconds: float = Field(default=5.0, ge=0.01, le=3600)
    """How often the retry timer looks for due worker schedules and expired approvals."""
    retry_timer_batch: int = Field(default=20, ge=1, le=1000)
    retry_decision_retention_days: float = Field(default=30.0, ge=1, le=3650)
    """CAVRA_RETRY_DECISION_RETENTION_DAYS: a retry plan's decisions are deleted after this long (every
    worker run embeds a plan of every failed delivery); its counts and the execution records stay."""
    retry_execution_lost_minutes: float = Field(default=120.0, ge=1, le=7 * 24 * 60)
    """CAVRA_RETRY_EXECUTION_LOST_MINUTES: a retry execution still pending this long (its command was
    dead-lettered) is recorded ``skipped`` (``execution_lost``), so the attempt may be run again."""

    @field_validator("public_base_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        if not value:
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError("must be an http(s) URL without query or fragment")
        return value.rstrip("/")
