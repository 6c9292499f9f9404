"""Route outcomes committed as they complete: one writer per process, many routes per transaction.

Every route that ends (delivered, failed, quarantined, unconfigured) is handed to the
:class:`OutcomeWriter` and its task waits until the outcome is committed. The writer gathers
the outcomes of all plans in flight in this process and writes them in one transaction per batch
(at most ``max_rows`` rows, flushed at the latest ``max_delay`` seconds after the first one came):
one binary COPY into a session staging table and one ``INSERT ... SELECT``, then the routes that
reached a connector are folded into connector health (quarantine) in the same transaction, with
one locking read and one update for all connectors of the batch. So a plan that is redelivered
(a crash, a nak, a failed final transaction) finds the routes that ended and sends only the rest.

A route that already has a final outcome keeps it (two passes of one plan raced): the writer
returns the stored outcome and counts only what it wrote itself in connector health, so no
outcome is counted twice.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from datetime import datetime

import asyncpg

from cavra_delivery import repository as repo
from cavra_delivery.connectors import quarantine
from cavra_delivery.evidence import RouteOutcome
from cavra_runtime.batching import Batcher

DEFAULT_MAX_ROWS = 256
DEFAULT_MAX_DELAY_SECONDS = 0.005
DEFAULT_TIMEOUT_SECONDS = 30.0
"""The longest one batch's transaction may take; then its routes fail (transient) and the plans
are retried, and the writer starts over on a new connection."""


class OutcomeWriter:
    """``async with OutcomeWriter(pool, policy, clock) as writer: stored = await writer.write(outcome)``."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        policy: quarantine.QuarantinePolicy,
        clock: Callable[[], datetime],
        *,
        max_rows: int = DEFAULT_MAX_ROWS,
        max_delay: float = DEFAULT_MAX_DELAY_SECONDS,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self._pool = pool
        self._timeout = timeout
        self._policy = policy
        self._clock = clock
        self._conn: asyncpg.pool.PoolConnectionProxy | None = None
        self._batcher: Batcher[RouteOutcome, RouteOutcome] = Batcher(
            self._flush, max_items=max_rows, max_delay=max_delay, name="outcome-writer"
        )

    @property
    def flushes(self) -> int:
        """Transactions written so far."""
        return self._batcher.flushes

    async def __aenter__(self) -> OutcomeWriter:
        self._batcher.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._batcher.close()
        await self._release()

    async def write(self, outcome: RouteOutcome) -> RouteOutcome:
        """Commit ``outcome`` with the next batch; returns the stored outcome (an earlier pass's
        when the route already had one). Raises what the batch's transaction raised."""
        return await self._batcher.submit(outcome)

    async def _flush(self, outcomes: Sequence[RouteOutcome]) -> list[RouteOutcome]:
        unique: dict[str, RouteOutcome] = {}
        for outcome in outcomes:  # one route twice in a batch: two passes of a plan in this process
            unique.setdefault(outcome.delivery_id, outcome)
        conn = await self._connection()
        try:
            async with asyncio.timeout(self._timeout), conn.transaction():
                written = await repo.write_outcomes(conn, list(unique.values()))
                stored = {key: unique[key] for key in written}
                earlier = [key for key in unique if key not in written]
                if earlier:
                    for row in await repo.outcomes_by_id(conn, earlier):
                        stored[row["delivery_id"]] = RouteOutcome.from_row(row)
                await self._fold_health(conn, [outcome for key, outcome in unique.items() if key in written])
        except BaseException:
            # Never reuse the session after a failed batch: after a timeout or a cancel a statement
            # may still run, and after PostgreSQL restarted the connection is dead even when it does
            # not say so yet (every later batch would fail the same way). A new one costs one setup.
            await self._release(terminate=True)
            raise
        return [stored[outcome.delivery_id] for outcome in outcomes]

    async def _fold_health(self, conn: asyncpg.Connection, written: Sequence[RouteOutcome]) -> None:
        """Fold the routes that reached a connector into its breaker, in the order they ended."""
        by_connector: dict[str, list[str]] = {}
        for outcome in written:
            if outcome.sent and outcome.connector is not None:
                by_connector.setdefault(outcome.connector, []).append(outcome.status)
        if not by_connector:
            return
        now = self._clock()
        states = await repo.lock_health_many(conn, list(by_connector))
        changed = []
        for name, statuses in sorted(by_connector.items()):
            state = states[name]
            for status in statuses:
                state = quarantine.record_outcome(state, status, now, self._policy)
            changed.append(state)
        await repo.save_health_many(conn, changed)

    async def _connection(self) -> asyncpg.pool.PoolConnectionProxy:
        """The writer's own connection: its session holds the staging table. One that closed under
        it (PostgreSQL restarted; the pool then takes it back) is replaced before the batch runs,
        so the batch is written instead of failing its plans."""
        if self._conn is not None and not _usable(self._conn):
            self._conn = None
        if self._conn is None:
            conn = await self._pool.acquire()
            try:
                await repo.prepare_outcome_writes(conn)
            except BaseException:
                await self._pool.release(conn)
                raise
            self._conn = conn
        return self._conn

    async def _release(self, *, terminate: bool = False) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            if terminate:
                with contextlib.suppress(Exception):
                    conn.terminate()
            with contextlib.suppress(Exception):
                await self._pool.release(conn)


def _usable(conn: asyncpg.pool.PoolConnectionProxy) -> bool:
    try:
        return not conn.is_closed()
    except asyncpg.InterfaceError:  # detached: the pool took it back when it closed
        return False
