"""Which handler failures are weather (retry) and which are bugs or bad data (reject at once).

A failure is transient when waiting can fix it (it, or an exception in its cause chain): lost
NATS or PostgreSQL connectivity (including asyncpg's client-side errors for a connection that
died under an operation), a server shutting down, a lock or statement timeout, a deadlock or
serialisation conflict, a peer that did not answer in time, or a handler saying "not yet" with
:class:`TransientError`. Anything else (an ``OverflowError``, a ``KeyError``, a constraint
violation) fails the same way on every retry, so the dispatcher rejects the message after one
short retry instead of holding its consumer for minutes.
"""

from __future__ import annotations

import asyncpg

_TRANSIENT: list[type[BaseException]] = [
    ConnectionError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,  # admin/crash shutdown, cannot connect now, canceled
    asyncpg.exceptions.InsufficientResourcesError,  # too many connections, disk full, out of memory
    asyncpg.exceptions.LockNotAvailableError,
    asyncpg.exceptions.TransactionRollbackError,  # deadlock detected, serialisation failure
]


class TransientError(Exception):
    """Raised by a handler for a condition that a later delivery will find changed ("not yet")."""


class PermanentError(Exception):
    """Raised by a handler for a message that no retry can apply: rejected at once."""


def register_transient(*classes: type[BaseException]) -> None:
    """Add transport errors (the bus registers the NATS client's) to the transient set."""
    for cls in classes:
        if cls not in _TRANSIENT:
            _TRANSIENT.append(cls)


def _lost_connection(exc: BaseException) -> bool:
    # asyncpg reports a connection that died under a running operation as a client-side error,
    # e.g. "cannot call Transaction.__aexit__(): the underlying connection is closed" or
    # "cannot switch to state 15; another operation (2) is in progress", or a pooled connection's
    # "connection has been released back to the pool" (the pool takes back one that closed; all
    # seen when PostgreSQL restarts mid-transaction). These can also be bugs; max_deliver bounds them.
    if isinstance(exc, asyncpg.exceptions.InternalClientError):
        return True
    text = str(exc)
    return isinstance(exc, asyncpg.InterfaceError) and (
        "closed" in text or "released back to the pool" in text
    )


def is_transient(exc: BaseException) -> bool:
    """True when retrying the message later may succeed: the error, or what caused it, is weather."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, PermanentError):
            return False
        if isinstance(current, (TransientError, *_TRANSIENT)) or _lost_connection(current):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False
