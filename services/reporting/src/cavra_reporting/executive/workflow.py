"""The steps a schedule run and a delivery share, whoever asked (the gateway's commands or the timer).

``compose`` asks the recovery source (outside any transaction); ``record_run`` and ``request_delivery``
run inside the caller's transaction and enqueue their events through the outbox.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from cavra_contracts.actors import ActorV1
from cavra_contracts.deliveries import DeliverMessageV1, DeliveryTargetV1, FactV1, MessageContentV1
from cavra_contracts.envelope import Envelope, make_envelope
from cavra_contracts.evidence import EvidenceRecordV1
from cavra_contracts.executive import (
    DELIVERY_EVENT_TYPE,
    DELIVERY_KIND,
    ExecutiveReportDeliveryRequestedV1,
    ExecutiveReportGeneratedV1,
    ExecutiveReportRunRecordedV1,
    ExecutiveScheduleV1,
)
from cavra_contracts.families import EXECUTIVE_REPORT_SOURCE
from cavra_contracts.notifications import DeliveryOptions
from cavra_contracts.timestamps import iso
from cavra_runtime.outbox import enqueue

from . import records, report, windows
from . import repository as repo
from .source import RecoveryReports

SERVICE = "reporting"


class Rejected(Exception):
    """A request that cannot be applied: ``status_code`` and the offending field."""

    def __init__(self, status_code: int, field: str, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.problems = [{"field": field, "message": message}]


@dataclass(frozen=True)
class Composed:
    """A report composed for a window (not stored yet)."""

    report: dict[str, Any]
    window: windows.Window


async def compose(
    source: RecoveryReports,
    *,
    at: datetime,
    window: windows.Window,
    previous: windows.Window,
    recovery_slo_minutes: int,
    generated_by: str,
) -> Composed:
    """Ask the recovery source for this window and the previous one, and compose the report."""
    current, before = await asyncio.gather(  # at once: a GET waits for both within one query timeout
        source.recovery(
            recovery_slo_minutes=recovery_slo_minutes, at=at, window=window, generated_by=generated_by
        ),
        source.recovery(
            recovery_slo_minutes=recovery_slo_minutes, at=at, window=previous, generated_by=generated_by
        ),
    )
    composed = report.executive_report(
        current,
        before.statistics,
        generated_at=at,
        generated_by=generated_by,
        recovery_slo_minutes=recovery_slo_minutes,
    )
    return Composed(composed, window)


def schedule_view(schedule: ExecutiveScheduleV1, zone: ZoneInfo) -> dict[str, Any]:
    return {
        "interval_minutes": schedule.interval_minutes,
        "cadence": schedule.label(),
        "enabled": schedule.enabled,
        "time_zone": str(zone),
        "at_local_time": schedule.at_local_time,
    }


@dataclass(frozen=True)
class Recorded:
    run: dict[str, Any]
    run_record: EvidenceRecordV1
    report_record: EvidenceRecordV1
    stored: bool
    """False: the run was stored before (the same command or window); nothing was enqueued."""


async def record_run(
    conn: asyncpg.Connection,
    composed: Composed,
    *,
    run_id: str,
    schedule: Mapping[str, Any],
    trigger: str,
    actor: ActorV1,
    now: datetime,
    next_run_at: datetime | None,
    cause: Envelope | None,
) -> Recorded:
    """Store the report and its run, and enqueue both events."""
    run = report.schedule_run(
        composed.report,
        run_id=run_id,
        window=composed.window,
        schedule=schedule,
        generated_at=now,
        generated_by=actor.actor,
        trigger=trigger,
    )
    report_record = records.report_record(composed.report, now)
    run_record = records.run_record(run, now)
    await repo.insert_report(conn, report_record)
    stored = await repo.insert_run(
        conn,
        run_record,
        executive_report_id=composed.report["executive_report_id"],
        trigger=trigger,
        window_start=composed.window.start,
        window_end=composed.window.end,
    )
    if stored:
        await emit(
            conn,
            ExecutiveReportGeneratedV1(
                record=report_record, executive_report_id=report_record.session_id, run_id=run_id
            ),
            cause,
            run_id,
        )
        await emit(
            conn,
            ExecutiveReportRunRecordedV1(
                record=run_record,
                run_id=run_id,
                executive_report_id=report_record.session_id,
                trigger=trigger,
                window_start=iso(composed.window.start),
                window_end=iso(composed.window.end),
                next_run_at=iso(next_run_at) if next_run_at else "",
                actor=actor,
            ),
            cause,
            run_id,
        )
    return Recorded(run, run_record, report_record, stored)


async def emit(conn: asyncpg.Connection, contract: Any, cause: Envelope | None, run_id: str) -> None:
    envelope = make_envelope(contract, producer=SERVICE, cause=cause, subject=f"executive-run/{run_id}")
    await enqueue(conn, envelope, schema=SERVICE)


def check_providers(requested: Sequence[str], available: list[str] | None) -> list[str]:
    """``requested`` when a configured connector serves each; else ``Rejected`` (400 naming provider)."""
    if available is None:
        raise Rejected(400, "provider", "connector config is not configured")
    missing = [name for name in requested if name not in available]
    if missing:
        raise Rejected(400, "provider", f"connector provider is not configured: {', '.join(missing)}")
    return list(requested)


def delivery_job(
    run: Mapping[str, Any],
    event: dict[str, Any],
    providers: Sequence[str],
    job_id: str,
    options: DeliveryOptions,
) -> DeliverMessageV1:
    summary = run["summary"]
    facts = [
        FactV1(title="Run", value=str(run["run_id"])),
        FactV1(title="Executive report", value=str(run["executive_report_id"])),
        FactV1(title="Window", value=f"{run['schedule']['window_start']} - {run['schedule']['window_end']}"),
        *(FactV1(title=key.replace("_", " "), value=str(value)) for key, value in summary.items()),
    ]
    business_impact = str(run["executive_report"]["executive_summary"]["business_impact"])
    content = MessageContentV1(
        kind=DELIVERY_KIND,
        event_type=DELIVERY_EVENT_TYPE,
        title=report.title(run["run_id"]),
        text=business_impact,
        severity=run["alert_level"],
        facts=facts,
        data=event,
    )
    return DeliverMessageV1(
        job_id=job_id,
        source=EXECUTIVE_REPORT_SOURCE,
        content=content,
        targets=[DeliveryTargetV1(target_key=name, provider=name) for name in providers],
        delivery=options,
    )


async def request_delivery(
    conn: asyncpg.Connection,
    run: Mapping[str, Any],
    *,
    providers: Sequence[str],
    max_risks: int,
    options: DeliveryOptions,
    actor: ActorV1,
    trigger: str,
    now: datetime,
    cause: Envelope | None,
) -> ExecutiveReportDeliveryRequestedV1:
    """Enqueue the run's delivery job with the event that records it (one transaction)."""
    job_id = report.job_id_for(run["run_id"], providers)
    event = report.delivery_event(run, max_risks=max_risks, generated_by=actor.actor)
    requested = ExecutiveReportDeliveryRequestedV1(
        record=records.delivery_record(event, job_id=job_id, providers=list(providers), at=now),
        run_id=run["run_id"],
        executive_report_id=run["executive_report_id"],
        job_id=job_id,
        providers=list(providers),
        trigger=trigger,
        actor=actor,
    )
    await emit(conn, delivery_job(run, event, providers, job_id, options), cause, run["run_id"])
    await emit(conn, requested, cause, run["run_id"])
    return requested
