"""The metadata records (spec §3.0b) of executive reports, schedule runs and delivery events."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cavra_contracts.evidence import EvidenceRecordV1
from cavra_contracts.executive import DELIVERY_EVENT_KIND, EXECUTIVE_REPORT_KIND, SCHEDULE_RUN_KIND
from cavra_contracts.families import EXECUTIVE_REPORT_SOURCE


def _blocked(summary: Mapping[str, Any]) -> int:
    return int(summary["slo_breached_count"]) + int(summary["failed_execution_count"])


def report_record(report: Mapping[str, Any], at: datetime) -> EvidenceRecordV1:
    """Escalations / breached + failed / open; hoisted ids, alert level and escalation count."""
    summary = report["executive_summary"]
    return EvidenceRecordV1(
        metadata_kind=EXECUTIVE_REPORT_KIND,
        session_id=report["executive_report_id"],
        created_at=at,
        signer=report["generated_by"],
        decision_count=int(summary["escalation_count"]),
        blocked_count=_blocked(summary),
        approval_required_count=int(summary["open_recovery_count"]),
        alert_level=report["alert_level"],
        hoisted={
            "executive_report_id": report["executive_report_id"],
            "recovery_report_id": report["recovery_report_id"],
            "escalation_plan_id": report["escalation_plan_id"],
            "alert_level": report["alert_level"],
            "escalation_count": int(summary["escalation_count"]),
        },
        payload_key="recovery_executive_report",
        payload=dict(report),
    )


def run_record(run: Mapping[str, Any], at: datetime) -> EvidenceRecordV1:
    """1 report / breached + failed / open; hoisted run id, window, alert level and escalation count."""
    summary = run["summary"]
    return EvidenceRecordV1(
        metadata_kind=SCHEDULE_RUN_KIND,
        session_id=run["run_id"],
        created_at=at,
        signer=run["generated_by"],
        decision_count=int(summary["executive_report_count"]),
        blocked_count=_blocked(summary),
        approval_required_count=int(summary["open_recovery_count"]),
        alert_level=run["alert_level"],
        hoisted={
            "run_id": run["run_id"],
            "executive_report_id": run["executive_report_id"],
            "alert_level": run["alert_level"],
            "escalation_count": int(summary["escalation_count"]),
            "cadence": run["schedule"]["cadence"],
            "window_start": run["schedule"]["window_start"],
            "window_end": run["schedule"]["window_end"],
            "trigger": run["trigger"],
        },
        payload_key="recovery_executive_report_schedule_run",
        payload=dict(run),
    )


def delivery_record(
    event: Mapping[str, Any], *, job_id: str, providers: list[str], at: datetime
) -> EvidenceRecordV1:
    """The delivery event a job carries (the delivery service records its outcome)."""
    summary = event["summary"]
    return EvidenceRecordV1(
        metadata_kind=DELIVERY_EVENT_KIND,
        session_id=job_id,
        created_at=at,
        signer=event["generated_by"],
        decision_count=len(providers),
        blocked_count=_blocked(summary),
        approval_required_count=int(summary["open_recovery_count"]),
        providers=providers,
        source=EXECUTIVE_REPORT_SOURCE,
        alert_level=event["alert_level"],
        hoisted={
            "run_id": event["run_id"],
            "executive_report_id": event["executive_report_id"],
            "job_id": job_id,
            "selected_providers": providers,
            "connector_delivery_source": EXECUTIVE_REPORT_SOURCE,
        },
        payload_key="recovery_executive_report_delivery_event",
        payload=dict(event),
    )
