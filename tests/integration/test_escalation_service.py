"""Escalation end to end with a controllable clock: plan -> no ack -> warning -> critical at the SLO
(inclusive) -> one DeliverMessageV1 to the escalation owner -> ack -> healthy; acks that come first,
reminders, superseding plans, and two replicas escalating each breach once."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import Any

import asyncpg
import httpx

from cavra_contracts.base import Contract
from cavra_contracts.deliveries import ESCALATION_SOURCE, DeliverMessageV1
from cavra_contracts.envelope import make_envelope
from cavra_contracts.escalations import EscalationCancelledV1, RouteEscalatedV1
from cavra_runtime.service import Runtime
from tests.support.escalations import acknowledged, deliver_jobs, planned
from tests.support.harness import FakeClock, eventually, gateway_client, running_service, stored_events

BASE = "/runtime/go-pilot/rollback-drill-notifications"
FAST = {"escalation_tick_seconds": 0.05}
POLICY = {
    "owner_routes": {
        "release-governance": {
            "providers": ["slack"],
            "acknowledgement_minutes": 30,
            "escalation_owner": "release-manager",
        },
        "release-manager": {"providers": ["teams", "webhook"]},
    }
}


async def publish(runtime: Runtime, contract: Contract, producer: str) -> None:
    await runtime.bus.publish(make_envelope(contract, producer=producer))


async def escalation_plan(api: httpx.AsyncClient, policy: dict[str, Any] | None = None) -> dict[str, Any]:
    response = await api.post(f"{BASE}/escalation-plan", json={"policy": policy or {}})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def jobs(nats_url: str, kind: str | None = None) -> list[DeliverMessageV1]:
    return [job for job in await deliver_jobs(nats_url) if kind is None or job.job_id.startswith(kind)]


async def test_unacknowledged_route_warns_then_escalates_once_at_its_slo_then_an_ack_clears_it(
    nats_url: str, database_url: str
) -> None:
    clock = FakeClock()
    async with (
        running_service("escalation", nats_url, database_url, clock=clock, **FAST) as service,
        gateway_client(nats_url, database_url, services=("escalation",)) as api,
    ):
        plan = planned("monthly", now=clock(), routing_policy=POLICY)
        (route,) = plan.plan.deliverable()
        assert (route.escalation_owner, route.escalation_providers) == (
            "release-manager",
            ["teams", "webhook"],
        )
        await publish(service, plan, "router")

        async def tracked() -> bool:
            return (await escalation_plan(api))["plan"]["route_count"] == 1

        await eventually(tracked, what="the plan's route tracked")
        clock.advance(minutes=29, seconds=59)
        warning = (await escalation_plan(api))["plan"]
        assert (warning["alert_level"], warning["outstanding_count"], warning["breached_count"]) == (
            "warning",
            1,
            0,
        )
        row = warning["routes"][0]
        assert (row["route_id"], row["acknowledgement_state"], row["recommended_action"]) == (
            route.route_id,
            "outstanding",
            "wait_for_acknowledgement",
        )
        assert (row["age_minutes"], row["acknowledgement_minutes"]) == (29.98, 30)

        clock.advance(seconds=1)  # age == SLO: breached (inclusive)

        async def escalated() -> bool:
            return len(await jobs(nats_url)) == 1

        await eventually(escalated, what="the escalation job")
        (job,) = await jobs(nats_url)
        assert job.job_id == f"escalation-{route.route_id}"
        assert job.source == ESCALATION_SOURCE and job.ack_links
        assert [(t.provider, t.owner, t.route_id) for t in job.targets] == [
            ("teams", "release-manager", route.route_id),
            ("webhook", "release-manager", route.route_id),
        ]
        assert job.content.severity == "critical"
        assert job.content.data["age_minutes"] == 30.0 and job.content.data["acknowledgement_minutes"] == 30
        assert {fact.title: fact.value for fact in job.content.facts}["Owner"] == "release-governance"
        critical = (await escalation_plan(api))["plan"]
        assert (critical["alert_level"], critical["breached_count"]) == ("critical", 1)
        assert critical["routes"][0]["recommended_action"] == "escalate_missed_drill_notification"

        clock.advance(minutes=30)
        await asyncio.sleep(0.3)  # many timer ticks past the breach: still one escalation
        assert len(await jobs(nats_url)) == 1
        events = await stored_events(nats_url, RouteEscalatedV1.MESSAGE.subject)
        assert [(e.payload["kind"], e.payload["route_id"]) for e in events] == [
            ("escalation", route.route_id)
        ]

        await publish(service, acknowledged(plan, at=clock()), "acknowledgement")

        async def healthy() -> bool:
            return (await escalation_plan(api))["plan"]["alert_level"] == "healthy"

        await eventually(healthy, what="the ack to clear the route")
        cleared = (await escalation_plan(api))["plan"]
        assert cleared["routes"][0]["acknowledged"] is True
        assert cleared["routes"][0]["recommended_action"] == "no_action"


async def test_an_ack_before_the_slo_cancels_the_escalation(nats_url: str, database_url: str) -> None:
    clock = FakeClock()
    async with running_service("escalation", nats_url, database_url, clock=clock, **FAST) as service:
        acked = planned("acked", now=clock(), routing_policy=POLICY)
        early = planned("early", now=clock(), routing_policy=POLICY)
        control = planned("control", now=clock(), routing_policy=POLICY)
        (acked_route,) = acked.plan.deliverable()
        (early_route,) = early.plan.deliverable()
        # An ack that reaches the service before its plan (a consumer behind) counts all the same.
        await publish(service, acknowledged(early, at=clock()), "acknowledgement")
        await eventually(
            lambda: _has(database_url, "acknowledgements", early_route.route_id), what="the early ack kept"
        )
        for plan in (acked, early, control):
            await publish(service, plan, "router")
        await eventually(lambda: _has(database_url, "routes", acked_route.route_id), what="the route tracked")
        clock.advance(minutes=10)
        await publish(service, acknowledged(acked, at=clock()), "acknowledgement")

        async def cancelled() -> bool:
            return bool(await stored_events(nats_url, EscalationCancelledV1.MESSAGE.subject))

        await eventually(cancelled, what="the cancelled escalation")
        (event,) = await stored_events(nats_url, EscalationCancelledV1.MESSAGE.subject)
        assert event.payload["route_id"] == acked_route.route_id
        assert event.payload["cancelled"] == ["escalation"]

        await eventually(
            lambda: _has(database_url, "routes", control.plan.deliverable()[0].route_id), what="all tracked"
        )
        clock.advance(minutes=60)

        async def control_escalated() -> bool:
            return len(await jobs(nats_url)) >= 1

        await eventually(control_escalated, what="the control route's escalation")
        assert [job.targets[0].route_id for job in await jobs(nats_url)] == [
            control.plan.deliverable()[0].route_id
        ]


async def _has(database_url: str, table: str, route_id: str) -> bool:
    conn = await asyncpg.connect(database_url)
    try:
        sql = f"SELECT count(*) FROM escalation.{table} WHERE route_id = $1"
        return bool(await conn.fetchval(sql, route_id))
    finally:
        await conn.close()


async def test_reminder_minutes_remind_the_owner_once_before_the_breach(
    nats_url: str, database_url: str
) -> None:
    clock = FakeClock()
    policy = {"owner_routes": {"release-governance": {"acknowledgement_minutes": 30, "reminder_minutes": 10}}}
    async with running_service("escalation", nats_url, database_url, clock=clock, **FAST) as service:
        plan = planned("reminded", now=clock(), routing_policy=policy)
        (route,) = plan.plan.deliverable()
        assert (route.reminder_minutes, route.escalation_providers) == (10, [])
        await publish(service, plan, "router")
        await eventually(lambda: _has(database_url, "routes", route.route_id), what="the route tracked")
        clock.advance(minutes=10)

        async def reminded() -> bool:
            return len(await jobs(nats_url, "reminder")) == 1

        await eventually(reminded, what="the reminder")
        (reminder,) = await jobs(nats_url)
        assert [(t.provider, t.owner) for t in reminder.targets] == [("slack", "release-governance")]
        assert reminder.content.severity == "warning"

        clock.advance(minutes=20)

        async def escalated() -> bool:
            return len(await jobs(nats_url, "escalation")) == 1

        await eventually(escalated, what="the escalation")
        (escalation,) = await jobs(nats_url, "escalation")
        # No escalation rule for the escalation owner: the route's own provider.
        assert [(t.provider, t.owner) for t in escalation.targets] == [("slack", "release-governance")]
        assert len(await jobs(nats_url, "reminder")) == 1
        kinds = [e.payload["kind"] for e in await stored_events(nats_url, RouteEscalatedV1.MESSAGE.subject)]
        assert kinds == ["reminder", "escalation"]


async def test_a_newer_plan_supersedes_the_older_plans_routes(nats_url: str, database_url: str) -> None:
    clock = FakeClock()
    async with (
        running_service("escalation", nats_url, database_url, clock=clock, **FAST) as service,
        gateway_client(nats_url, database_url, services=("escalation",)) as api,
    ):
        older = planned("monthly", now=clock(), routing_policy=POLICY)
        await publish(service, older, "router")
        clock.advance(minutes=5)
        newer = planned(
            "monthly", now=clock(), owners=("release-governance", "platform"), routing_policy=POLICY
        )
        await publish(service, newer, "router")
        newest_ids = {d.route_id for d in newer.plan.deliverable()}

        async def superseded() -> bool:
            routes = (await escalation_plan(api))["plan"]["routes"]
            return {row["route_id"] for row in routes} == newest_ids

        await eventually(superseded, what="the newer plan to supersede")
        await publish(service, older, "router")  # a late copy of the older plan changes nothing
        clock.advance(minutes=26)  # older route would breach at 30, newer release-governance at 35

        await asyncio.sleep(0.3)
        assert await jobs(nats_url) == []
        clock.advance(minutes=60)  # platform: 60-minute default SLO from plan time 5

        async def both_escalated() -> bool:
            return len(await jobs(nats_url)) == 2

        await eventually(both_escalated, what="the newer plan's escalations")
        assert {job.targets[0].route_id for job in await jobs(nats_url)} == newest_ids
        plan = (await escalation_plan(api))["plan"]
        assert {row["plan_id"] for row in plan["routes"]} == {newer.plan.plan_id}


async def test_two_replicas_escalate_each_breach_exactly_once(nats_url: str, database_url: str) -> None:
    clock = FakeClock()
    plans = [
        planned(f"s-{index:02d}", now=clock(), owners=("a", "b"), providers=("slack",)) for index in range(20)
    ]
    route_ids = {d.route_id for plan in plans for d in plan.plan.deliverable()}
    async with AsyncExitStack() as stack:
        replicas = [
            await stack.enter_async_context(
                running_service("escalation", nats_url, database_url, clock=clock, escalation_batch=3, **FAST)
            )
            for _ in range(2)
        ]
        for index, plan in enumerate(plans):
            await publish(replicas[index % 2], plan, "router")

        async def tracked() -> bool:
            return await _count(database_url, "SELECT count(*) FROM escalation.routes") == 40

        await eventually(tracked, what="every route tracked")
        clock.advance(minutes=60)

        async def all_escalated() -> bool:
            return len(await jobs(nats_url)) >= len(route_ids)

        await eventually(all_escalated, what="every escalation")
        await asyncio.sleep(0.3)
        escalations = await jobs(nats_url)
        assert sorted(job.targets[0].route_id for job in escalations) == sorted(route_ids)
        # Not hidden by JetStream's de-duplication: the outboxes hold one job per route.
        subject = DeliverMessageV1.MESSAGE.subject
        assert (
            await _count(database_url, f"SELECT count(*) FROM escalation.outbox WHERE subject = '{subject}'")
            == 40
        )
        events = await stored_events(nats_url, RouteEscalatedV1.MESSAGE.subject)
        assert len(events) == 40


async def _count(database_url: str, sql: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        return int(await conn.fetchval(sql))
    finally:
        await conn.close()


async def test_the_plan_api_pages_routes_names_bad_fields_and_records_the_actor(
    nats_url: str, database_url: str
) -> None:
    clock = FakeClock()
    async with (
        running_service("escalation", nats_url, database_url, clock=clock, **FAST) as service,
        gateway_client(nats_url, database_url, services=("escalation",)) as api,
    ):
        for name, response in [
            ("policy.acknowledgement_minutes", {"policy": {"acknowledgement_minutes": 0}}),
            (
                "policy.default_slo.acknowledgement_minutes",
                {"policy": {"default_slo": {"acknowledgement_minutes": "x"}}},
            ),
            (
                "policy.owner_routes.a.acknowledgement_minutes",
                {"policy": {"owner_routes": {"a": {"acknowledgement_minutes": 99999}}}},
            ),
            ("route_limit", {"route_limit": 1001}),
            ("policy", {"policy": []}),
        ]:
            answer = await api.post(f"{BASE}/escalation-plan", json=response)
            assert answer.status_code == 422, answer.text
            assert name in {problem["field"] for problem in answer.json()["errors"]}, answer.json()
        anonymous = await api.post(f"{BASE}/escalation-plan", json={}, headers={"Authorization": ""})
        assert anonymous.status_code == 401
        assert await _count(database_url, "SELECT count(*) FROM escalation.escalation_plans") == 0

        plan = planned("monthly", now=clock(), owners=("a", "b", "c"), routing_policy={})
        await publish(service, plan, "router")
        clock.advance(minutes=61)

        async def three() -> bool:
            return (await escalation_plan(api))["plan"]["route_count"] == 3

        await eventually(three, what="three routes")
        answer = await api.post(
            f"{BASE}/escalation-plan", json={"route_limit": 1, "generated_by": "someone-else"}
        )
        body = answer.json()
        assert (body["plan"]["route_count"], len(body["plan"]["routes"])) == (3, 1)
        assert body["plan"]["generated_by"] == "bootstrap-admin", "the actor, not the body"
        assert body["metadata"]["metadata_kind"] == "go-backend-rollback-drill-notification-escalation-plan"
        plan_id = body["plan"]["plan_id"]
        page = (await api.get(f"{BASE}/escalation-plans/{plan_id}", params={"limit": 2, "offset": 1})).json()
        owners = [row["owner"] for row in page["plan"]["routes"]]
        assert owners == ["b", "c"]
        assert (await api.get(f"{BASE}/escalation-plans/gordesc-0000000000000000")).status_code == 404
        assert (
            await api.get(f"{BASE}/escalation-plans/{plan_id}", params={"limit": 1001})
        ).status_code == 422
        generated = await stored_events(nats_url, "cavra.evt.escalation.escalation_plan_generated.v1")
        assert generated[-1].payload["actor"]["actor"] == "bootstrap-admin"
        assert "routes" not in generated[-1].payload
