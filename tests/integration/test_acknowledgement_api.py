"""Acknowledgement endpoints end to end: gateway -> NATS -> acknowledgement service -> PostgreSQL.

Plans are published as the router publishes them (NotificationPlannedV1 on CAVRA_EVENTS). Every bad
request is answered with a 4xx naming the field and leaves nothing stored.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from cavra_contracts.acknowledgements import STATE_PROBLEM
from cavra_contracts.envelope import make_envelope
from cavra_contracts.notifications import NotificationPlannedV1
from cavra_runtime.bus import Bus
from tests.support.acks import plan_event
from tests.support.harness import eventually, gateway_client, running_service

NP = "/runtime/go-pilot/rollback-drill-notifications"
NOW = datetime.now(UTC).replace(microsecond=0)


@dataclass
class Stack:
    client: httpx.AsyncClient
    bus: Bus
    database_url: str

    async def plan(self, planned: NotificationPlannedV1) -> NotificationPlannedV1:
        await self.bus.publish(make_envelope(planned, producer="router"))
        plan_id = planned.plan.plan_id

        async def tracked() -> bool:
            return await self.scalar("SELECT count(*) FROM plans WHERE plan_id = $1", plan_id) == 1

        await eventually(tracked, what=f"plan {plan_id} tracked")
        return planned

    async def scalar(self, sql: str, *args: Any) -> Any:
        conn = await asyncpg.connect(self.database_url, server_settings={"search_path": "acknowledgement"})
        try:
            return await conn.fetchval(sql, *args)
        finally:
            await conn.close()

    async def stored(self) -> int:
        return int(await self.scalar("SELECT count(*) FROM acknowledgements"))

    async def states(self, **params: Any) -> dict[str, Any]:
        response = await self.client.get(f"{NP}/acknowledgements/routes", params=params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@asynccontextmanager
async def stack(nats_url: str, database_url: str, **gateway: Any) -> AsyncIterator[Stack]:
    bus = await Bus.connect(nats_url, name="test-router")
    try:
        async with (
            running_service("acknowledgement", nats_url, database_url),
            gateway_client(nats_url, database_url, **gateway) as client,
        ):
            yield Stack(client, bus, database_url)
    finally:
        await bus.close()


def fields(response: httpx.Response) -> list[str]:
    return [problem["field"] for problem in response.json()["errors"]]


async def test_single_ack_covers_the_provider_and_records_the_verified_actor(
    nats_url: str, database_url: str
) -> None:
    async with stack(nats_url, database_url) as s:
        planned = await s.plan(
            plan_event("s1", "gordn-00000000000000b1", NOW, owners=("a", "b"), providers=("slack", "teams"))
        )
        response = await s.client.post(
            f"{NP}/s1/acknowledgements",
            json={
                "provider": "Slack",
                "acknowledged_by": "mallory",
                "external_ref": "CHG-1",
                "acknowledgement_state": " Acknowledged ",
            },
        )
        assert response.status_code == 201, response.text
        body = response.json()
        ack = body["acknowledgement"]
        assert ack["schema_version"] == "cavra.go-backend-pilot.rollback-drill-notification-ack.v1"
        assert ack["acknowledged_by"] == "bootstrap-admin"
        assert ack["plan_id"] == planned.plan.plan_id and ack["provider"] == "slack"
        assert ack["previous_state"] == "outstanding" and ack["external_ref"] == "CHG-1"
        assert body["metadata"]["metadata_kind"] == "go-backend-rollback-drill-notification-ack"
        assert sorted(a["owner"] for a in body["acknowledgements"]) == ["a", "b"]
        assert body["actor"]["method"] == "bootstrap"
        states = await s.states(schedule_id="s1", state="outstanding")
        assert states["total"] == 2 and {r["provider"] for r in states["items"]} == {"teams"}


async def test_bad_input_is_refused_naming_the_field_and_nothing_is_stored(
    nats_url: str, database_url: str
) -> None:
    async with stack(nats_url, database_url) as s:
        await s.plan(plan_event("s1", "gordn-00000000000000b1", NOW))
        single = f"{NP}/s1/acknowledgements"
        cases: list[tuple[str, Any, int, str]] = [
            (single, {}, 422, "provider"),
            (single, {"provider": "slack", "acknowledgement_state": "done"}, 422, "acknowledgement_state"),
            (single, {"provider": 5}, 422, "provider"),
            (single, {"provider": "slack", "notes": ["x"]}, 422, "notes"),
            (single, {"provider": "slack", "plan_id": "gordn-ffffffffffffffff"}, 404, "plan_id"),
            (single, {"provider": "jira"}, 404, "provider"),
            (f"{NP}/nope/acknowledgements", {"provider": "slack"}, 404, "schedule_id"),
            (single, [1, 2], 422, "body"),
            (single, {"provider": "slack", "actor_claims": {"sub": "root"}}, 422, "actor_claims"),
        ]
        bulk = f"{NP}/acknowledgements/bulk"
        route = {"schedule_id": "s1", "provider": "slack"}
        cases += [
            (bulk, {}, 422, "routes"),
            (bulk, {"routes": []}, 422, "routes"),
            (bulk, {"routes": "s1"}, 422, "routes"),
            (bulk, {"routes": [route] * 101}, 422, "routes"),
            (bulk, {"routes": [route, {"schedule_id": "s1"}]}, 422, "routes[1].provider"),
            (bulk, {"routes": [route, "x"]}, 422, "routes[1]"),
            (bulk, {"routes": [route, {**route, "plan_id": 7}]}, 422, "routes[1].plan_id"),
            (bulk, {"routes": [route], "acknowledgement_state": "closed"}, 422, "acknowledgement_state"),
            (bulk, {"routes": [route, {**route, "schedule_id": "s9"}]}, 404, "routes[1].schedule_id"),
            (bulk, {"routes": [route, {**route, "provider": "teams"}]}, 404, "routes[1].provider"),
            (f"{NP}/routes/gordroute-missing/actions", {"action": "ack"}, 404, "route_id"),
            (f"{NP}/routes/gordroute-missing/actions", {"action": "close"}, 422, "action"),
            (f"{NP}/routes/actions", {"action": "ack", "scope": {"ownr": "a"}}, 422, "scope.ownr"),
            (
                f"{NP}/routes/actions",
                {"action": "ack", "scope": {}, "expected_count": 5},
                409,
                "expected_count",
            ),
            (f"{NP}/routes/actions", {"action": "ack", "scope": {"owner": "x"}}, 404, "scope"),
        ]
        for path, body, status, field in cases:
            response = await s.client.post(path, json=body)
            assert response.status_code == status, (path, body, response.text)
            assert field in fields(response), (path, body, response.text)
        refused = await s.client.post(single, json={"provider": "slack", "acknowledgement_state": "done"})
        assert refused.json()["errors"][0]["message"] == STATE_PROBLEM
        assert await s.stored() == 0
        assert (await s.states(state="outstanding"))["total"] == 1


async def test_bulk_is_atomic_and_route_actions_record_before_and_after(
    nats_url: str, database_url: str
) -> None:
    async with stack(nats_url, database_url) as s:
        await s.plan(plan_event("s1", "gordn-00000000000000c1", NOW, owners=("a", "b")))
        await s.plan(plan_event("s2", "gordn-00000000000000c2", NOW, providers=("webhook",)))
        routes = [{"schedule_id": "s1", "provider": "slack"}, {"schedule_id": "s2", "provider": "webhook"}]
        broken = await s.client.post(
            f"{NP}/acknowledgements/bulk",
            json={"routes": [*routes, {"schedule_id": "s2", "provider": "slack"}]},
        )
        assert broken.status_code == 404 and fields(broken) == ["routes[2].provider"]
        assert await s.stored() == 0
        bulk = await s.client.post(
            f"{NP}/acknowledgements/bulk",
            json={"routes": routes, "acknowledgement_state": "Resolved", "external_ref": "CHG-456"},
        )
        assert bulk.status_code == 201, bulk.text
        document = bulk.json()
        assert document["schema_version"] == "cavra.go-backend-pilot.rollback-drill-bulk-acknowledgement.v1"
        assert document["acknowledgement_count"] == 3 and document["acknowledgement_state"] == "Resolved"
        first = document["acknowledgements"][0]
        assert document["bulk_id"] == f"gordbulkack-3-{first['acknowledgement_id']}"
        assert {a["acknowledgement_state"] for a in document["acknowledgements"]} == {"resolved"}
        assert all(a["external_ref"] == "CHG-456" for a in document["acknowledgements"])
        route_id = first["route_id"]
        escalated = await s.client.post(f"{NP}/routes/{route_id}/actions", json={"action": "escalate"})
        assert escalated.status_code == 201, escalated.text
        record = escalated.json()["acknowledgement"]
        assert (record["previous_state"], record["acknowledgement_state"]) == ("resolved", "escalated")
        assert record["acknowledged_by"] == "bootstrap-admin" and record["acknowledged_at"]
        outstanding = await s.states(state="escalated")
        assert [r["route_id"] for r in outstanding["items"]] == [route_id]
        assert outstanding["items"][0]["acknowledged"] is False
        counted = await s.states(schedule_id="s1", limit=0)
        assert counted["total"] == 2 and counted["items"] == []
        scoped = await s.client.post(
            f"{NP}/routes/actions",
            json={"action": "ack", "scope": {"schedule_id": "s1"}, "expected_count": counted["total"]},
        )
        assert scoped.status_code == 201, scoped.text
        assert sorted(a["previous_state"] for a in scoped.json()["acknowledgements"]) == [
            "escalated",
            "resolved",
        ]
        assert (await s.states(schedule_id="s1", state="acknowledged"))["total"] == 2


async def test_an_old_plans_ack_never_clears_the_newer_plan(nats_url: str, database_url: str) -> None:
    async with stack(nats_url, database_url) as s:
        old = await s.plan(plan_event("s1", "gordn-00000000000000d1", NOW - timedelta(hours=1)))
        new = await s.plan(plan_event("s1", "gordn-00000000000000d2", NOW))
        response = await s.client.post(
            f"{NP}/s1/acknowledgements", json={"provider": "slack", "plan_id": old.plan.plan_id}
        )
        assert (
            response.status_code == 201 and response.json()["acknowledgement"]["plan_id"] == old.plan.plan_id
        )
        [current] = (await s.states(schedule_id="s1"))["items"]
        assert current["plan_id"] == new.plan.plan_id and current["state"] == "outstanding"


async def test_idempotency_key_replays_the_first_answer(nats_url: str, database_url: str) -> None:
    async with stack(nats_url, database_url) as s:
        await s.plan(plan_event("s1", "gordn-00000000000000e1", NOW))
        headers = {"Idempotency-Key": "ack-1"}
        first = await s.client.post(f"{NP}/s1/acknowledgements", json={"provider": "slack"}, headers=headers)
        again = await s.client.post(f"{NP}/s1/acknowledgements", json={"provider": "slack"}, headers=headers)
        assert first.status_code == again.status_code == 201
        assert again.headers.get("Idempotent-Replayed") == "true"
        assert again.json() == first.json()
        assert await s.stored() == 1


@pytest.mark.parametrize("token", [None, "not-a-token"])
async def test_mutations_need_a_verified_operator(
    nats_url: str, database_url: str, token: str | None
) -> None:
    async with stack(nats_url, database_url) as s:
        await s.plan(plan_event("s1", "gordn-00000000000000f1", NOW))
        async with gateway_client(nats_url, database_url, token=token) as anonymous:
            for path, body in [
                (f"{NP}/s1/acknowledgements", {"provider": "slack"}),
                (f"{NP}/acknowledgements/bulk", {"routes": [{"schedule_id": "s1", "provider": "slack"}]}),
                (f"{NP}/routes/gordroute-x/actions", {"action": "ack"}),
                (f"{NP}/routes/actions", {"action": "ack", "scope": {}}),
            ]:
                response = await anonymous.post(path, json=body)
                assert response.status_code == 401, (path, response.text)
            assert (await anonymous.get(f"{NP}/acknowledgements/routes")).status_code == 401
        assert await s.stored() == 0
