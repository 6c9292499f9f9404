"""Remind and escalate routes as time passes (``due_at`` polled with SKIP LOCKED, clock injected).

Each pass claims a bounded batch of due routes in one transaction; for each, the delivery job
(``DeliverMessageV1``) and ``RouteEscalatedV1`` are enqueued in the outbox in the same
transaction that records the reminder or escalation, so a route is escalated exactly once
however many replicas run and whenever one of them dies.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

import asyncpg
import structlog

from cavra_contracts.envelope import make_envelope
from cavra_escalation import SERVICE, domain
from cavra_escalation import repository as repo
from cavra_runtime.outbox import enqueue

log = structlog.get_logger()


async def process_due(conn: asyncpg.Connection, now: datetime, *, limit: int) -> int:
    """Remind or escalate every route due at ``now`` (at most ``limit``); returns how many were claimed."""
    claimed = await repo.claim_due(conn, now, limit)
    for route in claimed:
        kind = domain.step(route, now)
        if kind is None:  # e.g. an old due_at: recompute it and move on
            await repo.save_timers(conn, route, domain.next_due(route))
            continue
        updated = (
            replace(route, escalated_at=now) if kind == domain.ESCALATION else replace(route, reminded_at=now)
        )
        job = domain.job_id(kind, route.route_id)
        command = domain.deliver_command(route, kind, now)
        event = domain.escalated_event(route, kind, now)
        subject = f"route/{route.route_id}"
        await enqueue(
            conn,
            make_envelope(command, producer=SERVICE, subject=subject, message_id=f"deliver:{job}"),
            schema=SERVICE,
        )
        await enqueue(
            conn,
            make_envelope(event, producer=SERVICE, subject=subject, message_id=f"route-escalated:{job}"),
            schema=SERVICE,
        )
        await repo.save_timers(conn, updated, domain.next_due(updated))
        log.info(
            f"route.{kind}",
            route_id=route.route_id,
            plan_id=route.plan_id,
            schedule_id=route.schedule_id,
            job_id=job,
            providers=[target.provider for target in command.targets],
        )
    return len(claimed)


async def run_timer(
    pool: asyncpg.Pool,
    clock: Callable[[], datetime],
    stop: asyncio.Event,
    *,
    tick_seconds: float,
    batch: int,
) -> None:
    """Poll for due routes until ``stop``; any number of replicas share the work."""
    while not stop.is_set():
        claimed = 0
        try:
            async with pool.acquire() as conn, conn.transaction():
                claimed = await process_due(conn, clock(), limit=batch)
        except Exception as exc:  # database away: try again next tick
            log.warning("timer.failed", error_class=type(exc).__name__)
        if claimed >= batch:
            continue
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=tick_seconds)
