"""A loaded connector: its name, provider type, URL, credentials and options (no I/O here)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic import SecretStr

from cavra_delivery.connectors.redaction import target_host

ConnectorType = str
"""A provider type: a key of ``cavra_delivery.connectors.providers.PROVIDERS``."""


@dataclass(frozen=True, slots=True)
class ConnectorConfig:
    """One enabled, valid connector. ``url`` and ``secrets`` are ``SecretStr``; ``options`` are not secret."""

    name: str
    type: str
    """The provider type, a key of ``providers.PROVIDERS``."""
    url: SecretStr
    secrets: Mapping[str, SecretStr] = field(default_factory=dict)
    options: Mapping[str, str] = field(default_factory=dict)
    retries: int | None = None
    """This connector's retry budget; a request's own ``retries`` wins over it."""
    timeout_seconds: float | None = None
    """This connector's per-attempt timeout; a request's own ``timeout_seconds`` wins over it."""

    @property
    def host(self) -> str:
        """The target host (and explicit port): the only part of the URL evidence may hold."""
        return target_host(self.url.get_secret_value())

    def secret(self, key: str) -> str | None:
        """The plain value of one credential, or ``None`` when it is not configured."""
        value = self.secrets.get(key)
        return value.get_secret_value() if value is not None else None

    def __repr__(self) -> str:
        return (
            f"ConnectorConfig(name={self.name!r}, type={self.type!r}, host={self.host!r}, "
            f"secrets={sorted(self.secrets)!r}, options={dict(self.options)!r})"
        )

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class ConnectorSet:
    """The usable connectors by name, and one problem message per broken entry."""

    connectors: dict[str, ConnectorConfig] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)

    def names(self) -> list[str]:
        """Names of the usable connectors (never disabled, unknown or broken entries), sorted."""
        return sorted(self.connectors)

    def of_type(self, connector_type: str) -> list[ConnectorConfig]:
        """Usable connectors of one (normalised) type, sorted by name."""
        return [
            self.connectors[name] for name in self.names() if self.connectors[name].type == connector_type
        ]
