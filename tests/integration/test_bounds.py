"""Poisons of issue 6 against the real services: each is refused with a 4xx naming the field,
and the next command is applied at once (nothing is retried inside, nothing is held up).

Before the limits: a 3,000 x 3 schedule was accepted (201) and never delivered; a proving drill
on a schedule with interval_days 3,000,000 raised OverflowError for ~78 s of retries while every
later scheduler command waited; acknowledgement_minutes 99999999999 overflowed the router's
integer column; ``owner=_`` matched every route.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import asyncpg

from cavra_contracts.notifications import NotificationPlannedV1, PlanRejectedV1
from tests.support.fake_providers import unused_url
from tests.support.harness import (
    FakeClock,
    eventually,
    gateway_client,
    running_service,
    stored_events,
)

BASE = "/runtime/go-pilot"
DELIVER = f"{BASE}/rollback-drill-notifications/deliver"


def schedule(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "schema_version": "cavra.go-backend-rollback-drill-schedule.v1",
        "interval_days": 30,
        "next_due_at": "2027-06-01T00:00:00Z",  # healthy: nothing is planned on its own
        "owners": ["release-governance"],
        "notification_providers": ["webhook"],
        "runbook_ref": "docs/runbook.md",
    }
    return body | changes


def owners(count: int) -> list[str]:
    return [f"team-{n}" for n in range(count)]


def fields(response: Any) -> set[str]:
    return {error["field"] for error in response.json()["errors"]}


def connector_file(path: Path) -> str:
    # Nothing listens at these URLs: no test here may send anything.
    connectors = {
        name: {"type": name, "url": unused_url(f"/{name}")} for name in ("webhook", "slack", "teams")
    }
    path.write_text(json.dumps({"connectors": connectors}))
    return str(path)


async def insert_stored_schedule(database_url: str, schedule_id: str, document: dict[str, Any]) -> None:
    """A schedule stored before the limits existed (an older release accepted it)."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            """INSERT INTO scheduler.schedules (schedule_id, document, source, status, state, evaluated_at)
               VALUES ($1, $2::jsonb, 'api', 'ready', '{}'::jsonb, now())""",
            schedule_id,
            json.dumps({"status": "active"} | document | {"schedule_id": schedule_id}),
        )
    finally:
        await conn.close()


async def plan_count(database_url: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM router.plans"))
    finally:
        await conn.close()


async def test_poisoned_requests_are_refused_naming_the_field_and_the_next_command_applies(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    clock = FakeClock()
    async with running_service("scheduler", nats_url, database_url, clock=clock):
        pass  # migrations only, so an old release's schedule can be planted
    await insert_stored_schedule(database_url, "legacy-interval", schedule(interval_days=3_000_000))
    await insert_stored_schedule(
        database_url,
        "legacy-huge",
        schedule(owners=owners(3000), notification_providers=["slack", "teams", "webhook"]),
    )
    long_names = [f"{n:03d}" + "o" * 3000 for n in range(300)]  # 300 routes, but megabytes of names
    await insert_stored_schedule(database_url, "legacy-long", schedule(owners=long_names))
    async with (
        running_service("scheduler", nats_url, database_url, clock=clock),
        running_service("router", nats_url, database_url, clock=clock),
        running_service(
            "delivery", nats_url, database_url, connector_config=connector_file(tmp_path / "c.json")
        ),
        gateway_client(nats_url, database_url, command_wait_seconds=5) as api,
    ):
        put = f"{BASE}/rollback-drill-schedules"
        huge = await api.put(
            f"{put}/huge",
            json=schedule(owners=owners(3000), notification_providers=["slack", "teams", "webhook"]),
        )
        assert huge.status_code == 422, huge.text
        assert fields(huge) == {"owners"}
        wide = await api.put(
            f"{put}/wide",
            json=schedule(owners=owners(200), notification_providers=["slack", "teams", "webhook"]),
        )
        assert wide.status_code == 422 and fields(wide) == {"owners", "notification_providers"}
        assert "600 routes" in wide.json()["detail"]
        interval = await api.put(f"{put}/interval", json=schedule(interval_days=3_000_000))
        assert interval.status_code == 422 and fields(interval) == {"interval_days"}
        slo = await api.put(
            f"{put}/slo",
            json=schedule(owner_routes={"release-governance": {"acknowledgement_minutes": 99_999_999_999}}),
        )
        assert slo.status_code == 422 and fields(slo) == {
            "owner_routes.release-governance.acknowledgement_minutes"
        }
        late = await api.post(
            f"{BASE}/rollback-drills",
            json={"drill_id": "d-late", "executed_at": "9999-12-31T23:00:00-05:00", "status": "pass"},
        )
        assert late.status_code == 422 and fields(late) == {"executed_at"}

        # The drill itself is valid; its schedule (stored by an older release) is the poison.
        proving = {
            "drill_id": "d-proving",
            "schedule_id": "legacy-interval",
            "executed_at": "2026-10-31T12:00:00Z",
            "status": "pass",
            "target_mode": "disabled",
            "fallback_verified": True,
        }
        recorded = await api.post(f"{BASE}/rollback-drills", json=proving)
        assert recorded.status_code == 201, recorded.text
        assert recorded.json()["advanced_schedule_id"] is None, "past the calendar: left where it is"
        applied = await api.put(f"{put}/monthly", json=schedule(owners=owners(200)))
        assert applied.status_code == 201, "the next command is applied at once, not after retries"

        too_slow = await api.post(
            DELIVER,
            json={
                "schedule_id": "monthly",
                "routing_policy": {"owner_routes": {"team-1": {"acknowledgement_minutes": 99_999_999_999}}},
            },
        )
        assert too_slow.status_code == 422, too_slow.text
        assert fields(too_slow) == {"routing_policy.owner_routes.team-1.acknowledgement_minutes"}

        widened = await api.post(
            DELIVER,
            json={
                "schedule_id": "monthly",
                "force": True,
                "routing_policy": {"owner_routes": [{"providers": ["slack", "teams", "webhook"]}]},
            },
        )
        assert widened.status_code == 422, widened.text
        assert fields(widened) == {"routing_policy.owner_routes"}
        assert "600 routes; a plan holds at most 500" in widened.json()["detail"]

        legacy = await api.post(DELIVER, json={"schedule_id": "legacy-huge", "force": True})
        assert legacy.status_code == 422, legacy.text
        assert fields(legacy) == {"owners"}
        heavy = await api.post(DELIVER, json={"schedule_id": "legacy-long", "force": True})
        assert heavy.status_code == 422, heavy.text
        assert fields(heavy) == {"owners"} and "an event holds at most 921600" in heavy.json()["detail"]

        within = await api.post(DELIVER, json={"schedule_id": "monthly"})
        assert within.status_code == 200, within.text
        assert len(within.json()["plan"]["route_decisions"]) == 200

    assert len(await stored_events(nats_url, PlanRejectedV1.MESSAGE.subject)) == 3
    planned = await stored_events(nats_url, NotificationPlannedV1.MESSAGE.subject)
    assert [(e.payload["trigger"], e.payload["plan"]["schedule_id"]) for e in planned] == [("api", "monthly")]
    assert await plan_count(database_url) == 1, "a rejected plan is never stored"


async def test_an_automatic_plan_over_the_limit_is_rejected_not_published(
    nats_url: str, database_url: str
) -> None:
    clock = FakeClock()
    async with running_service("scheduler", nats_url, database_url, clock=clock):
        pass
    stale = schedule(
        next_due_at="2026-10-01T00:00:00Z", owners=owners(3000), notification_providers=["a", "b"]
    )
    await insert_stored_schedule(database_url, "legacy-stale", stale)
    conn = await asyncpg.connect(database_url)
    try:  # let the timer re-evaluate it now: needs_attention -> automatic plan
        await conn.execute("UPDATE scheduler.schedules SET due_at = '2026-01-01T00:00:00Z'")
    finally:
        await conn.close()
    async with (
        running_service("scheduler", nats_url, database_url, clock=clock),
        running_service("router", nats_url, database_url, clock=clock, query_timeout_seconds=0.3),
    ):

        async def rejected() -> bool:
            return len(await stored_events(nats_url, PlanRejectedV1.MESSAGE.subject)) == 1

        await eventually(rejected, what="the automatic plan's rejection")
    event = (await stored_events(nats_url, PlanRejectedV1.MESSAGE.subject))[0].payload
    assert event["status_code"] == 422 and event["problems"][0]["field"] == "owners"
    assert await stored_events(nats_url, NotificationPlannedV1.MESSAGE.subject) == []
    assert await plan_count(database_url) == 0


async def test_the_owner_filter_is_a_plain_substring_not_a_like_pattern(
    nats_url: str, database_url: str
) -> None:
    clock = FakeClock()
    async with (
        running_service("scheduler", nats_url, database_url, clock=clock),
        running_service("router", nats_url, database_url, clock=clock, query_timeout_seconds=0.3),
        gateway_client(nats_url, database_url, services=("scheduler", "router")) as api,
    ):
        stale = schedule(next_due_at="2026-10-25T00:00:00Z", owners=["ops_team", "release-governance", "A%B"])
        assert (await api.put(f"{BASE}/rollback-drill-schedules/monthly", json=stale)).status_code == 201

        async def planned() -> bool:
            return len(await stored_events(nats_url, NotificationPlannedV1.MESSAGE.subject)) == 1

        await eventually(planned, what="the automatic plan")
        routes = f"{BASE}/rollback-drill-notifications/routes"

        async def owners_matching(text: str) -> list[str]:
            found = (await api.get(routes, params={"owner": text})).json()["items"]
            return sorted(row["owner"] for row in found)

        assert await owners_matching("") == ["A%B", "ops_team", "release-governance"]
        assert await owners_matching("_") == ["ops_team"]
        assert await owners_matching("%") == ["A%B"]
        assert await owners_matching("a%b") == ["A%B"], "still case-insensitive"
        assert await owners_matching("\\") == []
        assert await owners_matching("s_t") == ["ops_team"]
        assert await owners_matching("e_g") == []
        trend = await api.get(
            f"{BASE}/rollback-drill-notifications/suppression-trends", params={"owner": "_"}
        )
        assert trend.status_code == 200
