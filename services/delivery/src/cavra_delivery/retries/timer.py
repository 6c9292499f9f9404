"""The retry timer: each family's worker on its own schedule, and approvals that ran out of time.

Both are ``due_at`` rows polled with ``FOR UPDATE SKIP LOCKED`` on the injected clock, so any number of
replicas share the work without a leader and tests move time. A scheduled run is a dry run unless its
schedule says ``execute``; its id is stable per family and due time, so a replica that crashed after
the commit never runs the same slot twice.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

import structlog

from cavra_contracts.actors import system_actor
from cavra_contracts.approvals import ApprovalExpiredV1
from cavra_contracts.families import family_spec
from cavra_contracts.retries import (
    RetryExecutedV1,
    RetryPolicyV1,
    WorkerRunCompletedV1,
    WorkerScheduleV1,
    hash_id,
)
from cavra_contracts.timestamps import iso
from cavra_delivery import SERVICE
from cavra_delivery.retries import approval_repository as approvals_repo
from cavra_delivery.retries import records, workers
from cavra_delivery.retries import repository as repo
from cavra_delivery.retries import runs_repository as runs_repo
from cavra_delivery.retries.events import emit
from cavra_delivery.retries.handlers import RetryDeps

log = structlog.get_logger()


async def run_timer(
    deps: RetryDeps,
    stop: asyncio.Event,
    *,
    tick_seconds: float,
    batch: int,
    lost_after: timedelta,
    retention: timedelta = timedelta(days=30),
) -> None:
    """Run due schedules, expire approvals, give up lost executions and prune old decisions until
    ``stop``."""
    while not stop.is_set():
        ran = 0
        try:
            ran = (
                await run_due(deps, batch)
                + await expire_due(deps, batch)
                + await give_up_lost(deps, batch, lost_after)
                + await prune_one(deps, retention)
            )
        except Exception as exc:  # database away: try again next tick
            log.warning("retry.timer_failed", error_class=type(exc).__name__)
        if ran >= batch:
            continue
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=tick_seconds)


async def run_due(deps: RetryDeps, batch: int) -> int:
    """Scheduled worker runs of at most ``batch`` due families, one transaction; how many ran."""
    async with deps.pool.acquire() as conn:
        if not await runs_repo.any_schedule_due(conn, deps.clock()):
            return 0
        async with conn.transaction():
            now = deps.clock()
            rows = await runs_repo.due_schedules(conn, now, batch)
            for row in rows:
                spec = family_spec(row["family"])
                schedule = WorkerScheduleV1(
                    interval_minutes=row["interval_minutes"],
                    cadence=row["cadence"],
                    enabled=True,
                    execute=row["execute"],
                    max_retry_deliveries=row["max_retry_deliveries"],
                )
                actor = system_actor(SERVICE)
                request = workers.RunRequest(
                    spec=spec,
                    run_id=hash_id(
                        spec.worker_run_prefix, {"family": spec.name, "due_at": row["due_at"].isoformat()}
                    ),
                    dry_run=not row["execute"],
                    policy=RetryPolicyV1.model_validate(row["policy"] or {}),
                    schedule=schedule,
                    max_retry_deliveries=row["max_retry_deliveries"],
                    scheduled=True,
                    generated_by=actor.actor,
                    actor=actor,
                )
                run, plan, results = await workers.run_worker(conn, request, deps.clock, None)
                event = WorkerRunCompletedV1(
                    record=records.run_record(spec, run),
                    family=spec.name,
                    run_id=run["run_id"],
                    retry_record=records.plan_record(spec, plan).document(),
                    retry_results=results,
                    actor=actor,
                )
                await emit(conn, event, None, f"retries/{spec.name}")
                await runs_repo.schedule_ran(
                    conn, spec.name, workers.next_due(row["due_at"], row["interval_minutes"], now)
                )
                log.info(
                    "retry.scheduled_run", family=spec.name, run_id=run["run_id"], dry_run=request.dry_run
                )
    return len(rows)


async def expire_due(deps: RetryDeps, batch: int) -> int:
    """Approvals whose time to decide or to execute ran out become ``expired``, each an event."""
    async with deps.pool.acquire() as conn, conn.transaction():
        now = deps.clock()
        rows = await approvals_repo.expired_pending(conn, now, batch)
        for row in rows:
            await approvals_repo.expire(conn, row["approval_id"])
            event = ApprovalExpiredV1(
                approval_id=row["approval_id"],
                family=row["family"],
                provider=row["provider"],
                origin_job_id=row["origin_job_id"],
                digest=row["digest"],
                stage="execute" if row["state"] == "approved" else "decide",
            )
            await emit(conn, event, None, f"approval/{row['approval_id']}")
    return len(rows)


async def give_up_lost(deps: RetryDeps, batch: int, lost_after: timedelta) -> int:
    """Executions pending longer than ``lost_after`` (their command was dead-lettered) become
    ``skipped`` (``execution_lost``), each an event; the attempt may then be run again."""
    async with deps.pool.acquire() as conn, conn.transaction():
        now = deps.clock()
        rows = await runs_repo.lost_executions(conn, now - lost_after, batch)
        for row in rows:
            document = dict(row["document"]) | {
                "execution_status": "skipped",
                "skipped": "execution_lost",
                "completed_at": iso(now),
            }
            done = {
                "execution_status": "skipped",
                "skipped": "execution_lost",
                "completed_at": now,
                "delivery_success": None,
                "delivery_record_id": None,
                "execution_hash": "",
                "document": document,
            }
            if not await runs_repo.complete_execution(conn, row["execution_id"], done):
                continue
            spec = family_spec(row["family"])
            event = RetryExecutedV1(
                record=records.execution_record(spec, document),
                family=spec.name,
                execution_id=row["execution_id"],
                execution_status="skipped",
            )
            await emit(conn, event, None, f"retry/{row['execution_id']}")
            log.warning("retry.execution_lost", execution_id=row["execution_id"], family=row["family"])
    return len(rows)


async def prune_one(deps: RetryDeps, retention: timedelta) -> int:
    """The decisions of one retry plan older than ``retention`` are deleted (its counts stay)."""
    async with deps.pool.acquire() as conn, conn.transaction():
        now = deps.clock()
        return await repo.prune_decisions(conn, now - retention, now)
