"""Which processes make up the system, and how each one is started."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cavra_delivery
import cavra_router
import cavra_scheduler


@dataclass(frozen=True)
class ServiceProcess:
    """One service: its name (= its PostgreSQL schema), module and migrations folder."""

    name: str
    module: str
    migrations: Path | None


SERVICES: tuple[ServiceProcess, ...] = (
    ServiceProcess("scheduler", "cavra_scheduler", cavra_scheduler.MIGRATIONS),
    ServiceProcess("router", "cavra_router", cavra_router.MIGRATIONS),
    ServiceProcess("delivery", "cavra_delivery", cavra_delivery.MIGRATIONS),
)
"""Message-driven services, each its own OS process (replicas share durable consumers)."""

GATEWAY = ServiceProcess("gateway", "cavra_gateway", None)
"""The HTTP gateway; it owns no tables."""


def by_name(name: str) -> ServiceProcess:
    for process in (*SERVICES, GATEWAY):
        if process.name == name:
            return process
    known = ", ".join(p.name for p in (*SERVICES, GATEWAY))
    raise KeyError(f"unknown service {name!r}; known: {known}")
