"""The loop of every ``due_at`` timer (style rule 8): run one step, wait a tick, until stopped.

A step that fails (database, a peer away) is logged and tried again next tick; a step that did a
full batch runs again at once, so a backlog drains without waiting a tick per batch.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger()


async def poll(
    step: Callable[[], Awaitable[int]],
    stop: asyncio.Event,
    *,
    tick_seconds: float,
    failed_event: str,
    batch: int | None = None,
) -> None:
    """Run ``step`` (which returns how much it did) every ``tick_seconds`` until ``stop``.

    With ``batch``, a step that did ``batch`` or more runs again without waiting. A step that raises
    is logged as ``failed_event`` with its error class and retried next tick.
    """
    while not stop.is_set():
        done = 0
        try:
            done = await step()
        except Exception as exc:  # database or a peer away: try again next tick
            log.warning(failed_event, error_class=type(exc).__name__)
        if batch is not None and done >= batch:
            continue
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=tick_seconds)


__all__ = ["poll"]
