"""Gateway settings, read once from the environment."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator

from cavra_contracts.actors import Role
from cavra_runtime import services as registry
from cavra_runtime.settings import RuntimeSettings

MIB = 1_048_576


class GatewaySettings(RuntimeSettings):
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    command_wait_seconds: float = Field(default=5.0, ge=0, le=60)
    query_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    delivery_wait_seconds: float = Field(default=8.0, ge=0, le=120)
    # The console's live feed (GET /console/events): JetStream events, pushed once reporting applied them.
    console_live_reporting_consumer: str = Field(default="reporting-events", min_length=1, max_length=200)
    """The reporting service's durable consumer; a change waits until its ack floor passes the event."""
    console_live_max_wait_seconds: float = Field(default=2.0, ge=0, le=30)
    """Longest a change waits for the reporting service before it is pushed anyway."""
    console_live_probe_seconds: float = Field(default=0.05, ge=0.01, le=5)
    """How often the reporting consumer's progress is asked while changes wait."""
    console_live_coalesce_seconds: float = Field(default=0.1, ge=0, le=5)
    """Changes of one topic within this window travel as one message."""
    console_live_max_ids: int = Field(default=200, ge=1, le=5000)
    """Most record_ids in one message; past it the message says resync (refresh the topic's sections)."""
    console_live_heartbeat_seconds: float = Field(default=15.0, gt=0, le=300)
    console_live_retry_ms: int = Field(default=3000, ge=100, le=600_000)
    """The reconnection delay the stream suggests to EventSource."""
    console_live_client_queue: int = Field(default=64, ge=16, le=10_000)
    """Messages waiting for one client; a client that falls further behind gets a resync instead."""
    console_live_max_clients: int = Field(default=200, ge=1, le=100_000)
    """Concurrent live streams per gateway; past it 503."""
    console_live_max_waiting: int = Field(default=100_000, ge=100, le=10_000_000)
    """Changes held while the reporting service catches up; past it the oldest are pushed at once."""
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

    # The Evidence Console (/console).
    console_session_hours: float = Field(default=12.0, gt=0, le=24 * 30)
    """CAVRA_CONSOLE_SESSION_HOURS: a console sign-in lasts this long (an OIDC one at most until its JWT
    expires)."""
    console_cookie_secure: bool | None = None
    """CAVRA_CONSOLE_COOKIE_SECURE: mark the session cookie Secure; unset: when the request is https."""
    console_demo: bool = False
    """CAVRA_CONSOLE_DEMO: the gateway serves a demo system filled with sample data (``cavra up --demo``
    sets it); every console page then carries a visible "sample data" banner. The data itself is real:
    it was recorded through the public API, the console never fabricates any."""

    bootstrap_admin_token: SecretStr | None = Field(default=None, min_length=16, max_length=512)
    """CAVRA_BOOTSTRAP_ADMIN_TOKEN: accepted as an admin API token (at least 16 characters)."""

    @field_validator("bootstrap_admin_token", "oidc_issuer", "oidc_audience", "oidc_jwks_file", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    # OIDC: all three of issuer, audience and JWKS file, or none (JWTs are then refused).
    oidc_issuer: str | None = Field(default=None, min_length=1, max_length=500)
    oidc_audience: str | None = Field(default=None, min_length=1, max_length=500)
    oidc_jwks_file: Path | None = None
    oidc_role_claim: str = Field(default="groups", min_length=1, max_length=100)
    oidc_role_map: dict[str, Role] = Field(default_factory=dict, max_length=1000)
    """CAVRA_OIDC_ROLE_MAP, JSON: claim value -> role, e.g. {"release-managers": "operator"}."""
    oidc_leeway_seconds: float = Field(default=30.0, ge=0, le=300)
    """Clock skew allowed on exp / nbf / iat."""

    @model_validator(mode="after")
    def _oidc_complete(self) -> GatewaySettings:
        given = [self.oidc_issuer, self.oidc_audience, self.oidc_jwks_file]
        if any(value is not None for value in given) and not all(value is not None for value in given):
            raise ValueError(
                "OIDC needs all of CAVRA_OIDC_ISSUER, CAVRA_OIDC_AUDIENCE and CAVRA_OIDC_JWKS_FILE"
            )
        return self

    @property
    def oidc_enabled(self) -> bool:
        return self.oidc_jwks_file is not None

    max_body_bytes: int = Field(default=MIB, ge=1024, le=8 * MIB)
    """Largest request body; past it 413. A command that still does not fit the NATS server's
    max_payload is refused with 413 as well (see messaging.send)."""
    max_json_depth: int = Field(default=32, ge=2, le=256)
    idempotency_settle_seconds: float = Field(default=300.0, ge=0, le=3600)
    """After a 202, how long the gateway keeps waiting for the outcome to store it for replays."""
    idempotency_max_settling: int = Field(default=1000, ge=0, le=100_000)
    idempotency_max_record_bytes: int = Field(default=512 * 1024, ge=4096, le=8 * MIB)
    idempotency_bucket_max_bytes: int = Field(default=1024 * MIB, ge=MIB)

    @property
    def idempotency_lease_seconds(self) -> float:
        """How long a request may run; an ``in_progress`` record older than this was abandoned."""
        return self.command_wait_seconds + self.delivery_wait_seconds + 3 * self.query_timeout_seconds + 10

    slack_signing_secret: SecretStr | None = Field(default=None, min_length=16, max_length=512)
    """CAVRA_SLACK_SIGNING_SECRET: verifies Slack interactive callbacks (the Ack button); unset or
    empty: the endpoint is off."""
    ack_link_secret: SecretStr | None = Field(default=None, min_length=16, max_length=512)
    """CAVRA_ACK_LINK_SECRET: verifies one-time ack links (the delivery service signs them with the
    same value); unset or empty: the endpoint is off."""

    @field_validator("slack_signing_secret", "ack_link_secret", mode="before")
    @classmethod
    def _empty_is_off(cls, value: object) -> object:
        # An empty secret would let anyone compute a valid signature: empty means "not configured".
        return None if value == "" else value
