"""Which failures the dispatcher retries (weather) and which it rejects (bugs, bad data)."""

from __future__ import annotations

import asyncpg
import pytest

from cavra_runtime.failures import PermanentError, TransientError, is_transient


def _chained(outer: Exception, cause: BaseException) -> Exception:
    try:
        raise outer from cause
    except Exception as exc:
        return exc


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionResetError(),
        TimeoutError(),
        TransientError("not yet"),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.exceptions.DeadlockDetectedError("deadlock"),
        asyncpg.exceptions.LockNotAvailableError("lock timeout"),
        asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.InterfaceError("cannot call Transaction.__aexit__(): the underlying connection is closed"),
        asyncpg.InterfaceError(
            "cannot call Connection.transaction(): connection has been released back to the pool"
        ),
        asyncpg.exceptions.InternalClientError(
            "cannot switch to state 15; another operation (2) is in progress"
        ),
        _chained(RuntimeError("flush failed"), ConnectionRefusedError()),
    ],
)
def test_lost_connectivity_and_lock_trouble_are_transient(exc: BaseException) -> None:
    assert is_transient(exc)


@pytest.mark.parametrize(
    "exc",
    [
        OverflowError("date value out of range"),
        KeyError("route_key"),
        asyncpg.exceptions.NumericValueOutOfRangeError("integer out of range"),
        asyncpg.exceptions.UniqueViolationError("duplicate key"),
        asyncpg.InterfaceError("the server expects 3 arguments for this query, 2 were passed"),
        PermanentError("never"),
        _chained(PermanentError("never"), ConnectionResetError()),
    ],
)
def test_bugs_and_bad_data_are_not_transient(exc: BaseException) -> None:
    assert not is_transient(exc)
