"""Audit package endpoints end to end: gateway -> NATS -> acknowledgement and delivery services ->
PostgreSQL and HTTP to local fake providers; then the exported chain verified offline.

Plans are published as the router publishes them. Every bad request is answered with a 4xx naming the
field and leaves nothing stored or sent.
"""

from __future__ import annotations

import base64
import json
import os
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from typer.testing import CliRunner

from cavra_acknowledgement.audit.keys import KEY_FILE_NAME
from cavra_cli.main import app
from cavra_contracts.deliveries import AUDIT_SOURCE, DeliverMessageV1
from cavra_runtime.bus import Bus
from tests.integration.test_audit_service import PlanTracking
from tests.integration.test_notification_delivery import SIGNING_SECRET
from tests.support.acks import plan_event
from tests.support.fake_providers import FakeProviders
from tests.support.harness import FakeClock, eventually, gateway_client, running_service, stored_events

NP = "/runtime/go-pilot/rollback-drill-notifications"
NOW = datetime.now(UTC).replace(microsecond=0)


@dataclass
class Stack(PlanTracking):
    client: httpx.AsyncClient
    bus: Bus
    database_url: str
    nats_url: str
    fake: FakeProviders
    home: Path

    async def stored(self) -> tuple[int, int, int]:
        """Packages, delivery plans and schedules stored."""
        return (
            int(await self.scalar("SELECT count(*) FROM audit_packages")),
            int(await self.scalar("SELECT count(*) FROM audit_deliveries")),
            int(await self.scalar("SELECT count(*) FROM audit_schedules")),
        )

    def audit_requests(self) -> list[Any]:
        """Requests the fake providers got carrying an audit delivery (plans are delivered too)."""
        return [r for r in self.fake.requests if b"acknowledgement_audit" in r.raw]

    async def jobs(self) -> list[dict[str, Any]]:
        return [
            e.payload
            for e in await stored_events(self.nats_url)
            if e.type == DeliverMessageV1.MESSAGE.subject
        ]


def connectors(fake: FakeProviders, path: Path) -> Path:
    document = {
        "connectors": {
            "webhook": {"url": fake.url("webhook", "/audit"), "secret": SIGNING_SECRET},
            "splunk": {
                "type": "splunk",
                "url": fake.url("hec"),
                "token": "CANARY-HEC-TOKEN",
                "index": "audit",
            },
        }
    }
    path.write_text(json.dumps(document))
    return path


@asynccontextmanager
async def stack(
    nats_url: str, database_url: str, tmp_path: Path, clock: FakeClock | None = None
) -> AsyncIterator[Stack]:
    home = tmp_path / "home"
    async with FakeProviders(webhook_secret=SIGNING_SECRET) as fake:
        config = connectors(fake, tmp_path / "connectors.json")
        bus = await Bus.connect(nats_url, name="test-router")
        try:
            async with (
                running_service(
                    "acknowledgement", nats_url, database_url, clock=clock, home=home, audit_tick_seconds=0.05
                ),
                running_service("delivery", nats_url, database_url, connector_config=str(config)),
                gateway_client(nats_url, database_url) as client,
            ):
                yield Stack(client, bus, database_url, nats_url, fake, home)
        finally:
            await bus.close()


def fields(response: httpx.Response) -> list[str]:
    return [problem["field"] for problem in response.json()["errors"]]


