"""Automatic health alerts: each monitored family's worker health is checked every
``CAVRA_WORKER_HEALTH_CHECK_MINUTES`` (a ``due_at`` row per family, polled with SKIP LOCKED, the clock
injected), and an unhealthy worker is alerted to ``CAVRA_HEALTH_ALERT_PROVIDERS`` through the same
code path as the endpoint, so a lasting problem is alerted once per suppression window.

The original alerts only when someone calls the endpoint; a missed run is exactly what nobody calls it for.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta

import asyncpg
import structlog

from cavra_contracts.actors import system_actor
from cavra_contracts.families import MONITORED_FAMILIES
from cavra_contracts.health import DEFAULT_MAX_ALERTS, HealthWindowV1
from cavra_contracts.notifications import DeliveryOptions
from cavra_contracts.vocabulary import ALERT_HEALTHY
from cavra_delivery import SERVICE
from cavra_delivery.commands import Rejected

from . import alerts
from . import repository as repo
from .handlers import HealthDeps, emitter
from .settings import HealthSettings

log = structlog.get_logger()


async def run_checks(deps: HealthDeps, settings: HealthSettings, stop: asyncio.Event) -> None:
    """Check due families until ``stop``."""
    while not stop.is_set():
        try:
            await check_due(deps, settings)
        except Exception as exc:  # database away: try again next tick
            log.warning("health.timer_failed", error_class=type(exc).__name__)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=settings.health_tick_seconds)


async def check_due(deps: HealthDeps, settings: HealthSettings) -> int:
    """Check every family whose check is due (one transaction); how many were checked."""
    interval = timedelta(minutes=settings.worker_health_check_minutes)
    connectors = deps.connectors()
    async with deps.pool.acquire() as conn, conn.transaction():
        now = deps.clock()
        await repo.ensure_checks(conn, MONITORED_FAMILIES, now)
        rows = await repo.due_checks(conn, now, len(MONITORED_FAMILIES))
        for row in rows:
            await _check(conn, deps, settings, row, connectors, now, interval)
    return len(rows)


async def _check(
    conn: asyncpg.Connection,
    deps: HealthDeps,
    settings: HealthSettings,
    row: asyncpg.Record,
    connectors: alerts.Connectors,
    now: datetime,
    interval: timedelta,
) -> None:
    family = row["family"]
    actor = system_actor(SERVICE)
    health = await alerts.health_report(conn, family, HealthWindowV1(), now=now, generated_by=actor.actor)
    plan_id = None
    if health["alert_level"] != ALERT_HEALTHY and settings.health_alert_providers:
        request = alerts.AlertRequest(
            family=family,
            window=HealthWindowV1(),
            provider=settings.health_alert_providers,
            suppression_window_minutes=settings.health_alert_suppression_minutes,
            force=False,
            max_alerts=DEFAULT_MAX_ALERTS,
            delivery=DeliveryOptions(),
            actor=actor,
            trigger="timer",
        )
        try:
            async with conn.transaction():  # a savepoint: a refused alert leaves the check itself
                planned = await alerts.plan_alert(
                    conn,
                    request,
                    connectors,
                    command_id=f"health-check:{family}@{row['due_at'].isoformat()}",
                    now=now,
                    emit=emitter(conn, None, f"health/{family}"),
                )
            plan_id = planned.plan_id
            log.info(
                "health.timer_alerted",
                family=family,
                health_id=planned.health_id,
                plan_id=planned.plan_id,
                job_id=planned.job_id,
            )
        except Rejected as exc:
            log.warning("health.timer_alert_refused", family=family, field=exc.field, problem=exc.message)
    await repo.check_ran(
        conn, family, due_at=now + interval, now=now, health_id=health["health_id"], plan_id=plan_id
    )
