"""The connector config, loaded from CAVRA_CONNECTOR_CONFIG and re-read when the file changes."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import structlog

from cavra_delivery.connectors.config import (
    ConnectorConfig,
    ConnectorConfigError,
    ConnectorSet,
    load_connector_config,
    normalise_type,
)

log = structlog.get_logger()


class ConnectorRegistry:
    """Holds the current ConnectorSet; a broken file keeps the error, never a half-read config."""

    def __init__(self, path: str, environ: Mapping[str, str] | None = None) -> None:
        self.path = path
        self._environ = environ if environ is not None else os.environ
        self._stamp: tuple[float, int] | None = None
        self._loaded = False
        self._set = ConnectorSet()
        self.error: str | None = None if path else "connector config is not configured"

    @property
    def configured(self) -> bool:
        return bool(self.path) and self.error is None

    def current(self) -> ConnectorSet:
        """The connectors as the file says now (re-read only when its mtime or size changed)."""
        if not self.path:
            return self._set
        try:
            stat = Path(self.path).stat()
            stamp = (stat.st_mtime, stat.st_size)
        except OSError:
            stamp = None
        if stamp != self._stamp or not self._loaded:
            self._stamp = stamp
            self._loaded = True
            try:
                self._set = load_connector_config(self.path, self._environ)
                self.error = None
            except ConnectorConfigError as exc:
                self._set = ConnectorSet()
                self.error = str(exc)
                log.error("connectors.config_unusable", error=self.error)
            else:
                log.info("connectors.loaded", connectors=self._set.names(), broken=sorted(self._set.problems))
        return self._set


def connectors_for(connectors: ConnectorSet, provider: str) -> list[ConnectorConfig]:
    """The connector named like the provider (names compared as the router normalises providers:
    lower-case, ``-`` -> ``_``), else every connector of that type."""
    wanted = normalise_type(provider)
    named = [c for name, c in sorted(connectors.connectors.items()) if normalise_type(name) == wanted]
    return named or connectors.of_type(wanted)


def routable_providers(connectors: ConnectorSet) -> list[str]:
    """Every provider value a route may name and be delivered: connector names and types."""
    names = {normalise_type(name) for name in connectors.names()}
    return sorted(names | {c.type for c in connectors.connectors.values()})