async def test_a_package_states_each_current_route_and_is_signed_by_the_published_key(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    async with stack(nats_url, database_url, tmp_path) as s:
        await s.plan(
            plan_event(
                "s1",
                "gordn-0000000000000a01",
                NOW,
                owners=("release-governance", "ops"),
                providers=("webhook",),
            )
        )
        acked = await s.client.post(
            f"{NP}/s1/acknowledgements",
            json={
                "provider": "webhook",
                "owner": "release-governance",
                "acknowledgement_state": "resolved",
                "external_ref": "CHG-456",
            },
        )
        assert acked.status_code == 201, acked.text
        response = await s.client.post(
            f"{NP}/acknowledgements/audit-package",
            json={"owner": "release-governance", "provider": "webhook", "generated_by": "mallory"},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        package = body["audit_package"]
        assert (package["route_count"], package["resolved_count"], package["outstanding_count"]) == (1, 1, 0)
        assert package["generated_by"] == "bootstrap-admin" and body["actor"]["actor"] == "bootstrap-admin"
        assert package["routes"][0]["external_ref"] == "CHG-456"
        assert json.loads(base64.b64decode(body["envelope"]["payload"])) == package
        assert body["metadata"]["metadata_kind"] == "go-backend-rollback-drill-acknowledgement-audit-package"
        keys = (await s.client.get(f"{NP}/audit-keys")).json()["keys"]
        assert [k["key_id"] for k in keys] == [body["envelope"]["signatures"][0]["keyid"]]
        assert keys[0]["algorithm"] == "ed25519" and keys[0]["valid_until"] is None
        stored = await s.client.get(f"{NP}/acknowledgements/audit-packages/{package['audit_id']}")
        assert stored.status_code == 200 and stored.json()["audit_package"] == package
        missing = await s.client.get(f"{NP}/acknowledgements/audit-packages/gordackaudit-0000000000000000")
        assert missing.status_code == 404
        key_file = s.home / KEY_FILE_NAME
        assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
        secret_line = key_file.read_text().splitlines()[1]
        events = json.dumps([e.payload for e in await stored_events(nats_url)])
        assert secret_line not in events and secret_line not in json.dumps(body) + json.dumps(keys)


BAD_INPUT = [
    ("audit-package", {"schedule_id": "bad id!"}, 422, "schedule_id"),
    ("audit-package", {"provider": "x" * 65}, 422, "provider"),
    ("audit-package", {"owner": 7}, 422, "owner"),
    ("audit-package", {"schedule_id": "unknown"}, 404, "schedule_id"),
    ("audit-package", {"actor_claims": {"sub": "root"}}, 422, "actor_claims"),
    ("audit-delivery", {"delivery_provider": "webhook", "actor_token": "x"}, 422, "actor_token"),
    ("audit-delivery", {"cadence": "monthly"}, 422, "cadence"),
    ("audit-delivery", {"cadence": "every_99999_minutes"}, 422, "cadence"),
    ("audit-delivery", {"delivery_provider": "pagerduty"}, 400, "delivery_provider"),
    ("audit-delivery", {"delivery_provider": "webhook", "retries": 11}, 422, "retries"),
    ("audit-delivery", {"next_delivery_at": "tomorrow"}, 422, "next_delivery_at"),
    ("audit-delivery", {"schedule_id": "unknown", "delivery_provider": "webhook"}, 404, "schedule_id"),
]
"""(endpoint, body, status, the field the answer names)."""


async def test_bad_input_names_the_field_and_stores_nothing(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    async with stack(nats_url, database_url, tmp_path) as s:
        await s.plan(plan_event("s1", "gordn-0000000000000b01", NOW, providers=("webhook",)))
        for path, body, status, field in BAD_INPUT:
            response = await s.client.post(f"{NP}/acknowledgements/{path}", json=body)
            assert response.status_code == status, (path, body, response.text)
            assert field in fields(response), (path, body, response.text)
        assert await s.stored() == (0, 0, 0)
        assert await s.jobs() == [] and s.audit_requests() == []


async def test_mutations_need_an_operator(nats_url: str, database_url: str, tmp_path: Path) -> None:
    async with stack(nats_url, database_url, tmp_path) as s:
        async with gateway_client(nats_url, database_url, token=None) as anonymous:
            for path in ("audit-package", "audit-delivery"):
                assert (await anonymous.post(f"{NP}/acknowledgements/{path}", json={})).status_code == 401
            assert (await anonymous.get(f"{NP}/audit-keys")).status_code == 401
        assert await s.stored() == (0, 0, 0)


async def test_a_delivery_reaches_the_connector_and_an_hourly_cadence_is_listed_and_cancellable(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    async with stack(nats_url, database_url, tmp_path) as s:
        await s.plan(
            plan_event(
                "s1", "gordn-0000000000000c01", NOW, owners=("release-governance",), providers=("webhook",)
            )
        )
        response = await s.client.post(
            f"{NP}/acknowledgements/audit-delivery",
            json={
                "owner": "release-governance",
                "provider": "webhook",
                "cadence": "hourly",
                "schedule_ref": "release-governance-hourly",
                "retries": 0,
            },
        )
        assert response.status_code == 200, response.text
        body = response.json()
        plan = body["delivery_plan"]
        assert plan["selected_providers"] == ["webhook"] and plan["cadence"] == "hourly"
        assert plan["route_count"] == 1 and body["success"] is True
        assert (
            body["delivery"]["source"] == AUDIT_SOURCE and body["delivery"]["job_id"] == plan["delivery_id"]
        )
        record = body["metadata"]
        assert record["connector_delivery_source"] == AUDIT_SOURCE and record["delivery_success"] is True
        assert (record["audit_id"], record["delivery_id"]) == (plan["audit_id"], plan["delivery_id"])
        schedule = body["schedule"]
        assert schedule["schedule_ref"] == "release-governance-hourly" and schedule["state"] == "active"
        [request] = s.audit_requests()
        assert request.provider == "webhook"
        assert request.body["type"] == "cavra.go_backend.rollback_drill.acknowledgement_audit_delivery"
        assert request.body["data"]["audit_package_summary"]["audit_id"] == body["audit_package"]["audit_id"]
        assert all("notes" not in route for route in request.body["data"]["routes"])

        listed = (await s.client.get(f"{NP}/acknowledgements/audit-schedules")).json()
        assert [item["schedule_ref_id"] for item in listed["items"]] == [schedule["schedule_ref_id"]]
        url = f"{NP}/acknowledgements/audit-schedules/{schedule['schedule_ref_id']}"
        cancelled = await s.client.delete(url)
        assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
        assert (await s.client.delete(url)).status_code == 409
        assert (
            await s.client.delete(
                f"{NP}/acknowledgements/audit-schedules/gordackauditschedule-0000000000000000"
            )
        ).status_code == 404
        assert (await s.client.delete(f"{NP}/acknowledgements/audit-schedules/nope")).status_code == 422
        assert (await s.client.get(f"{NP}/acknowledgements/audit-schedules")).json()["items"] == []


async def test_an_exported_chain_verifies_offline_and_a_tampered_one_does_not(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    async with stack(nats_url, database_url, tmp_path) as s:
        await s.plan(plan_event("s1", "gordn-0000000000000d01", NOW, providers=("webhook",)))
        for owner in ("", "team-a", ""):
            assert (
                await s.client.post(f"{NP}/acknowledgements/audit-package", json={"owner": owner})
            ).status_code == 200
        exported = await s.client.get(f"{NP}/acknowledgements/audit-packages/export")
        assert exported.status_code == 200, exported.text
        keys = await s.client.get(f"{NP}/audit-keys")
        partial = await s.client.get(
            f"{NP}/acknowledgements/audit-packages/export", params={"first_sequence": 2}
        )
        bad = await s.client.get(
            f"{NP}/acknowledgements/audit-packages/export", params={"first_sequence": 3, "last_sequence": 2}
        )
        assert bad.status_code == 422 and fields(bad) == ["query.last_sequence"]
    document = exported.json()
    assert document["package_count"] == 3
    (tmp_path / "chain.json").write_text(exported.text)
    (tmp_path / "keys.json").write_text(keys.text)
    (tmp_path / "partial.json").write_text(partial.text)
    runner = CliRunner()

    def verify(name: str, *extra: str) -> Any:
        return runner.invoke(
            app, ["audit", "verify", str(tmp_path / name), "--key", str(tmp_path / "keys.json"), *extra]
        )

    ok = verify("chain.json")
    assert ok.exit_code == 0, ok.output
    assert "verified chain of 3 audit packages, sequence 1..3" in ok.output
    assert verify("partial.json").exit_code == 1
    assert verify("partial.json", "--allow-partial").exit_code == 0
    payload = base64.b64decode(document["packages"][0]["payload"]).replace(
        b'"route_count":1', b'"route_count":0'
    )
    document["packages"][0]["payload"] = base64.b64encode(payload).decode()
    (tmp_path / "tampered.json").write_text(json.dumps(document))
    tampered = verify("tampered.json")
    assert tampered.exit_code == 1 and "signature does not match" in tampered.output


async def test_a_scheduled_delivery_really_sends_the_next_package_when_due(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    clock = FakeClock(NOW)
    async with stack(nats_url, database_url, tmp_path, clock) as s:
        await s.plan(plan_event("s1", "gordn-0000000000000e01", NOW, providers=("webhook",)))
        response = await s.client.post(
            f"{NP}/acknowledgements/audit-delivery",
            json={"delivery_provider": "webhook", "cadence": "every_30_minutes", "retries": 0},
        )
        assert response.status_code == 200, response.text
        first = response.json()
        assert first["schedule"]["next_delivery_at"] == (NOW + timedelta(minutes=30)).isoformat()
        assert len(s.audit_requests()) == 1
        clock.advance(minutes=30)

        async def delivered_twice() -> bool:
            return len(s.audit_requests()) == 2

        await eventually(delivered_twice, what="the scheduled audit delivery at the webhook")
        second = s.audit_requests()[1].body["data"]
        assert second["signed_package"]["sequence"] == first["audit_package"]["sequence"] + 1
        assert second["delivery_plan"]["cadence"] == "every_30_minutes"
        assert second["generated_by"] == "cavra-acknowledgement"
        listed = (await s.client.get(f"{NP}/acknowledgements/audit-schedules")).json()["items"]
        assert listed[0]["delivery_count"] == 1
        assert listed[0]["next_delivery_at"] == (NOW + timedelta(minutes=60)).isoformat()
