"""The recovery SLO report (spec §3.19) and its statistics, assembled from the aggregates PostgreSQL
computes (``repository.report_aggregates``); computed on every read and never stored."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import asyncpg

from cavra_contracts.evidence import PRODUCT
from cavra_contracts.recovery import RECOVERY_REPORT_SCHEMA, REPORT_PREFIX
from cavra_contracts.timestamps import iso

from . import domain
from . import repository as repo
from .escalation import MAX_PLAN_ROUTES

LATEST_EXECUTIONS: Final = 20
TREND_DAYS: Final = 90
"""Closure trends cover the last 90 days (per UTC day, newest first)."""


@dataclass(frozen=True)
class Computed:
    """A report, the rows an escalation plan starts from, and the window statistics."""

    report: dict[str, Any]
    candidates: list[dict[str, Any]]
    statistics: dict[str, Any]


def _ts(value: object) -> str | None:
    """A timestamp from SQL (a datetime, or its jsonb text) as reports show it."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return iso(value)
    return iso(datetime.fromisoformat(str(value)))


def recovery_row(row: Mapping[str, Any], slo_minutes: int) -> dict[str, Any]:
    """One (playbook × provider) row of the report (spec §3.19)."""
    state = row.get("closure_state")
    age = int(row["age_minutes"])
    status, breached = domain.slo_status(state, age, slo_minutes)
    generated = _ts(row["generated_at"])
    closed_at = _ts(row.get("closed_at"))
    closure_minutes = None
    if closed_at is not None and generated is not None and domain.is_closed(state):
        closure_minutes = domain.age_minutes(
            datetime.fromisoformat(generated), datetime.fromisoformat(closed_at)
        )
    return {
        "playbook_id": row["playbook_id"],
        "provider": row["provider"],
        "category": row["category"],
        "failure_count": int(row["failure_count"]),
        "generated_at": generated,
        "age_minutes": age,
        "recovery_slo_minutes": slo_minutes,
        "closure_state": state or "open",
        "closure_id": row.get("closure_id") or "",
        "closed_at": closed_at,
        "closure_minutes": closure_minutes,
        "slo_status": status,
        "slo_breached": breached,
    }


def provider_summary(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "provider": r["provider"],
            "execution_count": int(r["execution_count"]),
            "execution_delivered_count": int(r["delivered"]),
            "execution_failed_count": int(r["failed"]),
            "execution_skipped_count": int(r["skipped"]),
            "recovery_playbook_count": int(r["playbooks"]),
            "recovery_closure_count": int(r["closure_count"]),
            "open_recovery_count": int(r["open"]),
            "slo_breached_count": int(r["breached"]),
            "latest_execution_at": _ts(r["latest_execution_at"]),
            "latest_closure_at": _ts(r["latest_closure_at"]),
        }
        for r in rows
    ]


