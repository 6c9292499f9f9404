"""Write the scheduler's events to its outbox (inside the caller's transaction)."""

from __future__ import annotations

import asyncpg

from cavra_contracts.base import Contract
from cavra_contracts.envelope import Envelope, make_envelope
from cavra_runtime.outbox import enqueue
from cavra_scheduler import SERVICE


async def emit(
    conn: asyncpg.Connection, event: Contract, *, subject: str | None, cause: Envelope | None
) -> Envelope:
    """Enqueue ``event``; it is caused by ``cause`` (a command) or by the timer when None."""
    envelope = make_envelope(
        event,
        producer=SERVICE,
        subject=subject,
        cause=cause,
    )
    await enqueue(conn, envelope, schema=SERVICE)
    return envelope
