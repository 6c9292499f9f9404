"""Real NATS and PostgreSQL for the test session.

Order of preference: ``CAVRA_NATS_URL`` / ``CAVRA_DATABASE_URL`` when set; testcontainers when
a Docker engine answers; otherwise the embedded servers the project installs (the usual case
on machines without Docker). The embedded PostgreSQL runs with fsync off: tests prove logic,
not disk durability.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from cavra_runtime.embedded import EmbeddedNats, EmbeddedPostgres, free_port


@dataclass(frozen=True)
class Servers:
    nats_url: str
    database_url: str
    origin: str


def _docker_available() -> bool:
    if not (os.environ.get("DOCKER_HOST") or Path("/var/run/docker.sock").exists()):
        return False
    try:
        import docker

        docker.from_env().ping()
    except Exception:
        return False
    return True


@contextmanager
def _containers() -> Iterator[Servers]:
    from testcontainers.core.container import DockerContainer
    from testcontainers.postgres import PostgresContainer

    with (
        PostgresContainer("postgres:16", driver=None) as pg,
        DockerContainer("nats:2.10").with_command("-js").with_exposed_ports(4222) as nats,
    ):
        nats_url = f"nats://{nats.get_container_host_ip()}:{nats.get_exposed_port(4222)}"
        yield Servers(nats_url, pg.get_connection_url(), "testcontainers")


@contextmanager
def _embedded(root: Path) -> Iterator[Servers]:
    with ExitStack() as stack:
        nats = EmbeddedNats(
            root / "nats" / "jetstream", port=free_port(), monitor_port=free_port(), sync_always=False
        )
        nats.start(log_file=root / "nats.log")
        stack.callback(nats.stop)
        postgres = EmbeddedPostgres(root / "postgres", port=free_port(), database="postgres", fsync=False)
        postgres.start()
        stack.callback(postgres.stop)
        yield Servers(nats.url, postgres.url, "embedded")


@contextmanager
def session_servers(root: Path) -> Iterator[Servers]:
    nats_url = os.environ.get("CAVRA_NATS_URL")
    database_url = os.environ.get("CAVRA_DATABASE_URL")
    if nats_url and database_url:
        yield Servers(nats_url, database_url, "environment")
    elif _docker_available():
        with _containers() as servers:
            yield servers
    else:
        with _embedded(root) as servers:
            yield servers
