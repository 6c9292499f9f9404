"""Settings of audit packages, read once from the environment with the service's own."""

from __future__ import annotations

from pydantic import Field, SecretStr

from cavra_runtime.settings import RuntimeSettings


class AuditSettings(RuntimeSettings):
    """The acknowledgement service's settings derive from these (``CAVRA_AUDIT_*``)."""

    audit_signing_key: SecretStr | None = None
    """Ed25519 private key (PKCS#8 PEM or base64 of 32 bytes); unset: a file under ``$CAVRA_HOME``."""
    audit_tick_seconds: float = Field(default=5.0, gt=0, le=3600)
    """How often the audit schedule timer looks for due schedules."""
    audit_batch: int = Field(default=10, ge=1, le=100)
    """Due schedules one timer transaction delivers."""
    audit_query_timeout_seconds: float = Field(default=3.0, gt=0, le=60)
    audit_ack_wait_seconds: float = Field(default=30.0, ge=1, le=3600)
