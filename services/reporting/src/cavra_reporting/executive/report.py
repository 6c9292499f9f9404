"""The executive recovery report, its schedule run and delivery event (spec §3.21), as pure functions.

The report is a function of the recovery source's answer for this period (recovery report §3.19,
escalation plan §3.20, statistics over the window) and the previous period's statistics: the
counts of the original, the median and p90 of closure time beside them, and the change from the
previous period of the same length. Ids are hashes of content, so the same inputs give the same id.
"""

from __future__ import annotations

import math
import statistics as stats
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from cavra_contracts.evidence import MAX_RECORD_LIST_ITEMS
from cavra_contracts.executive import (
    DELIVERY_EVENT_SCHEMA,
    DELIVERY_EVENT_TYPE,
    EXECUTIVE_REPORT_PREFIX,
    EXECUTIVE_REPORT_SCHEMA,
    SCHEDULE_RUN_PREFIX,
    SCHEDULE_RUN_SCHEMA,
)
from cavra_contracts.retries import hash_id
from cavra_contracts.timestamps import iso

from .windows import Window

CONTROLS: Final = [
    "executive reports are derived only from public-safe recovery metadata",
    "no connector credentials, private ticket payloads or customer incident text are included",
    "GET never writes; schedule runs and deliveries are stored with their window",
]
ATTENTION: Final = "Connector recovery requires leadership attention"
MONITORED: Final = "Connector recovery is being monitored within operating tolerances"
FIRST_ACTION_ESCALATE: Final = "deliver recovery escalation notifications to the selected operations channels"
FIRST_ACTION_ROUTINE: Final = "continue routine retry recovery monitoring"
FOLLOW_UP_ACTIONS: Final = (
    "verify recovery closure evidence for each failed connector provider",
    "review retry execution trends before enabling promoted Go backend mode",
)
COMPARED: Final = (
    "closure_count",
    "execution_count",
    "playbook_provider_count",
    "open_count",
    "breached_count",
)
"""Statistics compared period over period."""
OWNER: Final = "release-governance"


@dataclass(frozen=True)
class RecoveryAnswer:
    """What the recovery source answered for one period."""

    report: Mapping[str, Any]
    escalation_plan: Mapping[str, Any]
    statistics: Mapping[str, Any]

    @classmethod
    def of(cls, result: Mapping[str, Any]) -> RecoveryAnswer:
        return cls(
            report=result.get("report") or {},
            escalation_plan=result.get("escalation_plan") or {},
            statistics=result.get("statistics") or {},
        )


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile (``fraction`` 0..1], or None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return float(ordered[rank - 1])


def median(values: Sequence[float]) -> float | None:
    return float(stats.median(values)) if values else None


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) else 0


def closure_minutes(report: Mapping[str, Any]) -> list[float]:
    """Closure times of the closed recovery rows (minutes from playbook to closure)."""
    return [
        float(row["closure_minutes"])
        for row in report.get("recovery_rows", [])
        if row.get("slo_status") == "closed" and isinstance(row.get("closure_minutes"), int | float)
    ]


