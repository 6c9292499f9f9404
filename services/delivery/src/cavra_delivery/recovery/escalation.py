"""Recovery escalation (spec §3.20, pure): the routes and plan a recovery report implies, the event a
plan's delivery sends, its destinations (the operations channels, never the failing connectors unless
the policy names them) and the metadata records of plans and delivery requests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from cavra_contracts.deliveries import DeliveryTargetV1, FactV1, MessageContentV1
from cavra_contracts.evidence import MAX_RECORD_LIST_ITEMS, PRODUCT, EvidenceRecordV1
from cavra_contracts.families import RECOVERY_ESCALATION_SOURCE
from cavra_contracts.recovery import (
    ESCALATION_DELIVERY_KIND,
    ESCALATION_EVENT_TYPE,
    ESCALATION_JOB_PREFIX,
    ESCALATION_PLAN_KIND,
    ESCALATION_PLAN_PREFIX,
    ESCALATION_PLAN_SCHEMA,
)
from cavra_contracts.timestamps import iso
from cavra_contracts.vocabulary import AlertLevel, normalize_providers
from cavra_delivery.connectors.providers import normalise_type

from . import domain

MAX_PLAN_ROUTES: Final = 100
"""Routes a stored plan carries (most urgent first); its counts cover every route."""
REVIEW_REQUIRED: Final = "review_required"


class NoDestination(ValueError):
    """No operations channel is left to deliver to (the message names the field)."""


def recovery_route(row: Mapping[str, Any]) -> dict[str, Any]:
    """A breached or open recovery row as an escalation route."""
    breached = bool(row["slo_breached"])
    return {
        "provider": row["provider"],
        "category": row["category"],
        "severity": "critical" if breached else "warning",
        "reason": "recovery SLO breached" if breached else "connector recovery remains open",
        "recommended_action": (
            "page release owner and require executive visibility"
            if breached
            else "notify release owner for recovery follow-up"
        ),
        "playbook_id": row["playbook_id"],
        "closure_state": row["closure_state"],
        "age_minutes": row["age_minutes"],
        "recovery_slo_minutes": row["recovery_slo_minutes"],
        "failure_count": row["failure_count"],
        "slo_status": row["slo_status"],
        "slo_breached": breached,
    }


def review_route(summary: Mapping[str, Any], slo_minutes: int) -> dict[str, Any]:
    """A provider with failed or skipped retry executions: a ``review_required`` route."""
    failed = int(summary["execution_failed_count"]) + int(summary["execution_skipped_count"])
    return {
        "provider": summary["provider"],
        "category": "retry-execution",
        "severity": "critical",
        "reason": "failed or skipped retry execution",
        "recommended_action": "notify release owner and verify connector recovery closure evidence",
        "playbook_id": "",
        "closure_state": REVIEW_REQUIRED,
        "age_minutes": None,
        "recovery_slo_minutes": slo_minutes,
        "failure_count": failed,
        "slo_status": REVIEW_REQUIRED,
        "slo_breached": False,
    }


def _urgency(route: Mapping[str, Any]) -> tuple[bool, int, int]:
    return route["severity"] == "critical", int(route["failure_count"]), int(route["age_minutes"] or 0)


def routes(
    candidates: Sequence[Mapping[str, Any]], summary: Sequence[Mapping[str, Any]], slo: int
) -> list[dict[str, Any]]:
    """Open/breached rows and review-required providers, most urgent first (critical, failures, age)."""
    found = [recovery_route(row) for row in candidates if row["slo_status"] in ("open", "breached")]
    found += [
        review_route(s, slo)
        for s in summary
        if int(s["execution_failed_count"]) + int(s["execution_skipped_count"])
    ]
    return sorted(found, key=_urgency, reverse=True)


def plan_document(
    report: Mapping[str, Any],
    candidates: Sequence[Mapping[str, Any]],
    *,
    generated_by: str,
    plan_id: str | None = None,
) -> dict[str, Any]:
    """The §3.20 plan of ``report``; ``plan_id`` defaults to a hash of its content (computed plans)."""
    slo = int(report["recovery_slo_minutes"])
    all_routes = routes(candidates, report["provider_summary"], slo)
    reviews = sum(1 for r in all_routes if r["slo_status"] == REVIEW_REQUIRED)
    breached = int(report["recovery_slo_breached_count"])
    open_rows = int(report["recovery_open_count"])
    escalation_count = open_rows + reviews
    critical = breached + reviews
    selected = sorted(
        {
            s["provider"]
            for s in report["provider_summary"]
            if s["open_recovery_count"] or s["execution_failed_count"] or s["execution_skipped_count"]
        }
    )
    alert: AlertLevel = "critical" if critical else ("warning" if escalation_count else "healthy")
    rows = int(report["recovery_playbook_provider_count"])
    kept = all_routes[:MAX_PLAN_ROUTES]
    if plan_id is None:
        plan_id = domain.content_id(
            ESCALATION_PLAN_PREFIX,
            {
                "generated_at": report["generated_at"],
                "recovery_report_id": report["report_id"],
                "routes": kept,
            },
        )
    return {
        "schema_version": ESCALATION_PLAN_SCHEMA,
        "product": PRODUCT,
        "plan_id": plan_id,
        "generated_at": report["generated_at"],
        "generated_by": generated_by,
        "alert_level": alert,
        "recovery_slo_minutes": slo,
        "recovery_report_id": report["report_id"],
        "escalation_count": escalation_count,
        "critical_escalation_count": critical,
        "slo_breached_count": breached,
        "failed_execution_count": int(report["execution_failed_count"]),
        "open_recovery_count": open_rows,
        "provider_count": len(selected),
        "selected_providers": selected,
        "escalation_routes": kept,
        "executive_summary": {
            "status": alert,
            "tracked_provider_count": len(report["provider_summary"]),
            "execution_count": int(report["execution_count"]),
            "failed_execution_count": int(report["execution_failed_count"]),
            "open_recovery_count": open_rows,
            "slo_breached_count": breached,
            "closure_rate": round(int(report["recovery_closed_count"]) / rows, 4) if rows else None,
        },
        "controls": list(domain.CONTROLS),
    }


def plan_record(plan: Mapping[str, Any], at: datetime) -> EvidenceRecordV1:
    """escalation_count / critical_escalation_count / open_recovery_count."""
    payload = dict(plan)
    payload["escalation_routes"] = list(plan["escalation_routes"][:MAX_RECORD_LIST_ITEMS])
    return EvidenceRecordV1(
        metadata_kind=ESCALATION_PLAN_KIND,
        session_id=plan["plan_id"],
        created_at=at,
        signer=plan["generated_by"],
        decision_count=plan["escalation_count"],
        blocked_count=plan["critical_escalation_count"],
        approval_required_count=plan["open_recovery_count"],
        plan_id=plan["plan_id"],
        providers=list(plan["selected_providers"][:64]),
        alert_level=plan["alert_level"],
        hoisted={
            key: plan[key]
            for key in (
                "plan_id",
                "recovery_report_id",
                "alert_level",
                "escalation_count",
                "slo_breached_count",
                "failed_execution_count",
                "selected_providers",
            )
        },
        payload_key="recovery_escalation_plan",
        payload=payload,
    )


def destinations(
    requested: str, policy: Sequence[str], routable: Sequence[str], plan: Mapping[str, Any]
) -> list[str]:
    """Where a plan goes: the body's ``provider``, else the policy's channels, else every routable
    channel except the plan's failing connectors. ``NoDestination`` when none is left."""
    named = normalize_providers(p for p in requested.split(",") if p.strip()) if requested.strip() else []
    if named:
        return named
    if policy:
        return normalize_providers(policy)
    failing = {normalise_type(p) for p in plan["selected_providers"]}
    chosen = [p for p in normalize_providers(routable) if normalise_type(p) not in failing]
    if not chosen:
        raise NoDestination("no operations channel is configured besides the failing connectors")
    return chosen


