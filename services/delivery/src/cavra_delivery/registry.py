"""The connector config, loaded from CAVRA_CONNECTOR_CONFIG, re-read when the file changes; the last
good read stays in use while a later one fails."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path

import structlog

from cavra_contracts.envelope import utc_now
from cavra_delivery.connectors.config import (
    ConnectorConfig,
    ConnectorConfigError,
    ConnectorSet,
    load_connector_config,
    normalise_type,
)

log = structlog.get_logger()


class ConnectorRegistry:
    """Holds the connectors of the last good read of the config file.

    The file is read again when its modification time or size changes. A read that fails (a file
    caught mid-save, a syntax error, an unreadable path) keeps the last good connectors and
    records the error and since when, as Alertmanager does on a failed reload; a route is
    recorded ``unconfigured`` only when the last good config has no connector for it. While a
    read keeps failing it is retried at most once per ``retry_seconds``.
    """

    def __init__(
        self,
        path: str,
        environ: Mapping[str, str] | None = None,
        *,
        clock: Callable[[], datetime] = utc_now,
        retry_seconds: float = 1.0,
    ) -> None:
        self.path = path
        self._environ = environ if environ is not None else os.environ
        self._clock = clock
        self._retry_seconds = retry_seconds
        self._stamp: tuple[int, int] | None = None
        self._failed_at: float | None = None
        self._set = ConnectorSet()
        self.loaded_at: datetime | None = None
        self.error: str | None = None if path else "connector config is not configured"
        self.error_since: datetime | None = None

    @property
    def configured(self) -> bool:
        """True once a good config was loaded (it stays in use while a later read fails)."""
        return bool(self.path) and self.loaded_at is not None

    def current(self) -> ConnectorSet:
        """The connectors of the last good read (re-read only when the file changed)."""
        if not self.path:
            return self._set
        try:
            stat = Path(self.path).stat()
            stamp: tuple[int, int] | None = (stat.st_mtime_ns, stat.st_size)
        except OSError:
            stamp = None
        if stamp == self._stamp and self._failed_at is None:
            return self._set
        if self._failed_at is not None and time.monotonic() - self._failed_at < self._retry_seconds:
            if stamp == self._stamp:
                return self._set
        self._stamp = stamp
        try:
            loaded = load_connector_config(self.path, self._environ)
        except ConnectorConfigError as exc:
            self._failed(str(exc))
        else:
            self._set, self.loaded_at = loaded, self._clock()
            self.error, self.error_since, self._failed_at = None, None, None
            log.info("connectors.loaded", connectors=loaded.names(), broken=sorted(loaded.problems))
        return self._set

    def _failed(self, error: str) -> None:
        self._failed_at = time.monotonic()
        if self.error != error or self.error_since is None:
            self.error_since = self.error_since or self._clock()
            self.error = error
            log.error(
                "connectors.reload_failed",
                error=error,
                since=self.error_since.isoformat(),
                keeping=self._set.names() if self.loaded_at else [],
                last_good_at=self.loaded_at.isoformat() if self.loaded_at else None,
            )


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
