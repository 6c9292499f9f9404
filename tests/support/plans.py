"""NotificationPlannedV1 events for delivery tests, built by the router's own domain code."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from cavra_contracts.notifications import DeliveryOptions, NotificationPlannedV1
from cavra_router import domain as routing
from cavra_router import planning


def stale_report(schedule_id: str, owners: Sequence[str], providers: Sequence[str]) -> dict[str, Any]:
    """A schedule report the router plans every owner x provider route of (overdue, no windows)."""
    return {
        "status": "needs_attention",
        "mode": "promoted",
        "schedule": {
            "schedule_id": schedule_id,
            "environment": "production-pilot",
            "owners": list(owners),
            "notification_providers": list(providers),
            "owner_routes": {},
            "maintenance_windows": [],
            "owner_calendars": {},
            "next_due_at": "2026-10-01T00:00:00+00:00",
            "days_until_due": -30.0,
            "stale": True,
            "due_soon": False,
            "interval_days": 30.0,
            "runbook_ref": "docs/runbook.md",
        },
        "history": {"latest_drill_id": "", "latest_executed_at": "", "evidence_refs": []},
    }


def planned(
    index: int,
    *,
    owners: Sequence[str] = ("team-0",),
    providers: Sequence[str] = ("hook_a",),
    delivery: DeliveryOptions | None = None,
) -> NotificationPlannedV1:
    """Plan ``gordn-<index>`` of schedule ``s-<index>``: one deliverable route per owner x provider."""
    now = datetime(2026, 11, 1, 12, tzinfo=UTC)
    report = stale_report(f"s-{index:03d}", owners, providers)
    plan = routing.build_notification_plan(
        report,
        plan_id=f"gordn-{index:016x}",
        configured_providers=list(providers),
        generated_by="test",
        now=now,
    )
    event = routing.build_notification_event(report, plan=plan, generated_by="test", now=now)
    planning.history_rows(plan)
    return planning.planned_event(plan, event, trigger="api", delivery=delivery or DeliveryOptions())
