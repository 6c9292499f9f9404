"""Per-test isolation: a database cloned from a migrated template, and empty streams."""

from __future__ import annotations

import itertools
import os

import asyncpg
import nats
from nats.js.errors import NotFoundError

from cavra_contracts.subjects import STREAMS
from cavra_runtime import services
from cavra_runtime.db import with_database
from cavra_runtime.migrate import migrate

TEMPLATE = f"cavra_test_template_{os.getpid()}"
_counter = itertools.count(1)


async def create_template(server_url: str) -> None:
    """A database with every service's migrations applied, to be cloned per test."""
    admin = await asyncpg.connect(with_database(server_url, "postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}"')
        await admin.execute(f'CREATE DATABASE "{TEMPLATE}"')
    finally:
        await admin.close()
    conn = await asyncpg.connect(with_database(server_url, TEMPLATE))
    try:
        for schema, folder in services.owned_schemas().items():
            await migrate(conn, schema, folder)
    finally:
        await conn.close()


async def clone_database(server_url: str) -> str:
    """A fresh database for one test; returns its DSN."""
    name = f"cavra_test_{os.getpid()}_{next(_counter)}"
    admin = await asyncpg.connect(with_database(server_url, "postgres"))
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
    finally:
        await admin.close()
    return with_database(server_url, name)


async def drop_database(server_url: str, dsn: str) -> None:
    name = dsn.rsplit("/", 1)[-1]
    admin = await asyncpg.connect(with_database(server_url, "postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def reset_streams(nats_url: str) -> None:
    """Delete the system's streams (and their consumers) and key/value buckets so each test starts empty."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        buckets = [
            info.config.name for info in await js.streams_info() if info.config.name.startswith("KV_CAVRA_")
        ]
        for name in [spec.name for spec in STREAMS] + buckets:
            try:
                await js.delete_stream(name)
            except NotFoundError:
                pass
    finally:
        await nc.close()
