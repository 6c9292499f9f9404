"""Metadata records auditors know from the original evidence store (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PLAN_KIND = "go-backend-rollback-drill-notification-plan"
TREND_KIND = "go-backend-rollback-drill-routing-suppression-trend"


def plan_metadata(plan: Mapping[str, Any]) -> dict[str, Any]:
    """The ``go-backend-rollback-drill-notification-plan`` record of a plan."""
    return {
        "schema_version": "cavra.evidence.metadata.v1",
        "product": "CAVRA",
        "session_id": plan["plan_id"],
        "created_at": plan["generated_at"],
        "signer": plan["generated_by"],
        "decision_count": len(plan["eligible_providers"]),
        "blocked_count": 1 if plan["alert_level"] == "critical" else 0,
        "approval_required_count": 1 if plan["alert_level"] == "warning" else 0,
        "metadata_kind": PLAN_KIND,
        "plan_id": plan["plan_id"],
        "schedule_id": plan["schedule_id"],
        "alert_level": plan["alert_level"],
        "selected_providers": plan["selected_providers"],
        "acknowledgement_required_providers": plan["acknowledgement_required_providers"],
        "unconfigured_providers": plan["unconfigured_providers"],
        "deliverable_route_count": plan["deliverable_route_count"],
        "suppressed_route_count": plan["suppressed_route_count"],
        "maintenance_suppressed_count": plan["maintenance_suppressed_count"],
        "calendar_suppressed_count": plan["calendar_suppressed_count"],
        "healthy_suppressed_count": plan["healthy_suppressed_count"],
    }


def trend_metadata(trend: Mapping[str, Any], created_at: str) -> dict[str, Any]:
    """The ``go-backend-rollback-drill-routing-suppression-trend`` record of a trend."""
    count = int(trend["suppression_event_count"])
    return {
        "schema_version": "cavra.evidence.metadata.v1",
        "product": "CAVRA",
        "session_id": trend["trend_id"],
        "created_at": created_at,
        "signer": trend["generated_by"],
        "decision_count": count,
        "blocked_count": count,
        "approval_required_count": 0,
        "metadata_kind": TREND_KIND,
        "trend_id": trend["trend_id"],
        "alert_level": trend["alert_level"],
        "suppression_event_count": count,
        "maintenance_suppressed_count": trend["maintenance_suppressed_count"],
        "calendar_suppressed_count": trend["calendar_suppressed_count"],
    }