def key_risks(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Failed or skipped executions, then SLO breaches (critical), then open recoveries (warning)."""
    failed = _int(report.get("execution_failed_count"))
    breached = _int(report.get("recovery_slo_breached_count"))
    opened = _int(report.get("recovery_open_count"))
    candidates = (
        ("critical", "Retry execution failed or was skipped", failed),
        ("critical", "Connector recovery SLO breached", breached),
        ("warning", "Connector recovery remains open", opened),
    )
    return [
        {"severity": severity, "risk": risk, "count": count, "owner": OWNER}
        for severity, risk, count in candidates
        if count > 0
    ]


def recommended_actions(escalation_count: int) -> list[str]:
    first = FIRST_ACTION_ESCALATE if escalation_count else FIRST_ACTION_ROUTINE
    return [first, *FOLLOW_UP_ACTIONS]


def _change(current: Any, previous: Any) -> dict[str, Any]:
    now, before = _number(current), _number(previous)
    change = None if now is None or before is None else round(now - before, 4)
    ratio = None if change is None or not before else round(change / before, 4)
    return {"current": now, "previous": before, "change": change, "change_ratio": ratio}


def _number(value: Any) -> float | int | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def period_over_period(current: Mapping[str, Any], previous: Mapping[str, Any]) -> dict[str, Any]:
    """This period's statistics against the previous period of the same length."""
    keys = (*COMPARED, "closure_minutes_median", "closure_minutes_p90")
    return {
        "current_window": {"start": current.get("window_start"), "end": current.get("window_end")},
        "previous_window": {"start": previous.get("window_start"), "end": previous.get("window_end")},
        "changes": {key: _change(current.get(key), previous.get(key)) for key in keys},
    }


def _window_statistics(statistics: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "window_start": statistics.get("window_start"),
        "window_end": statistics.get("window_end"),
        **{key: statistics.get(key) for key in (*COMPARED, "closure_minutes_median", "closure_minutes_p90")},
        "closure_state_counts": dict(statistics.get("closure_state_counts") or {}),
        "execution_status_counts": dict(statistics.get("execution_status_counts") or {}),
    }


def executive_report(
    current: RecoveryAnswer,
    previous_statistics: Mapping[str, Any],
    *,
    generated_at: datetime,
    generated_by: str,
    recovery_slo_minutes: int,
) -> dict[str, Any]:
    """The executive recovery report (spec §3.21) with closure-time statistics and period change."""
    report, plan = current.report, current.escalation_plan
    escalation_count = _int(plan.get("escalation_count"))
    critical = _int(plan.get("critical_escalation_count"))
    alert_level = str(plan.get("alert_level") or report.get("alert_level") or "healthy")
    minutes = closure_minutes(report)
    body: dict[str, Any] = {
        "schema_version": EXECUTIVE_REPORT_SCHEMA,
        "product": "CAVRA",
        "generated_by": generated_by,
        "alert_level": alert_level,
        "recovery_slo_minutes": recovery_slo_minutes,
        "recovery_report_id": str(report.get("report_id", "")),
        "escalation_plan_id": str(plan.get("plan_id", "")),
        "executive_summary": {
            "status": alert_level,
            "business_impact": ATTENTION if critical else MONITORED,
            "execution_count": _int(report.get("execution_count")),
            "failed_execution_count": _int(report.get("execution_failed_count")),
            "open_recovery_count": _int(report.get("recovery_open_count")),
            "slo_breached_count": _int(report.get("recovery_slo_breached_count")),
            "escalation_count": escalation_count,
            "closed_recovery_count": _int(report.get("recovery_closed_count")),
            "closure_minutes_median": median(minutes),
            "closure_minutes_p90": percentile(minutes, 0.9),
        },
        "provider_summary": list(report.get("provider_summary", []))[:MAX_RECORD_LIST_ITEMS],
        "closure_trends": list(report.get("closure_trends", []))[:MAX_RECORD_LIST_ITEMS],
        "execution_status_counts": dict(report.get("execution_status_counts") or {}),
        "key_risks": key_risks(report),
        "recommended_actions": recommended_actions(escalation_count),
        "closure_statistics": _window_statistics(current.statistics),
        "previous_closure_statistics": _window_statistics(previous_statistics),
        "period_over_period": period_over_period(current.statistics, previous_statistics),
        "controls": list(CONTROLS),
    }
    executive_report_id = hash_id(EXECUTIVE_REPORT_PREFIX, body)
    return {"executive_report_id": executive_report_id, "generated_at": iso(generated_at), **body}


def counts(report: Mapping[str, Any]) -> dict[str, int]:
    summary = report["executive_summary"]
    return {
        "escalation_count": int(summary["escalation_count"]),
        "failed_execution_count": int(summary["failed_execution_count"]),
        "open_recovery_count": int(summary["open_recovery_count"]),
        "slo_breached_count": int(summary["slo_breached_count"]),
    }


def schedule_run(
    report: Mapping[str, Any],
    *,
    run_id: str,
    window: Window,
    schedule: Mapping[str, Any],
    generated_at: datetime,
    generated_by: str,
    trigger: str,
) -> dict[str, Any]:
    """The schedule run (spec §3.21) embedding ``report``, with the window it covers."""
    return {
        "schema_version": SCHEDULE_RUN_SCHEMA,
        "product": "CAVRA",
        "run_id": run_id,
        "generated_at": iso(generated_at),
        "generated_by": generated_by,
        "trigger": trigger,
        "alert_level": report["alert_level"],
        "schedule": {
            **schedule,
            "window_start": iso(window.start),
            "window_end": iso(window.end),
            "window_minutes": window.minutes,
        },
        "summary": {"executive_report_count": 1, **counts(report)},
        "executive_report_id": report["executive_report_id"],
        "executive_report": dict(report),
        "controls": list(CONTROLS),
    }


def run_id_for(material: Mapping[str, Any]) -> str:
    """A run's id: stable for its command (API) or for its schedule's window (timer)."""
    return hash_id(SCHEDULE_RUN_PREFIX, material)


def delivery_event(run: Mapping[str, Any], *, max_risks: int, generated_by: str) -> dict[str, Any]:
    """The delivery event (spec §3.21); provider payloads are left to the connectors (spec §9)."""
    report = run["executive_report"]
    return {
        "schema_version": DELIVERY_EVENT_SCHEMA,
        "event_type": DELIVERY_EVENT_TYPE,
        "product": "CAVRA",
        "session_id": run["run_id"],
        "run_id": run["run_id"],
        "executive_report_id": run["executive_report_id"],
        "generated_at": run["generated_at"],
        "generated_by": generated_by,
        "alert_level": run["alert_level"],
        "title": title(run["run_id"]),
        "summary": dict(run["summary"]),
        "window": {"start": run["schedule"]["window_start"], "end": run["schedule"]["window_end"]},
        "executive_summary": dict(report["executive_summary"]),
        "key_risks": list(report["key_risks"])[: max(1, max_risks)],
        "recommended_actions": list(report["recommended_actions"]),
        "controls": list(CONTROLS),
    }


def title(run_id: str) -> str:
    return f"CAVRA recovery executive report {run_id or 'scheduled run'}"


def job_id_for(run_id: str, providers: Sequence[str]) -> str:
    """Delivery job id of a run to ``providers`` (a repeat sends nothing twice)."""
    return hash_id("gordackexecdelivery-", {"run_id": run_id, "providers": sorted(providers)})


__all__ = [
    "RecoveryAnswer",
    "closure_minutes",
    "delivery_event",
    "executive_report",
    "job_id_for",
    "key_risks",
    "median",
    "percentile",
    "period_over_period",
    "recommended_actions",
    "run_id_for",
    "schedule_run",
    "title",
]
