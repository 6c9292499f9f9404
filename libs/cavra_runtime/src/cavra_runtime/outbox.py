"""Transactional outbox: events are written with the state they describe and relayed to JetStream.

``enqueue`` runs inside the caller's transaction. ``OutboxRelay`` locks a batch of
unpublished rows with ``FOR UPDATE SKIP LOCKED`` (so any number of replicas cooperate),
publishes them, waits for every PubAck and only then marks them published. A crash between
publish and mark republishes the same ``Nats-Msg-Id``, which JetStream drops as a duplicate
inside the stream's duplicate window.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

import asyncpg
import structlog

from cavra_contracts.envelope import Envelope
from cavra_runtime import inbox
from cavra_runtime.bus import Bus

log = structlog.get_logger()

INSERT_SQL = """
INSERT INTO outbox (message_id, subject, headers, body)
VALUES ($1, $2, $3, $4)
ON CONFLICT (message_id) DO NOTHING
"""
CLAIM_BATCH_SQL = """
SELECT id, subject, headers, body FROM outbox
WHERE published_at IS NULL
ORDER BY id
LIMIT $1
FOR UPDATE SKIP LOCKED
"""
MARK_SQL = "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])"
PRUNE_SQL = "DELETE FROM outbox WHERE published_at < now() - $1::interval"
PRUNE_INBOX_SQL = "DELETE FROM inbox WHERE processed_at < now() - $1::interval"
PENDING_SQL = "SELECT count(*) FROM outbox WHERE published_at IS NULL"


def channel_for(schema: str) -> str:
    """LISTEN/NOTIFY channel that wakes the relay of ``schema``."""
    return f"cavra_outbox_{schema}"


async def enqueue(conn: asyncpg.Connection, envelope: Envelope, *, schema: str) -> None:
    """Add ``envelope`` to the outbox inside the caller's transaction."""
    await conn.execute(
        INSERT_SQL, envelope.message_id, envelope.type, envelope.nats_headers(), envelope.to_json()
    )
    await conn.execute("SELECT pg_notify($1, '')", channel_for(schema))


async def pending_count(conn: asyncpg.Connection) -> int:
    """Number of events written but not yet stored in JetStream."""
    return int(await conn.fetchval(PENDING_SQL))


class OutboxRelay:
    """Moves committed outbox rows to JetStream."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        bus: Bus,
        *,
        schema: str,
        batch: int = 500,
        poll_seconds: float = 1.0,
        keep_published: timedelta = timedelta(days=7),
    ) -> None:
        self._pool = pool
        self._bus = bus
        self._schema = schema
        self._batch = batch
        self._poll = poll_seconds
        self._keep = keep_published
        self._wake = asyncio.Event()

    async def relay_once(self) -> int:
        """Publish one batch; returns how many rows it published."""
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(CLAIM_BATCH_SQL, self._batch)
            if not rows:
                return 0
            await self._bus.publish_stored(
                [(row["subject"], bytes(row["body"]), dict(row["headers"])) for row in rows]
            )
            await conn.execute(MARK_SQL, [row["id"] for row in rows])
        return len(rows)

    async def prune(self) -> None:
        """Forget published rows older than the retention (JetStream keeps the log), and inbox
        claims once no stream can hold their message any more (``inbox.RETENTION``)."""
        async with self._pool.acquire() as conn:
            await conn.execute(PRUNE_SQL, self._keep)
            await conn.execute(PRUNE_INBOX_SQL, inbox.RETENTION)

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until ``stop`` is set; woken by NOTIFY, polling as a fallback."""
        listener = await self._pool.acquire()

        def on_notify(*_: object) -> None:
            self._wake.set()

        await listener.add_listener(channel_for(self._schema), on_notify)
        passes = 0
        try:
            while not stop.is_set():
                self._wake.clear()
                try:
                    published = await self.relay_once()
                except Exception as exc:  # NATS or PostgreSQL away: rows stay unpublished, retry soon
                    log.warning("outbox.relay_failed", error_class=type(exc).__name__)
                    published = 0
                    await asyncio.sleep(self._poll)
                if published >= self._batch:
                    continue
                passes += 1
                if passes % 3600 == 0:
                    with contextlib.suppress(Exception):
                        await self.prune()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self._poll)
        finally:
            with contextlib.suppress(Exception):
                await listener.remove_listener(channel_for(self._schema), on_notify)
            await self._pool.release(listener)
