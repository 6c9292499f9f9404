"""One-shot preparation shared by ``cavra up`` and ``cavra migrate``: database, schemas, streams and
the gateway's buckets (Idempotency-Key records, API tokens)."""

from __future__ import annotations

import asyncpg

from cavra_gateway.auth.tokens import SPEC as TOKENS_SPEC
from cavra_gateway.idempotency import bucket_spec
from cavra_gateway.settings import GatewaySettings
from cavra_runtime import services
from cavra_runtime.bus import Bus, ensure_bucket
from cavra_runtime.db import ensure_database
from cavra_runtime.migrate import migrate


async def prepare(database_url: str, nats_url: str) -> dict[str, list[str]]:
    """Create the database, migrate every service schema, provision the streams and the buckets."""
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
        await ensure_bucket(bus, bucket_spec(GatewaySettings.from_env()))
        await ensure_bucket(bus, TOKENS_SPEC)
    finally:
        await bus.close()
    return applied
