"""The one list of CAVRA Drill Ops services: adding a service is adding one entry to ``SERVICES``.

Every reader derives from it, none keeps a list of its own:

* ``cavra up`` starts every entry as its own process (``python -m <package>``), ``CAVRA_<NAME>_REPLICAS``
  copies of each message-driven one;
* ``cavra migrate`` and the tests' template database apply ``owned_schemas()``;
* ``cavra service <name>`` accepts the entries' names;
* the gateway's ``/readyz`` asks every message-driven entry for its health (``GatewaySettings.services``);
* ``make lint`` type-checks ``python -m cavra_runtime.services --src-dirs``;
* the test harness runs any message-driven entry in-process (``running_service(name, ...)``);
* ``tests/unit/test_service_registry.py`` holds ``services/*/``, ``docker-compose.yml`` and every reader
  above to this list.

Why it lives here: the gateway and the test harness read it, so it cannot live in the CLI (the
application that imports every service). Nor in ``cavra_contracts``: that library describes messages
and depends on pydantic only, while which processes make up the system is plumbing, the runtime's
subject, and every reader already depends on ``cavra_runtime``. The module itself imports the standard
library only: a service package (which imports ``cavra_runtime``) is imported when one of its parts is
asked for, never when the list is read, so ``make lint`` and the gateway's settings read it cheaply.

Each entry is plain data. What a service knows about itself stays in its package, under the same names
in every ``__init__``: ``SERVICE`` (its name, the entry's name), ``MIGRATIONS`` (its SQL folder, or
``None`` for an HTTP app, which owns no tables) and ``Settings`` (its settings class); a message-driven
service also has ``<package>.bootstrap.bootstrap``, as the service layout prescribes.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cavra_runtime.settings import RuntimeSettings


@dataclass(frozen=True)
class Service:
    """One service of the system: a package that runs as its own OS process."""

    name: str
    """Its name everywhere: PostgreSQL schema, health subject, queue group, log file, compose service,
    ``cavra service <name>``, ``CAVRA_<NAME>_REPLICAS``."""

    package: str
    """The importable package, at ``services/<name>/src/<package>``; ``python -m <package>`` runs it."""

    http: bool = False
    """An HTTP app (the gateway) rather than a message-driven service: it binds the API port, so it runs
    once; it owns no tables, has no bootstrap and answers no health query (it asks the others)."""

    @property
    def replicas_variable(self) -> str | None:
        """``CAVRA_<NAME>_REPLICAS``, or ``None`` for an HTTP app (one port, one process)."""
        return None if self.http else f"CAVRA_{self.name.upper()}_REPLICAS"

    def replicas(self, environ: Mapping[str, str]) -> int:
        """How many processes of this service to run: the replicas variable, default 1, at least 1."""
        if self.replicas_variable is None:
            return 1
        raw = environ.get(self.replicas_variable, "1").strip() or "1"
        try:
            return max(1, int(raw))
        except ValueError:
            raise ValueError(f"{self.replicas_variable} must be a whole number, not {raw!r}") from None

    def module(self) -> ModuleType:
        """The service package, imported."""
        return importlib.import_module(self.package)

    def migrations(self) -> Path | None:
        """The package's ``MIGRATIONS`` folder; ``None`` when it owns no tables."""
        folder: Path | None = self.module().MIGRATIONS
        return folder

    def settings_class(self) -> type[RuntimeSettings]:
        """The package's ``Settings`` class."""
        settings: type[RuntimeSettings] = self.module().Settings
        return settings

    def bootstrap(self) -> Callable[..., Any]:
        """``<package>.bootstrap.bootstrap``: builds what the service runs from its dependencies."""
        if self.http:
            raise ValueError(f"{self.name} is an HTTP app: it has no bootstrap")
        bootstrap: Callable[..., Any] = importlib.import_module(f"{self.package}.bootstrap").bootstrap
        return bootstrap

    def src_dir(self) -> Path:
        """The ``src`` folder holding the package (found without importing it)."""
        spec = importlib.util.find_spec(self.package)
        if spec is None or spec.origin is None:
            raise LookupError(f"package {self.package!r} of service {self.name!r} is not installed")
        return Path(spec.origin).resolve().parents[1]


SERVICES: tuple[Service, ...] = (
    Service("scheduler", "cavra_scheduler"),
    Service("router", "cavra_router"),
    Service("delivery", "cavra_delivery"),
    Service("acknowledgement", "cavra_acknowledgement"),
    Service("gateway", "cavra_gateway", http=True),
)
"""Every service, in start order (the gateway last: it is ready once the others answer)."""


def names() -> tuple[str, ...]:
    """Every service's name, in start order."""
    return tuple(service.name for service in SERVICES)


def get(name: str) -> Service:
    """The service called ``name``; ``KeyError`` naming the known ones otherwise."""
    for service in SERVICES:
        if service.name == name:
            return service
    raise KeyError(f"unknown service {name!r}; known: {', '.join(names())}")


def message_services() -> tuple[Service, ...]:
    """The message-driven services: they own a schema, run replicas and answer the health query."""
    return tuple(service for service in SERVICES if not service.http)


def health_checked() -> tuple[str, ...]:
    """The names ``/readyz`` asks for their health: every message-driven service."""
    return tuple(service.name for service in message_services())


def owned_schemas() -> dict[str, Path]:
    """Schema name -> migrations folder, for every service that owns tables, in start order."""
    schemas: dict[str, Path] = {}
    for service in SERVICES:
        folder = service.migrations()
        if folder is not None:
            schemas[service.name] = folder
    return schemas


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m cavra_runtime.services [--src-dirs]``: print the list, or the ``src`` folders."""
    parser = argparse.ArgumentParser(
        prog="python -m cavra_runtime.services", description="The one list of CAVRA Drill Ops services."
    )
    parser.add_argument(
        "--src-dirs", action="store_true", help="print every service's src folder (for make lint)"
    )
    args = parser.parse_args(argv)
    if args.src_dirs:
        print(" ".join(os.path.relpath(service.src_dir()) for service in SERVICES))
        return
    for service in SERVICES:
        print(f"{service.name:<12} {service.package:<18} {service.replicas_variable or '(runs once: http)'}")


if __name__ == "__main__":
    main()
