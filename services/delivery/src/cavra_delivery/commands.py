"""What the delivery command handlers share: the outbox ``emit``, the ``Rejected`` refusal and ``apply_once``,
which runs a command once (inbox claim) and turns a ``Rejected`` into its refusal event."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
import structlog

from cavra_contracts.base import Contract
from cavra_contracts.envelope import Envelope, make_envelope
from cavra_contracts.failures import RequestRefused
from cavra_contracts.scheduler import FieldProblem
from cavra_runtime.inbox import once
from cavra_runtime.outbox import enqueue

from . import SERVICE

log = structlog.get_logger()
T = TypeVar("T")


class Rejected(Exception):
    """A command refused before anything is stored: its status code and the field at fault."""

    def __init__(self, status_code: int, field: str, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.field = field
        self.message = message


async def emit(
    conn: asyncpg.Connection, contract: Contract, cause: Envelope | None, subject: str = ""
) -> None:
    """Enqueue ``contract`` through the delivery outbox in ``conn``'s transaction, caused by ``cause``."""
    envelope = make_envelope(contract, producer=SERVICE, cause=cause, subject=subject or None)
    await enqueue(conn, envelope, schema=SERVICE)


async def apply_once(
    pool: asyncpg.Pool,
    consumer: str,
    envelope: Envelope,
    refusal: type[RequestRefused],
    work: Callable[[asyncpg.Connection], Awaitable[T]],
) -> T | None:
    """Run ``work`` in the command's inbox transaction and return its result; None for a duplicate.

    ``work`` runs in a savepoint: when it raises ``Rejected``, whatever it wrote is undone, a ``refusal``
    naming the field is enqueued instead (the inbox claim still commits) and None is returned.
    """
    async with once(pool, consumer, envelope) as conn:
        if conn is None:
            return None
        try:
            async with conn.transaction():
                return await work(conn)
        except Rejected as exc:
            problem = FieldProblem(field=exc.field, message=exc.message)
            await emit(conn, refusal(status_code=exc.status_code, problems=[problem]), envelope)
            log.info(
                "command.rejected",
                refusal=refusal.MESSAGE.name,
                status_code=exc.status_code,
                field=exc.field,
                problem=exc.message,
            )
            return None
