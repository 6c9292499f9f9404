"""The executive report cadence: ``due_at`` polled with SKIP LOCKED; each due run is generated and delivered.

The recovery source and the connector list are asked before any lock is taken; the cadence row is
then locked only if it is still due at the same ``due_at`` (another replica that ran it moved it),
and the run's id is fixed by that window, so two replicas produce one run and one delivery per window.
A run whose providers no connector serves is stored, records why and waits for the next window.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog

from cavra_contracts.actors import ActorV1, system_actor
from cavra_contracts.executive import DEFAULT_MAX_RISKS, ExecutiveScheduleV1
from cavra_contracts.notifications import DeliveryOptions
from cavra_contracts.timestamps import iso
from cavra_runtime.polling import poll

from . import report, windows, workflow
from . import repository as repo
from .handlers import ExecutiveDeps
from .source import RecoverySourceUnavailable

log = structlog.get_logger()


async def run_cadence(deps: ExecutiveDeps, stop: asyncio.Event, *, tick_seconds: float) -> None:
    """Run the due cadence until ``stop`` (a failed tick: database, recovery source or connectors away)."""

    async def step() -> int:
        return 0 if await run_due(deps) is None else 1

    await poll(step, stop, tick_seconds=tick_seconds, failed_event="executive.timer_failed")


def _schedule(row: Any) -> ExecutiveScheduleV1:
    return ExecutiveScheduleV1(
        interval_minutes=row["interval_minutes"],
        cadence=row["cadence"],
        enabled=True,
        time_zone=row["time_zone"],
        at_local_time=row["at_local_time"],
    )


async def run_due(deps: ExecutiveDeps) -> str | None:
    """Generate and deliver the run due now, if any; its run id."""
    async with deps.pool.acquire() as conn:
        row = await repo.due_schedule(conn, deps.clock())
    if row is None:
        return None
    schedule = _schedule(row)
    zone = deps.settings.zone(schedule.time_zone)
    due_at = row["due_at"]
    window = windows.reported_window(due_at, schedule.interval_minutes, zone, schedule.at_local_time)
    actor = system_actor("reporting")
    try:
        composed = await workflow.compose(
            deps.source,
            at=deps.clock(),
            window=window,
            previous=windows.previous_window(window, schedule.interval_minutes, zone),
            recovery_slo_minutes=row["recovery_slo_minutes"],
            generated_by=actor.actor,
        )
    except RecoverySourceUnavailable as exc:
        log.warning("executive.recovery_source_unavailable", error=str(exc), due_at=due_at.isoformat())
        return None  # tried again next tick: the window is not skipped
    available = await deps.connectors.routable_providers()
    requested = list(row["providers"] or deps.settings.default_providers())
    async with deps.pool.acquire() as conn, conn.transaction():
        locked = await repo.lock_due(conn, due_at)
        if locked is None:
            return None
        return await _run(conn, deps, locked, schedule, composed, requested, available, actor)


async def _run(
    conn: Any,
    deps: ExecutiveDeps,
    row: Any,
    schedule: ExecutiveScheduleV1,
    composed: workflow.Composed,
    requested: list[str],
    available: list[str] | None,
    actor: ActorV1,
) -> str:
    zone = deps.settings.zone(schedule.time_zone)
    now = deps.clock()
    next_at = windows.next_run(
        max(now, row["due_at"]), schedule.interval_minutes, zone, schedule.at_local_time
    )
    run_id = report.run_id_for(
        {"defined_by_run": row["defined_by_run"], "window_start": iso(composed.window.start)}
    )
    recorded = await workflow.record_run(
        conn,
        composed,
        run_id=run_id,
        schedule=workflow.schedule_view(schedule, zone),
        trigger="schedule",
        actor=actor,
        now=now,
        next_run_at=next_at,
        cause=None,
    )
    problem = None
    if recorded.stored:
        try:
            providers = workflow.check_providers(requested, available)
        except workflow.Rejected as exc:
            problem = str(exc)
            log.warning("executive.schedule_not_delivered", run_id=run_id, problem=problem)
        else:
            await workflow.request_delivery(
                conn,
                recorded.run,
                providers=providers,
                max_risks=DEFAULT_MAX_RISKS,
                options=DeliveryOptions(),
                actor=actor,
                trigger="schedule",
                now=now,
                cause=None,
            )
    await repo.schedule_ran(conn, due_at=next_at, run_id=run_id, problem=problem)
    log.info(
        "executive.schedule_ran",
        run_id=run_id,
        window_start=composed.window.start.isoformat(),
        next_run_at=next_at.isoformat(),
        delivered=recorded.stored and problem is None,
    )
    return run_id
