"""Wait for the event a command caused, matched on ``causation_id``."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from cavra_contracts.envelope import Envelope


class OutcomeWaiter:
    """Resolves one future per pending command when an event names it as its cause."""

    def __init__(self) -> None:
        self._pending: dict[str, tuple[frozenset[str], asyncio.Future[Envelope]]] = {}

    def expect(self, command_id: str, outcome_types: Iterable[str]) -> asyncio.Future[Envelope]:
        """Register interest before publishing the command, so the outcome cannot be missed."""
        future: asyncio.Future[Envelope] = asyncio.get_running_loop().create_future()
        self._pending[command_id] = (frozenset(outcome_types), future)
        return future

    def forget(self, command_id: str) -> None:
        self._pending.pop(command_id, None)

    async def observe(self, event: Envelope) -> None:
        """Callback for every event seen on the bus."""
        if not event.causation_id:
            return
        entry = self._pending.get(event.causation_id)
        if entry is None:
            return
        types, future = entry
        if event.type in types and not future.done():
            future.set_result(event)
            self._pending.pop(event.causation_id, None)

    async def wait(
        self, command_id: str, future: asyncio.Future[Envelope], timeout: float
    ) -> Envelope | None:
        """The outcome, or None when it did not arrive within ``timeout`` seconds."""
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            return None
        finally:
            self.forget(command_id)
