"""Transactional outbox: events are written with the state they describe and relayed to JetStream.

``enqueue`` runs inside the caller's transaction. ``OutboxRelay`` locks a batch of
unpublished rows with ``FOR UPDATE SKIP LOCKED`` (so any number of replicas cooperate),
publishes them, waits (bounded) for every PubAck and only then marks them published. A crash
between publish and mark republishes the same ``Nats-Msg-Id``, which JetStream drops as a
duplicate inside the stream's duplicate window.

The relay never stalls on one row: a row the server refuses outright (larger than its
``max_payload``) or keeps refusing (``MAX_ATTEMPTS`` times) is set aside with its error, announced
with ``OutboxMessageSetAsideV1`` and logged as ``outbox.set_aside`` (an alarm), and the relay moves
on; a row whose PubAck did not come in time stays pending and is tried again.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import timedelta

import asyncpg
import structlog

from cavra_contracts.envelope import Envelope, make_envelope
from cavra_contracts.failures import OutboxMessageSetAsideV1
from cavra_runtime import inbox
from cavra_runtime.ports import MessageBus

log = structlog.get_logger()

ENQUEUE_SQL = """
INSERT INTO outbox (message_id, subject, headers, body)
SELECT $1::text, $2::text, $3::jsonb, $4::bytea FROM pg_notify($5, '')
ON CONFLICT (message_id) DO NOTHING
"""
"""The row and the relay's wake-up in one round trip (pg_notify runs once, as the row source;
PostgreSQL delivers the notification at commit, once per channel and transaction)."""
CLAIM_BATCH_SQL = """
SELECT id, message_id, subject, headers, body, attempts FROM outbox
WHERE published_at IS NULL AND set_aside_at IS NULL
ORDER BY id
LIMIT $1
FOR UPDATE SKIP LOCKED
"""
MARK_SQL = "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])"
PRUNE_SQL = "DELETE FROM outbox WHERE published_at < now() - $1::interval"
PRUNE_INBOX_SQL = "DELETE FROM inbox WHERE processed_at < now() - $1::interval"
FAILED_SQL = "UPDATE outbox SET attempts = attempts + 1, error = $2 WHERE id = $1"
SET_ASIDE_SQL = "UPDATE outbox SET attempts = attempts + 1, error = $2, set_aside_at = now() WHERE id = $1"
BACKLOG_SQL = """
SELECT
    (SELECT count(*) FROM outbox WHERE published_at IS NULL AND set_aside_at IS NULL) AS pending,
    (SELECT extract(epoch FROM now() - min(created_at)) FROM outbox
      WHERE published_at IS NULL AND set_aside_at IS NULL) AS oldest_seconds,
    (SELECT count(*) FROM outbox WHERE set_aside_at > now() - interval '1 day') AS set_aside
"""
MAX_ATTEMPTS = 10
"""Failed publishes (other than a missing PubAck) after which a row is set aside."""


def channel_for(schema: str) -> str:
    """LISTEN/NOTIFY channel that wakes the relay of ``schema``."""
    return f"cavra_outbox_{schema}"


async def enqueue(
    conn: asyncpg.Connection, envelope: Envelope, *, schema: str, body: bytes | None = None
) -> None:
    """Add ``envelope`` to the outbox inside the caller's transaction; ``body`` is its ``to_json()``
    when the caller serialised it already (e.g. to check its size)."""
    await conn.execute(
        ENQUEUE_SQL,
        envelope.message_id,
        envelope.type,
        envelope.nats_headers(),
        envelope.to_json() if body is None else body,
        channel_for(schema),
    )


@dataclass(frozen=True)
class Backlog:
    """How far the relay is behind: pending rows, the oldest one's age, rows set aside today."""

    pending: int
    oldest_seconds: float
    set_aside: int


async def backlog(conn: asyncpg.Connection) -> Backlog:
    """The outbox's backlog, for health reports."""
    row = await conn.fetchrow(BACKLOG_SQL)
    return Backlog(int(row["pending"]), float(row["oldest_seconds"] or 0.0), int(row["set_aside"]))


def _refused_for_good(error: BaseException) -> bool:
    """Errors no retry fixes: the server said the message is too large."""
    return "MaxPayload" in type(error).__name__ or "maximum payload" in str(error).lower()


class OutboxRelay:
    """Moves committed outbox rows to JetStream."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        bus: MessageBus,
        *,
        schema: str,
        batch: int = 500,
        poll_seconds: float = 1.0,
        keep_published: timedelta = timedelta(days=7),
        puback_timeout: float = 10.0,
    ) -> None:
        self._pool = pool
        self._bus = bus
        self._schema = schema
        self._batch = batch
        self._poll = poll_seconds
        self._keep = keep_published
        self._puback_timeout = puback_timeout
        self._wake = asyncio.Event()

    async def relay_once(self) -> int:
        """Publish one batch; returns how many rows it handled (published or set aside)."""
        set_aside: list[tuple[asyncpg.Record, BaseException]] = []
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(CLAIM_BATCH_SQL, self._batch)
            if not rows:
                return 0
            errors = await self._bus.publish_stored(
                [(row["subject"], bytes(row["body"]), dict(row["headers"])) for row in rows],
                timeout=self._puback_timeout,
            )
            published = [row["id"] for row, error in zip(rows, errors, strict=True) if error is None]
            await conn.execute(MARK_SQL, published)
            for row, error in zip(rows, errors, strict=True):
                if error is None or isinstance(error, TimeoutError):
                    continue  # no PubAck in time: stays pending, tried again next pass
                text = f"{type(error).__name__}: {error}"[:500]
                if _refused_for_good(error) or row["attempts"] + 1 >= MAX_ATTEMPTS:
                    await conn.execute(SET_ASIDE_SQL, row["id"], text)
                    set_aside.append((row, error))
                else:
                    await conn.execute(FAILED_SQL, row["id"], text)
        for row, error in set_aside:
            await self._announce_set_aside(row, error)
        handled = len(published) + len(set_aside)
        if handled < len(rows):
            await asyncio.sleep(self._poll)  # the server is struggling: do not spin on the same rows
        return handled

    async def _announce_set_aside(self, row: asyncpg.Record, error: BaseException) -> None:
        log.error(
            "outbox.set_aside",
            schema=self._schema,
            message_id=row["message_id"],
            subject=row["subject"],
            size=len(row["body"]),
            error_class=type(error).__name__,
        )
        event = OutboxMessageSetAsideV1(
            schema_name=self._schema,
            message_id=row["message_id"],
            message_type=row["subject"],
            size_bytes=len(row["body"]),
            error_class=type(error).__name__,
            error=str(error)[:500],
        )
        envelope = make_envelope(
            event, producer=self._schema, message_id=f"set-aside:{self._schema}:{row['id']}"
        )
        try:
            await self._bus.publish(envelope)
        except Exception as exc:  # the row and the log line stay: the alarm is not lost
            log.warning("outbox.set_aside_event_failed", error_class=type(exc).__name__)

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
