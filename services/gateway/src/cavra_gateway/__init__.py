"""Gateway: the public HTTP surface (``/runtime/go-pilot/...``) over the message bus.

It owns no tables and reads none: queries are NATS request/reply to the owning service,
mutations are commands on JetStream whose outcome event it waits for, a bounded time.
"""

from pathlib import Path

from cavra_gateway.settings import GatewaySettings as Settings

SERVICE = "gateway"
MIGRATIONS: Path | None = None

__all__ = ["MIGRATIONS", "SERVICE", "Settings"]
