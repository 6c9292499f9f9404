"""Idempotent consumers: an inbox row per (consumer, message_id), written in the handler's transaction.

A claim is kept for as long as any stream keeps messages (``RETENTION``): consumers start from
the first stored message, so a consumer that is recreated re-reads everything still stored and
must still recognise what it already applied.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import asyncpg

from cavra_contracts.envelope import Envelope
from cavra_contracts.subjects import STREAMS

RETENTION = timedelta(days=max(spec.max_age_days for spec in STREAMS) + 1)
"""How long an inbox claim is kept: the longest stream ``max_age`` (400 days) and a day."""

CLAIM_SQL = """
INSERT INTO inbox (consumer, message_id, subject)
VALUES ($1, $2, $3)
ON CONFLICT (consumer, message_id) DO NOTHING
RETURNING 1
"""


async def claim(conn: asyncpg.Connection, consumer: str, envelope: Envelope) -> bool:
    """Record that ``consumer`` handles ``envelope``; False when it already did."""
    return await conn.fetchval(CLAIM_SQL, consumer, envelope.message_id, envelope.type) is not None


@asynccontextmanager
async def once(
    pool: asyncpg.Pool, consumer: str, envelope: Envelope
) -> AsyncIterator[asyncpg.Connection | None]:
    """Open a transaction and claim the message; yields None for a duplicate (nothing to do).

    The claim commits together with whatever the handler writes, so a crash before the
    commit leaves no trace and the redelivered message is applied exactly once.
    """
    async with pool.acquire() as conn, conn.transaction():
        yield conn if await claim(conn, consumer, envelope) else None
