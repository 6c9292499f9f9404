"""One-shot preparation shared by ``cavra up`` and ``cavra migrate``: database, schemas, streams."""

from __future__ import annotations

import asyncpg

from cavra_runtime import services
from cavra_runtime.bus import Bus
from cavra_runtime.db import ensure_database
from cavra_runtime.migrate import migrate


async def prepare(database_url: str, nats_url: str) -> dict[str, list[str]]:
    """Create the database, migrate every service schema, provision the streams."""
    await ensure_database(database_url)
    applied: dict[str, list[str]] = {}
    conn = await asyncpg.connect(database_url)
    try:
        for schema, folder in services.owned_schemas().items():
            applied[schema] = await migrate(conn, schema, folder)
    finally:
        await conn.close()
    bus = await Bus.connect(nats_url, name="cavra-prepare")
    try:
        await bus.ensure_streams()
    finally:
        await bus.close()
    return applied
