"""Idempotency-Key end to end (draft-ietf-httpapi-idempotency-key-header): gateway -> KV records and
JetStream -> scheduler / router / delivery, against real NATS and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

from cavra_gateway.idempotency import BUCKET
from cavra_gateway.idempotency_keys import Record, Scope, caller_of, fingerprint
from cavra_runtime.bus import Bus
from tests.integration.test_scheduler_api import BASE, drill, schedule
from tests.support.auth import bearer, create_token
from tests.support.harness import (
    ADMIN_TOKEN,
    FakeClock,
    eventually,
    gateway_client,
    running_service,
    stored_events,
)
from tests.support.sink import Sink

SCHEDULES = f"{BASE}/rollback-drill-schedules"


async def test_a_replay_returns_the_first_response_and_changes_nothing(
    nats_url: str, database_url: str
) -> None:
    async with (
        running_service("scheduler", nats_url, database_url, clock=FakeClock()),
        gateway_client(nats_url, database_url) as api,
    ):
        first = await api.put(f"{SCHEDULES}/monthly", json=schedule(), headers={"Idempotency-Key": "put-1"})
        again = await api.put(f"{SCHEDULES}/monthly", json=schedule(), headers={"Idempotency-Key": '"put-1"'})
        assert first.status_code == 201, first.text
        assert "idempotent-replayed" not in first.headers
        assert (again.status_code, again.json()) == (201, first.json())
        assert again.headers["idempotent-replayed"] == "true"

        changed = await api.put(
            f"{SCHEDULES}/monthly", json=schedule(environment="staging"), headers={"Idempotency-Key": "put-1"}
        )
        assert changed.status_code == 422
        assert "Idempotency-Key" in changed.json()["detail"]
        assert changed.json()["errors"][0]["field"] == "header.idempotency-key"
        other_query = await api.put(
            f"{SCHEDULES}/monthly",
            json=schedule(),
            params={"requested_by": "bob"},
            headers={"Idempotency-Key": "put-1"},
        )
        assert other_query.status_code == 422

        state = (await api.get(f"{SCHEDULES}")).json()["items"][0]
        assert (state["version"], state["environment"]) == (1, "production-pilot")


async def test_keys_are_scoped_to_the_endpoint_and_the_caller(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    alice, _ = await create_token(nats_url, "operator", "alice")
    async with Sink() as sink:
        config = tmp_path / "connectors.json"
        config.write_text(json.dumps({"connectors": {"webhook": {"type": "webhook", "url": sink.url}}}))
        async with (
            running_service("scheduler", nats_url, database_url, clock=FakeClock()),
            running_service("router", nats_url, database_url),
            running_service("delivery", nats_url, database_url, connector_config=str(config)),
            gateway_client(nats_url, database_url) as api,
        ):
            key = {"Idempotency-Key": "same-key"}
            stale = schedule(next_due_at="2026-10-01T00:00:00Z", notification_providers=["webhook"])
            put = await api.put(f"{SCHEDULES}/monthly", json=stale, headers=key)
            assert put.status_code == 201, put.text
            as_alice = await api.put(
                f"{SCHEDULES}/monthly", json=stale, headers={**key, **bearer(alice)}
            )
            assert as_alice.status_code == 200, "another caller's key is another request"
            assert as_alice.json()["schedule"]["version"] == 2
            delivered = await api.post(
                f"{BASE}/rollback-drill-notifications/deliver",
                json={"schedule_id": "monthly", "provider": "webhook"},
                headers=key,
            )
            assert delivered.status_code == 200, delivered.text
            assert delivered.json()["delivery"]["success"] is True
            plan_id = delivered.json()["plan"]["plan_id"]
            assert [n for sent, n in sink.ids.items() if sent.startswith(plan_id)] == [1]
            recorded = await api.post(
                f"{BASE}/rollback-drills",
                json=drill("d-1", "2026-10-30T10:00:00Z", schedule_id="monthly"),
                headers=key,
            )
            assert recorded.status_code == 201, recorded.text

            ids = {r.json()["message_id"] for r in (put, as_alice, recorded)}
            assert len(ids) == 3 and "same-key" not in ids


async def test_a_repeat_while_the_first_runs_is_409_and_a_202_is_settled_for_later_replays(
    nats_url: str, database_url: str
) -> None:
    async with gateway_client(nats_url, database_url, command_wait_seconds=1.0) as api:
        headers = {"Idempotency-Key": "put-while-down"}
        first = asyncio.create_task(api.put(f"{SCHEDULES}/monthly", json=schedule(), headers=headers))
        await asyncio.sleep(0.4)
        busy = await api.put(f"{SCHEDULES}/monthly", json=schedule(), headers=headers)
        assert busy.status_code == 409
        assert busy.headers["retry-after"] == "1"
        assert busy.json()["errors"][0]["field"] == "header.idempotency-key"
        accepted = await first
        assert accepted.status_code == 202 and accepted.json()["status"] == "accepted"
        replayed = await api.put(f"{SCHEDULES}/monthly", json=schedule(), headers=headers)
        assert (replayed.status_code, replayed.headers["idempotent-replayed"]) == (202, "true")

        async with running_service("scheduler", nats_url, database_url, clock=FakeClock()):

            async def settled() -> bool:
                again = await api.put(f"{SCHEDULES}/monthly", json=schedule(), headers=headers)
                return again.status_code == 201

            await eventually(settled, what="the replay to report the applied command")
            again = await api.put(f"{SCHEDULES}/monthly", json=schedule(), headers=headers)
            assert again.json()["message_id"] == accepted.json()["message_id"]
            assert again.json()["schedule"]["version"] == 1


async def test_an_abandoned_first_request_is_taken_over_after_its_lease(
    nats_url: str, database_url: str
) -> None:
    body = schedule()
    record_key = Scope.of(
        caller_of(f"Bearer {ADMIN_TOKEN}"),
        "PUT",
        "/runtime/go-pilot/rollback-drill-schedules/{schedule_id}",
        {"schedule_id": "monthly"},
    ).record_key("k-abandoned")
    async with (
        running_service("scheduler", nats_url, database_url, clock=FakeClock()),
        gateway_client(nats_url, database_url) as api,
    ):
        bus = await Bus.connect(nats_url, name="test")
        try:
            kv = await bus.js.key_value(BUCKET)
            stuck = Record(
                fingerprint=fingerprint(json.dumps(body).encode(), []),
                state="in_progress",
                message_id="11111111-2222-5333-8444-555555555555",
                started_at=time.time(),
            )
            await kv.put(record_key, stuck.encode())
            headers = {"Idempotency-Key": "k-abandoned"}
            assert (await api.put(f"{SCHEDULES}/monthly", json=body, headers=headers)).status_code == 409
            await kv.put(record_key, stuck.model_copy(update={"started_at": time.time() - 3600}).encode())
            taken = await api.put(f"{SCHEDULES}/monthly", json=body, headers=headers)
            assert taken.status_code == 201, taken.text
            assert taken.json()["message_id"] == stuck.message_id, "the retry keeps the first message id"
        finally:
            await bus.close()


async def test_a_publish_whose_puback_was_lost_keeps_its_message_id_for_the_retry(
    nats_url: str, database_url: str
) -> None:
    clock = FakeClock()
    async with (
        running_service("scheduler", nats_url, database_url, clock=clock),
        gateway_client(nats_url, database_url, services=("scheduler",), command_wait_seconds=2) as api,
    ):
        bus = api._transport.app.state.gateway.bus  # type: ignore[attr-defined]
        real_publish = bus.publish
        published: list[str] = []

        async def puback_lost_once(envelope: Any) -> Any:
            published.append(envelope.message_id)
            stored = await real_publish(envelope)
            if len(published) == 1:  # stored by JetStream, but the PubAck never reached the gateway
                raise TimeoutError("no PubAck")
            return stored

        bus.publish = puback_lost_once
        headers = {"Idempotency-Key": "puback-lost"}
        first = await api.put(f"{SCHEDULES}/lost-ack", json=schedule(), headers=headers)
        assert first.status_code == 503
        second = await api.put(f"{SCHEDULES}/lost-ack", json=schedule(), headers=headers)
        assert second.status_code in (200, 201, 202), second.text
    assert published[0] == published[1], "the retry publishes the same message id, which is dropped"
    upserted = await stored_events(nats_url, "cavra.evt.scheduler.schedule_upserted.v1")
    assert len(upserted) == 1, "applied once"
