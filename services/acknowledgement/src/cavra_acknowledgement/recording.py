"""Applying acknowledgement commands: all or nothing per command, many commands per transaction.

Concurrent commands are group-committed (``cavra_runtime.batching.Batcher``): one transaction applies a
batch in arrival order, each command with its inbox claim, its route locks, its records and its outcome
event in the outbox, so the commit (one fsync) is shared. A command only writes once everything it
names is resolved, so a refused command leaves nothing but its rejection. When a batch fails (a
deadlock with another replica, a command the database refuses), each of its commands is applied again
in a transaction of its own, so one bad command never holds back the others.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from cavra_acknowledgement import SERVICE, domain, resolution
from cavra_acknowledgement import repository as repo
from cavra_contracts.acknowledgements import (
    AcknowledgementRejectedV1,
    AcknowledgementsRecordedV1,
    RecordAcknowledgementsV1,
    bulk_id,
)
from cavra_contracts.envelope import Envelope, make_envelope
from cavra_contracts.limits import MAX_EVENT_BYTES
from cavra_runtime import inbox
from cavra_runtime.dispatch import Message
from cavra_runtime.outbox import enqueue

COMMANDS_CONSUMER = "acknowledgement-commands"

Commands = Sequence[Message[RecordAcknowledgementsV1]]


@dataclass(frozen=True)
class Applied:
    """What became of one command: recorded, refused, or already applied before (a redelivery)."""

    recorded: AcknowledgementsRecordedV1 | None = None
    refusal: resolution.Refusal | None = None
    covered: int = 0

    @property
    def duplicate(self) -> bool:
        return self.recorded is None and self.refusal is None


def _event(contract: AcknowledgementsRecordedV1 | AcknowledgementRejectedV1, cause: Envelope) -> Envelope:
    return make_envelope(contract, producer=SERVICE, cause=cause)


async def apply(
    conn: asyncpg.Connection, message: Message[RecordAcknowledgementsV1], now: datetime
) -> Applied:
    """Apply one command inside the caller's transaction."""
    if not await inbox.claim(conn, COMMANDS_CONSUMER, message.envelope):
        return Applied()
    command = message.contract
    try:
        covered = await resolution.resolve(conn, command, now)
        acks = domain.build(command, message.message_id, covered, now)
        recorded = AcknowledgementsRecordedV1(
            bulk_id=bulk_id(len(acks), acks[0].acknowledgement_id),
            mode=command.mode,
            acknowledgement_state=command.acknowledgement_state,
            acknowledgement_count=len(acks),
            acknowledgements=acks,
            actor=command.actor,
        )
        envelope = _event(recorded, message.envelope)
        body = envelope.to_json()
        if len(body) > MAX_EVENT_BYTES:
            raise resolution.Refusal(
                413, "notes", f"{len(acks)} records with these notes exceed one event; shorten or narrow"
            )
        if command.link_id and not await repo.use_link(
            conn, command.link_id, acks[0].route_id, message.message_id, now
        ):
            raise resolution.Refusal(409, "link_id", "this ack link was used already")
    except resolution.Refusal as refusal:
        rejected = AcknowledgementRejectedV1(status_code=refusal.status_code, problems=refusal.problems())
        await enqueue(conn, _event(rejected, message.envelope), schema=SERVICE)
        return Applied(refusal=refusal)
    await repo.record(conn, acks, message.message_id, now)
    await enqueue(conn, envelope, schema=SERVICE, body=body)
    return Applied(recorded=recorded, covered=len(covered))


@dataclass(frozen=True)
class CommandWriter:
    """The flush of the command batcher: one transaction per batch, one per command after a failure."""

    pool: asyncpg.Pool
    clock: Callable[[], datetime]

    async def flush(self, messages: Commands) -> list[Applied | Exception]:
        now = self.clock()
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                return [await apply(conn, message, now) for message in messages]
        except Exception as exc:
            if len(messages) == 1:
                return [exc]
        results: list[Applied | Exception] = []
        for message in messages:
            try:
                async with self.pool.acquire() as conn, conn.transaction():
                    results.append(await apply(conn, message, now))
            except Exception as exc:
                results.append(exc)
        return results
