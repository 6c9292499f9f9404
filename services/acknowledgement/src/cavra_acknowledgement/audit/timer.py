"""Audit delivery schedules: ``due_at`` polled with SKIP LOCKED; each due schedule delivers a fresh package.

Any number of replicas share the work (a schedule locked by one is skipped by the others) and the
clock is injected, so tests move time. A run that cannot deliver (the provider is no longer
configured, the schedule's filter has no plan) records why and waits for the next due time.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime

import asyncpg
import structlog

from cavra_acknowledgement import SERVICE
from cavra_contracts.actors import system_actor
from cavra_contracts.audit import AuditFiltersV1
from cavra_contracts.envelope import make_envelope
from cavra_contracts.notifications import DeliveryOptions
from cavra_runtime.outbox import enqueue

from . import repository as repo
from . import workflow
from .handlers import AuditDeps

log = structlog.get_logger()


async def run_schedules(deps: AuditDeps, stop: asyncio.Event, *, tick_seconds: float, batch: int) -> None:
    """Deliver due audit schedules until ``stop``."""
    while not stop.is_set():
        ran = 0
        try:
            ran = await deliver_due(deps, batch)
        except Exception as exc:  # database or connectors away: try again next tick
            log.warning("audit.timer_failed", error_class=type(exc).__name__)
        if ran >= batch:
            continue
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=tick_seconds)


async def deliver_due(deps: AuditDeps, batch: int) -> int:
    """Deliver at most ``batch`` due schedules in one transaction; how many ran."""
    async with deps.pool.acquire() as conn:
        if not await repo.any_due(conn, deps.clock()):
            return 0
    available = await deps.peers.routable_providers()  # asked before any lock is taken
    async with deps.pool.acquire() as conn, conn.transaction():
        now = deps.clock()
        rows = await repo.due_schedules(conn, now, batch)
        for row in rows:
            await _run(conn, deps, row, available, now)
    return len(rows)


async def _run(
    conn: asyncpg.Connection,
    deps: AuditDeps,
    row: asyncpg.Record,
    available: list[str] | None,
    now: datetime,
) -> None:
    schedule_ref_id = row["schedule_ref_id"]
    next_at = workflow.next_due(row["due_at"], row["interval_minutes"], now)
    actor = system_actor(SERVICE)
    try:
        providers = workflow.check_providers(row["delivery_provider"], available)
        generated = await workflow.generate(
            conn,
            filters=AuditFiltersV1.model_validate(row["filters"]),
            actor=actor,
            keyring=deps.keyring,
            clock=deps.clock,
            trigger="schedule",
            command_id=f"{schedule_ref_id}@{row['due_at'].isoformat()}",
        )
    except workflow.Rejected as exc:
        await repo.schedule_ran(
            conn, schedule_ref_id, due_at=next_at, delivery_id=None, now=now, problem=str(exc)
        )
        log.warning("audit.schedule_skipped", schedule_ref_id=schedule_ref_id, problem=str(exc))
        return
    delivery = await workflow.plan_delivery(
        conn,
        generated,
        requested=row["delivery_provider"],
        available=providers,
        cadence=row["cadence"],
        schedule_ref=row["schedule_ref"],
        schedule_ref_id=schedule_ref_id,
        next_delivery_at=next_at,
        options=DeliveryOptions.model_validate(row["delivery"]),
        actor=actor,
        now=generated.at,
    )
    for contract in (
        workflow.generated_event(generated, trigger="schedule", actor=actor),
        delivery.job,
        delivery.event,
    ):
        await enqueue(
            conn,
            make_envelope(contract, producer=SERVICE, subject=f"audit/{schedule_ref_id}"),
            schema=SERVICE,
        )
    await repo.schedule_ran(
        conn, schedule_ref_id, due_at=next_at, delivery_id=delivery.plan["delivery_id"], now=now, problem=None
    )
    log.info(
        "audit.schedule_delivered",
        schedule_ref_id=schedule_ref_id,
        audit_id=generated.document["audit_id"],
        delivery_id=delivery.plan["delivery_id"],
        next_delivery_at=next_at.isoformat(),
    )
