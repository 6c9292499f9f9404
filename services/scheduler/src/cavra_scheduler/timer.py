"""Re-evaluate schedules when time alone changes their readiness (``due_at`` polled with SKIP LOCKED)."""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
import structlog

from cavra_scheduler.store import Context, evaluate_due

log = structlog.get_logger()


async def run_timer(
    pool: asyncpg.Pool, ctx: Context, stop: asyncio.Event, *, tick_seconds: float, batch: int
) -> None:
    """Poll for due schedules until ``stop``; any number of replicas share the work."""
    while not stop.is_set():
        evaluated = 0
        try:
            async with pool.acquire() as conn, conn.transaction():
                evaluated = await evaluate_due(conn, ctx, limit=batch)
        except Exception as exc:  # database away: try again next tick
            log.warning("timer.failed", error_class=type(exc).__name__)
        if evaluated >= batch:
            continue
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=tick_seconds)
