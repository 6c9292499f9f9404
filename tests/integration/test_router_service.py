"""Router end to end: scheduler readiness change -> plan (once) -> route history and suppression trends."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from cavra_contracts.envelope import make_envelope
from cavra_contracts.notifications import NotificationPlannedV1
from cavra_contracts.scheduler import ScheduleEvaluatedV1
from tests.support.harness import (
    FakeClock,
    eventually,
    gateway_client,
    running_service,
    stored_events,
)

BASE = "/runtime/go-pilot"


def stale_schedule() -> dict[str, Any]:
    return {
        "schema_version": "cavra.go-backend-rollback-drill-schedule.v1",
        "interval_days": 30,
        "next_due_at": "2026-10-25T00:00:00Z",
        "owners": ["release-governance", "platform"],
        "notification_providers": ["slack", "teams"],
        "owner_routes": {
            "platform": {
                "providers": ["webhook"],
                "acknowledgement_minutes": 15,
                "escalation_owner": "platform-lead",
            }
        },
        "maintenance_windows": [
            {
                "window_id": "change-freeze",
                "start_at": "2026-11-01T00:00:00Z",
                "end_at": "2026-11-02T00:00:00Z",
                "providers": ["slack"],
            }
        ],
        "owner_calendars": {
            "platform": {
                "unavailable_windows": [
                    {
                        "start_at": "2026-11-01T06:00:00Z",
                        "end_at": "2026-11-01T18:00:00Z",
                        "reason": "regional holiday",
                    }
                ]
            }
        },
        "runbook_ref": "docs/runbook.md",
    }


async def plans(nats_url: str) -> list[dict[str, Any]]:
    return [e.payload for e in await stored_events(nats_url, NotificationPlannedV1.MESSAGE.subject)]


async def test_stale_schedule_is_planned_once_with_window_and_calendar_suppression(
    nats_url: str, database_url: str
) -> None:
    clock = FakeClock()  # 2026-11-01T12:00Z: inside the freeze and the holiday
    fast = {"query_timeout_seconds": 0.3}
    async with (
        running_service("scheduler", nats_url, database_url, clock=clock),
        running_service("router", nats_url, database_url, clock=clock, **fast) as router,
        gateway_client(nats_url, database_url, services=("scheduler", "router")) as api,
    ):
        created = await api.put(f"{BASE}/rollback-drill-schedules/monthly", json=stale_schedule())
        assert created.json()["schedule"]["status"] == "needs_attention"

        async def one_plan() -> bool:
            return len(await plans(nats_url)) == 1

        await eventually(one_plan, what="the automatic plan")
        planned = (await plans(nats_url))[0]
        plan = planned["plan"]
        assert planned["trigger"] == "schedule_evaluated"
        assert plan["plan_id"].startswith("gordn-")
        assert plan["alert_level"] == "critical"
        decisions = {(d["owner"], d["provider"]): d for d in plan["route_decisions"]}
        assert decisions[("release-governance", "slack")]["category"] == "maintenance_window"
        assert decisions[("release-governance", "teams")]["action"] == "deliver"
        assert decisions[("platform", "webhook")]["category"] == "owner_calendar"
        assert decisions[("platform", "webhook")]["reason"] == "regional holiday"
        assert decisions[("platform", "webhook")]["acknowledgement_minutes"] == 15
        assert (plan["maintenance_suppressed_count"], plan["calendar_suppressed_count"]) == (1, 1)
        assert plan["selected_providers"] == ["teams"]
        assert plan["unconfigured_providers"] == [], "the delivery service did not answer: not checked"

        # The same readiness and due date reported again (a flapping evaluation) plans nothing new.
        echo = ScheduleEvaluatedV1.model_validate(
            (await stored_events(nats_url, ScheduleEvaluatedV1.MESSAGE.subject))[0].payload
        )
        await router.bus.publish(make_envelope(echo, producer="test"))
        await asyncio.sleep(0.8)
        assert len(await plans(nats_url)) == 1

        history = (await api.get(f"{BASE}/rollback-drill-notifications/routes")).json()
        assert history["schema_version"] == "cavra.go-backend-pilot.rollback-drill-routing-history.v1"
        assert history["total"] == 3
        by_owner = (
            await api.get(
                f"{BASE}/rollback-drill-notifications/routes",
                params={"owner": "PLATFORM-LEAD", "category": "owner_calendar"},
            )
        ).json()
        assert by_owner["total"] == 1
        row = by_owner["items"][0]
        assert (row["owner"], row["escalation_owner"], row["provider"]) == (
            "platform",
            "platform-lead",
            "webhook",
        )
        assert row["owner_available"] is False and row["owner_availability_reason"] == "regional holiday"
        windows = (
            await api.get(
                f"{BASE}/rollback-drill-notifications/routes",
                params={"action": "suppress", "category": "maintenance_window"},
            )
        ).json()
        assert [r["maintenance_window_id"] for r in windows["items"]] == ["change-freeze"]
        paged = (
            await api.get(f"{BASE}/rollback-drill-notifications/routes", params={"limit": 2, "offset": 2})
        ).json()
        assert (paged["total"], len(paged["items"])) == (3, 1)
        bad = await api.get(f"{BASE}/rollback-drill-notifications/routes", params={"category": "nonsense"})
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "query.category"

        first = (await api.get(f"{BASE}/rollback-drill-notifications/suppression-trends")).json()
        trend = first["trend"]
        assert trend["suppression_event_count"] == 2
        assert trend["category_counts"] == {"maintenance_window": 1, "owner_calendar": 1}
        assert trend["owner_counts"] == {"platform": 1, "release-governance": 1}
        assert first["metadata"]["metadata_kind"] == "go-backend-rollback-drill-routing-suppression-trend"
        second = (await api.get(f"{BASE}/rollback-drill-notifications/suppression-trends")).json()
        assert second["trend"]["trend_id"] == trend["trend_id"]
        only_platform = (
            await api.get(
                f"{BASE}/rollback-drill-notifications/suppression-trends", params={"owner": "platform"}
            )
        ).json()
        assert only_platform["trend"]["trend_id"] != trend["trend_id"]

    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM router.suppression_trends") == 2, (
            "an unchanged read writes nothing"
        )
        assert await conn.fetchval("SELECT count(*) FROM router.plans") == 1
    finally:
        await conn.close()


async def test_a_healthy_schedule_is_not_planned(nats_url: str, database_url: str) -> None:
    clock = FakeClock()
    async with (
        running_service("scheduler", nats_url, database_url, clock=clock),
        running_service("router", nats_url, database_url, clock=clock, query_timeout_seconds=0.3),
        gateway_client(nats_url, database_url, services=("scheduler", "router")) as api,
    ):
        healthy = stale_schedule() | {"next_due_at": "2027-01-01T00:00:00Z"}
        assert (await api.put(f"{BASE}/rollback-drill-schedules/later", json=healthy)).status_code == 201
        await asyncio.sleep(0.8)
        assert await plans(nats_url) == []
        clock.advance(days=47)  # 2026-12-18: 14 days before due -> due_soon -> planned

        async def planned() -> bool:
            return len(await plans(nats_url)) == 1

        await eventually(planned, what="a plan once the schedule is due soon")
        assert (await plans(nats_url))[0]["plan"]["status"] == "due_soon"


async def test_a_backlogged_evaluation_the_schedule_has_moved_past_is_not_planned(
    nats_url: str, database_url: str
) -> None:
    clock = FakeClock()
    async with (
        running_service("scheduler", nats_url, database_url, clock=clock),
        gateway_client(nats_url, database_url, services=("scheduler",)) as api,
    ):
        assert (
            await api.put(f"{BASE}/rollback-drill-schedules/behind", json=stale_schedule())
        ).status_code == 201
        proving = {
            "drill_id": "d-proof",
            "schedule_id": "behind",
            "executed_at": "2026-11-01T11:00:00Z",
            "status": "pass",
            "source_mode": "promoted",
            "target_mode": "disabled",
            "fallback_verified": True,
            "runbook_ref": "docs/runbook.md",
        }
        assert (await api.post(f"{BASE}/rollback-drills", json=proving)).status_code == 201
    evaluations = await stored_events(nats_url, ScheduleEvaluatedV1.MESSAGE.subject)
    assert [e.payload["status"] for e in evaluations] == ["needs_attention", "ready"]
    async with (
        running_service("scheduler", nats_url, database_url, clock=clock),
        running_service("router", nats_url, database_url, clock=clock),
    ):

        async def both_seen() -> bool:
            conn = await asyncpg.connect(database_url)
            try:
                return await conn.fetchval("SELECT count(*) FROM router.inbox") == 2
            finally:
                await conn.close()

        await eventually(both_seen, what="the router to work through its backlog")
    assert await plans(nats_url) == [], "the stale needs_attention evaluation planned nothing"