def job_id(plan_id: str, providers: Sequence[str]) -> str:
    """Stable per (plan, destinations): asking twice sends nothing twice."""
    return domain.content_id(ESCALATION_JOB_PREFIX, {"plan_id": plan_id, "providers": sorted(providers)})


def event(plan: Mapping[str, Any], max_routes: int) -> dict[str, Any]:
    """The §3.20 event (no provider payloads: connectors use their default bodies)."""
    return {
        "event_type": ESCALATION_EVENT_TYPE,
        "product": PRODUCT,
        "event_id": plan["plan_id"],
        "generated_at": plan["generated_at"],
        "generated_by": plan["generated_by"],
        "alert_level": plan["alert_level"],
        "summary": plan["executive_summary"],
        "escalation_count": plan["escalation_count"],
        "critical_escalation_count": plan["critical_escalation_count"],
        "slo_breached_count": plan["slo_breached_count"],
        "failed_execution_count": plan["failed_execution_count"],
        "open_recovery_count": plan["open_recovery_count"],
        "routes": list(plan["escalation_routes"][: max(1, max_routes)]),
        "controls": list(plan["controls"]),
    }


def content(plan: Mapping[str, Any], max_routes: int) -> MessageContentV1:
    """What each operations channel is sent: the event as data, with a title and facts."""
    level = plan["alert_level"]
    return MessageContentV1(
        kind="recovery_escalation",
        event_type=ESCALATION_EVENT_TYPE,
        title=f"CAVRA recovery escalation {level}: {plan['plan_id']}",
        text=(
            f"{plan['escalation_count']} recovery escalation(s): "
            f"{plan['slo_breached_count']} SLO breach(es), "
            f"{plan['failed_execution_count']} failed or skipped retry execution(s), "
            f"{plan['open_recovery_count']} open recovery row(s)."
        ),
        severity=level,
        facts=[
            FactV1(title="Plan", value=plan["plan_id"]),
            FactV1(title="Alert level", value=level),
            FactV1(title="Escalations", value=str(plan["escalation_count"])),
            FactV1(title="SLO breached", value=str(plan["slo_breached_count"])),
            FactV1(title="Failed executions", value=str(plan["failed_execution_count"])),
            FactV1(title="Failing connectors", value=", ".join(plan["selected_providers"])[:2000] or "none"),
        ],
        data=event(plan, max_routes),
    )


def targets(plan_id: str, providers: Sequence[str]) -> list[DeliveryTargetV1]:
    return [DeliveryTargetV1(target_key=p, provider=p, plan_id=plan_id) for p in providers]


def delivery_record(
    plan: Mapping[str, Any], job: str, providers: Sequence[str], *, at: datetime, by: str
) -> EvidenceRecordV1:
    """The request to deliver a plan (the pipeline's ``release-connector-delivery`` record follows)."""
    return EvidenceRecordV1(
        metadata_kind=ESCALATION_DELIVERY_KIND,
        session_id=job,
        created_at=at,
        signer=by,
        decision_count=len(providers),
        plan_id=plan["plan_id"],
        providers=list(providers),
        source=RECOVERY_ESCALATION_SOURCE,
        alert_level=plan["alert_level"],
        hoisted={"job_id": job, "plan_id": plan["plan_id"], "selected_providers": list(providers)},
        payload_key="recovery_escalation_delivery",
        payload={
            "job_id": job,
            "plan_id": plan["plan_id"],
            "providers": list(providers),
            "source": RECOVERY_ESCALATION_SOURCE,
            "requested_at": iso(at),
            "requested_by": by,
        },
    )