def closure_trends(counts: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per UTC day, newest first: closures by state and by provider."""
    days: dict[str, dict[str, Any]] = {}
    for row in counts:
        day = days.setdefault(
            row["date"],
            {
                "date": row["date"],
                "closure_count": 0,
                "resolved_count": 0,
                "mitigated_count": 0,
                "deferred_count": 0,
                "escalated_count": 0,
                "reopened_count": 0,
                "provider_counts": {},
            },
        )
        n = int(row["n"])
        day["closure_count"] += n
        key = f"{row['closure_state']}_count"
        if key in day:
            day[key] += n
        day["provider_counts"][row["provider"]] = day["provider_counts"].get(row["provider"], 0) + n
    for day in days.values():
        day["provider_counts"] = dict(sorted(day["provider_counts"].items()))
    return [days[date] for date in sorted(days, reverse=True)]


def latest_execution(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "execution_id": row["execution_id"],
        "family": row["family"],
        "provider": row["provider"],
        "execution_status": row["execution_status"],
        "executed_at": _ts(row["executed_at"]),
        "delivery_success": row["delivery_success"],
        "approval_decision_id": row["approval_id"] or "",
        "run_id": row["run_id"],
    }


def assemble(
    aggregates: Mapping[str, Any],
    trends: Sequence[Mapping[str, Any]],
    executions: Sequence[Mapping[str, Any]],
    *,
    now: datetime,
    slo_minutes: int,
    generated_by: str,
    family: str | None,
) -> dict[str, Any]:
    """The §3.19 report; ``report_id`` is a hash of its content (same data and moment, same id)."""
    totals = aggregates["row_totals"]
    status_counts = {k: int(v) for k, v in sorted(aggregates["execution_status_counts"].items())}
    execution_count = sum(status_counts.values())
    success = status_counts.get("delivered", 0)
    failed = status_counts.get("failed", 0) + status_counts.get("skipped", 0)
    rows = [recovery_row(row, slo_minutes) for row in aggregates["rows"]]
    breached, open_rows = int(totals["breached"]), int(totals["open"])
    summary: dict[str, Any] = {
        "execution_count": execution_count,
        "execution_success_count": success,
        "execution_failed_count": failed,
        "execution_success_rate": round(success / execution_count, 4) if execution_count else None,
        "execution_status_counts": status_counts,
        "recovery_playbook_provider_count": int(totals["rows"]),
        "recovery_closed_count": int(totals["closed"]),
        "recovery_open_count": open_rows,
        "recovery_slo_breached_count": breached,
        "closure_state_counts": {k: int(v) for k, v in sorted(totals["state_counts"].items())},
    }
    alert = domain.report_alert_level(breached=breached, failed_executions=failed, open_rows=open_rows)
    generated_at = iso(now)
    report_id = domain.content_id(
        REPORT_PREFIX,
        {
            "generated_at": generated_at,
            "execution_count": execution_count,
            "recovery_rows": rows,
            "recovery_slo_minutes": slo_minutes,
            "family": family,
            "totals": summary,
        },
    )
    return {
        "schema_version": RECOVERY_REPORT_SCHEMA,
        "product": PRODUCT,
        "report_id": report_id,
        "generated_at": generated_at,
        "generated_by": generated_by,
        "family": family,
        "recovery_slo_minutes": slo_minutes,
        "alert_level": alert,
        **summary,
        "provider_summary": provider_summary(aggregates["providers"]),
        "recovery_rows": rows,
        "recovery_row_limit": len(rows),
        "closure_trends": closure_trends(trends),
        "latest_executions": [latest_execution(row) for row in executions],
        "controls": list(domain.CONTROLS),
    }


def statistics(
    aggregates: Mapping[str, Any], window_start: datetime | None, window_end: datetime | None
) -> dict[str, Any]:
    closures = aggregates["closure_statistics"]
    executions = aggregates["execution_statistics"]
    rows = aggregates["row_statistics"]

    def minutes(value: object) -> float | None:
        return round(float(value), 2) if value is not None else None  # type: ignore[arg-type]

    return {
        "window_start": iso(window_start) if window_start else None,
        "window_end": iso(window_end) if window_end else None,
        "closure_count": int(closures["closure_count"]),
        "closure_minutes_median": minutes(closures["closure_minutes_median"]),
        "closure_minutes_p90": minutes(closures["closure_minutes_p90"]),
        "closure_state_counts": dict(sorted(closures["closure_state_counts"].items())),
        "execution_count": int(executions["execution_count"]),
        "execution_status_counts": dict(sorted(executions["execution_status_counts"].items())),
        "playbook_provider_count": int(rows["playbook_provider_count"]),
        "open_count": int(rows["open_count"]),
        "breached_count": int(rows["breached_count"]),
    }


async def compute(
    conn: asyncpg.Connection,
    *,
    now: datetime,
    slo_minutes: int,
    generated_by: str,
    family: str | None = None,
    row_limit: int = 100,
    window_start: datetime | None = None,
    window_end: datetime | None = None,
) -> Computed:
    """Read the aggregates in one snapshot (the caller's transaction, or a read-only repeatable-read one)
    and assemble the report."""
    if conn.is_in_transaction():
        aggregates, trends, executions = await _read(
            conn, now, slo_minutes, family, row_limit, window_start, window_end
        )
    else:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            aggregates, trends, executions = await _read(
                conn, now, slo_minutes, family, row_limit, window_start, window_end
            )
    report = assemble(
        aggregates,
        trends,
        executions,
        now=now,
        slo_minutes=slo_minutes,
        generated_by=generated_by,
        family=family,
    )
    candidates = [recovery_row(row, slo_minutes) for row in aggregates["candidates"]]
    return Computed(report, candidates, statistics(aggregates, window_start, window_end))


async def _read(
    conn: asyncpg.Connection,
    now: datetime,
    slo_minutes: int,
    family: str | None,
    row_limit: int,
    window_start: datetime | None,
    window_end: datetime | None,
) -> tuple[dict[str, Any], list[asyncpg.Record], list[asyncpg.Record]]:
    aggregates = await repo.report_aggregates(
        conn,
        now=now,
        slo_minutes=slo_minutes,
        family=family,
        row_limit=row_limit,
        candidate_limit=MAX_PLAN_ROUTES,
        window_start=window_start,
        window_end=window_end,
    )
    trends = await repo.trend_counts(conn, now, TREND_DAYS)
    executions = await repo.latest_executions(conn, family, now, LATEST_EXECUTIONS)
    return aggregates, trends, executions
