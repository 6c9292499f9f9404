"""Wait for the event a command caused, matched on ``causation_id``."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from cavra_contracts.envelope import Envelope


class OutcomeWaiter:
    """Resolves the futures of pending commands when an event names the command as its cause.

    Several requests may wait on one command id (a repeated Idempotency-Key); each gets the
    outcome and forgetting one leaves the others waiting.
    """

    def __init__(self) -> None:
        self._pending: dict[str, list[tuple[frozenset[str], asyncio.Future[Envelope]]]] = {}

    def expect(
        self, command_id: str, outcome_types: Iterable[str], *, downstream: bool = False
    ) -> asyncio.Future[Envelope]:
        """Register interest before publishing the command, so the outcome cannot be missed.

        By default the outcome is the event the command caused directly (``causation_id``);
        with ``downstream`` it is any later event of the same chain (``correlation_id``), e.g.
        the delivery that followed the plan the command asked for.
        """
        future: asyncio.Future[Envelope] = asyncio.get_running_loop().create_future()
        key = f"corr:{command_id}" if downstream else command_id
        self._pending.setdefault(key, []).append((frozenset(outcome_types), future))
        return future

    def forget(self, command_id: str, future: asyncio.Future[Envelope]) -> None:
        for key in (command_id, f"corr:{command_id}"):
            waiters = [w for w in self._pending.get(key, []) if w[1] is not future]
            if waiters:
                self._pending[key] = waiters
            else:
                self._pending.pop(key, None)

    def wanted(self, causation_id: str | None, correlation_id: str | None) -> bool:
        """Whether an event with these ids may resolve a waiting request (the bus skips decoding the
        others: the gateway sees every event of the system, and waits for very few of them)."""
        pending = self._pending
        return bool(
            (causation_id and causation_id in pending)
            or (correlation_id and f"corr:{correlation_id}" in pending)
        )

    async def observe(self, event: Envelope) -> None:
        """Callback for every event seen on the bus."""
        keys = [event.causation_id, f"corr:{event.correlation_id}" if event.correlation_id else None]
        for key in keys:
            for types, future in self._pending.get(key or "", []):
                if event.type in types and not future.done():
                    future.set_result(event)
