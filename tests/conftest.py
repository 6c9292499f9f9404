"""Session servers and per-test isolation shared by every test."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.support.isolation import clone_database, create_template, drop_database, reset_streams
from tests.support.servers import Servers, session_servers


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    # Not under pytest's basetemp: pytest keeps that private (0700), and the embedded PostgreSQL
    # runs as an unprivileged user when the tests run as root.
    root = Path(tempfile.mkdtemp(prefix="cavra-test-servers-"))
    try:
        with session_servers(root) as found:
            yield found
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
async def database_template(servers: Servers) -> str:
    await create_template(servers.database_url)
    return servers.database_url


@pytest.fixture
async def database_url(servers: Servers, database_template: str) -> AsyncIterator[str]:
    dsn = await clone_database(servers.database_url)
    yield dsn
    await drop_database(servers.database_url, dsn)


@pytest.fixture
async def nats_url(servers: Servers) -> str:
    await reset_streams(servers.nats_url)
    return servers.nats_url
