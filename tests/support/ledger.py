"""A tiny service used to prove the bus, inbox and outbox guarantees with real servers."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import ClassVar

import asyncpg

from cavra_contracts.base import Contract
from cavra_contracts.envelope import Envelope, make_envelope
from cavra_contracts.subjects import COMMAND_STREAM, MessageSpec
from cavra_runtime.bus import ConsumerSpec
from cavra_runtime.dispatch import Handler, Message
from cavra_runtime.failures import PermanentError
from cavra_runtime.inbox import once
from cavra_runtime.outbox import enqueue

SCHEMA = "ledger"
MIGRATIONS = Path(__file__).parent / "ledger_migrations"
CONSUMER = "ledger-entries"


class AddEntryV1(Contract):
    MESSAGE: ClassVar[MessageSpec] = MessageSpec("cmd", SCHEMA, "add_entry", "test.ledger.add-entry.v1")

    value: int
    fail_times: int = 0
    permanent: bool = False
    bug: bool = False


class EntryAddedV1(Contract):
    MESSAGE: ClassVar[MessageSpec] = MessageSpec("evt", SCHEMA, "entry_added", "test.ledger.entry-added.v1")

    value: int


SPEC = ConsumerSpec(
    durable=CONSUMER,
    stream=COMMAND_STREAM,
    max_deliver=3,
    nak_delays=(0.05, 0.1),
    ack_wait_seconds=2.0,
)


class Ledger:
    """Handler with a record of how often it ran for each message."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.calls: Counter[str] = Counter()

    @property
    def handlers(self) -> dict[type[Contract], Handler]:
        return {AddEntryV1: self.handle}

    async def handle(self, message: Message[AddEntryV1]) -> None:
        command, envelope = message.contract, message.envelope
        self.calls[envelope.message_id] += 1
        if command.permanent:
            raise PermanentError("this entry can never be applied")
        if command.bug:
            raise OverflowError("date value out of range")
        async with once(self.pool, CONSUMER, envelope) as conn:
            if conn is None:
                return
            await conn.execute(
                "INSERT INTO entries (message_id, value) VALUES ($1, $2)", envelope.message_id, command.value
            )
            await enqueue(
                conn,
                make_envelope(
                    EntryAddedV1(value=command.value), producer=SCHEMA, causation_id=envelope.message_id
                ),
                schema=SCHEMA,
            )
            if self.calls[envelope.message_id] <= command.fail_times:
                raise ConnectionError("connection lost before commit")

    async def entries(self) -> dict[str, int]:
        async with self.pool.acquire() as conn:
            rows = await conn.fetch("SELECT message_id, value FROM entries")
        return {row["message_id"]: row["value"] for row in rows}


def command(value: int, **options: object) -> Envelope:
    return make_envelope(AddEntryV1(value=value, **options), producer="test")  # type: ignore[arg-type]
