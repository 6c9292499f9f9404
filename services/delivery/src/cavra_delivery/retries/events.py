"""Every retry event and command leaves through the delivery service's outbox, in the caller's transaction."""

from __future__ import annotations

import asyncpg

from cavra_contracts.base import Contract
from cavra_contracts.envelope import Envelope, make_envelope
from cavra_delivery import SERVICE
from cavra_runtime.outbox import enqueue


async def emit(
    conn: asyncpg.Connection, contract: Contract, cause: Envelope | None, subject: str = ""
) -> None:
    envelope = make_envelope(contract, producer=SERVICE, cause=cause, subject=subject or None)
    await enqueue(conn, envelope, schema=SERVICE)
