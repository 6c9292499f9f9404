"""Notification delivery end to end, with real NATS, PostgreSQL and HTTP to local fake providers.

A stale schedule -> automatic plan (maintenance window and owner calendar suppress some routes) ->
delivery to the fakes -> redacted evidence; then the on-demand deliver endpoint. Canary secrets
planted in the connector config must not reach PostgreSQL, JetStream, logs or any API response.
"""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import asyncpg
import nats
import pytest

from cavra_contracts.notifications import NotificationDeliveredV1, NotificationPlannedV1
from cavra_contracts.subjects import STREAMS
from tests.support.fake_providers import FakeProviders
from tests.support.harness import (
    FakeClock,
    eventually,
    gateway_client,
    running_service,
    stored_events,
)

BASE = "/runtime/go-pilot"
SIGNING_SECRET = "whsec_" + base64.b64encode(b"CANARY-SIGNING-KEY-0123456789abcd").decode()
CANARIES = (
    "CANARY-SLACK-PATH",
    "CANARY-JIRA-TOKEN",
    "CANARY-SNOW-PASSWORD",
    "CANARY-HEC-TOKEN",
    "CANARY-WEBHOOK-QUERY",
    SIGNING_SECRET,
    base64.b64encode(b"CANARY-SIGNING-KEY-0123456789abcd").decode(),
)


def connector_config(fake: FakeProviders, path: Path) -> Path:
    document = {
        "connectors": {
            "slack": {"type": "slack", "url": fake.url("slack", "/services/T1/B1/CANARY-SLACK-PATH")},
            "teams": {"url": fake.url("teams", "/workflows/run?sig=plain")},
            "jira": {
                "url": fake.url("jira"),
                "email": "ops@example.com",
                "api_token_env": "CAVRA_TEST_JIRA_TOKEN",
                "project_key": "OPS",
            },
            "servicenow": {
                "url": fake.url("servicenow"),
                "username": "svc",
                "password": "CANARY-SNOW-PASSWORD",
            },
            "webhook": {
                "url": fake.url("webhook", "/drill?token=CANARY-WEBHOOK-QUERY"),
                "secret": SIGNING_SECRET,
            },
            "siem": {"url": fake.url("hec"), "token": "CANARY-HEC-TOKEN", "index": "security"},
            "broken": {"type": "jira", "url": fake.url("jira")},
        }
    }
    path.write_text(json.dumps(document))
    return path


def stale_schedule(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "schema_version": "cavra.go-backend-rollback-drill-schedule.v1",
        "interval_days": 30,
        "next_due_at": "2026-10-25T00:00:00Z",
        "owners": ["release-governance", "platform"],
        "notification_providers": ["slack", "teams", "jira", "webhook"],
        "owner_routes": {
            "platform": {"providers": ["servicenow", "siem"], "escalation_owner": "platform-lead"}
        },
        "maintenance_windows": [
            {
                "window_id": "change-freeze",
                "start_at": "2026-11-01T00:00:00Z",
                "end_at": "2026-11-02T00:00:00Z",
                "providers": ["teams"],
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
    body.update(changes)
    return body


async def everything_in_jetstream(nats_url: str) -> str:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        texts = []
        for spec in STREAMS:
            info = await js.stream_info(spec.name)
            for seq in range(max(info.state.first_seq, 1), info.state.last_seq + 1):
                msg = await js.get_msg(spec.name, seq)
                texts.append((msg.data or b"").decode() + json.dumps(dict(msg.headers or {})))
        return "\n".join(texts)
    finally:
        await nc.close()


async def everything_in_postgres(database_url: str) -> str:
    conn = await asyncpg.connect(database_url)
    try:
        tables = await conn.fetch(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema IN ('scheduler', 'router', 'delivery')"
        )
        texts = []
        for table in tables:
            rows = await conn.fetch(f'SELECT * FROM "{table["table_schema"]}"."{table["table_name"]}"')
            texts.extend(repr(dict(row)) for row in rows)
        outbox = await conn.fetch("SELECT convert_from(body, 'UTF8') AS body FROM delivery.outbox")
        texts.extend(row["body"] for row in outbox)
        return "\n".join(texts)
    finally:
        await conn.close()


async def test_stale_schedule_is_delivered_with_suppression_and_redacted_evidence(
    nats_url: str,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CAVRA_TEST_JIRA_TOKEN", "CANARY-JIRA-TOKEN")
    clock = FakeClock()  # 2026-11-01T12:00Z: inside the teams freeze and the platform holiday
    responses: list[str] = []
    async with FakeProviders(webhook_secret=SIGNING_SECRET) as fake:
        config = connector_config(fake, tmp_path / "connectors.json")
        async with (
            running_service("scheduler", nats_url, database_url, clock=clock),
            running_service("router", nats_url, database_url, clock=clock),
            running_service(
                "delivery", nats_url, database_url, connector_config=str(config), delivery_timeout_seconds=2
            ),
            gateway_client(
                nats_url, database_url, delivery_wait_seconds=10, services=("scheduler", "router", "delivery")
            ) as api,
        ):
            created = await api.put(f"{BASE}/rollback-drill-schedules/payments", json=stale_schedule())
            responses.append(created.text)
            assert created.json()["schedule"]["status"] == "needs_attention"

            async def delivered() -> bool:
                return len(await stored_events(nats_url, NotificationDeliveredV1.MESSAGE.subject)) == 1

            await eventually(delivered, what="the automatic plan to be delivered")
            plan = (await stored_events(nats_url, NotificationPlannedV1.MESSAGE.subject))[0].payload["plan"]
            decisions = {(d["owner"], d["provider"]): d for d in plan["route_decisions"]}
            assert decisions[("release-governance", "teams")]["category"] == "maintenance_window"
            assert decisions[("platform", "servicenow")]["category"] == "owner_calendar"
            assert decisions[("platform", "siem")]["category"] == "owner_calendar"
            assert plan["selected_providers"] == ["jira", "slack", "webhook"]

            assert len(fake.requests_for("slack")) == 1
            assert [r.step for r in fake.requests_for("jira")] == ["search", "create"]
            assert len(fake.requests_for("webhook")) == 1
            assert fake.requests_for("teams") == [] and fake.requests_for("servicenow") == []
            assert fake.requests_for("hec") == []

            detail = await api.get(f"{BASE}/rollback-drill-notifications/plans/{plan['plan_id']}")
            responses.append(detail.text)
            body = detail.json()
            assert body["success"] is True
            outcomes = {(d["provider"], d["outcome"]) for d in body["delivery"]["deliveries"]}
            assert outcomes == {("jira", "delivered"), ("slack", "delivered"), ("webhook", "delivered")}
            record = body["metadata"]
            assert record["metadata_kind"] == "release-connector-delivery"
            assert record["connector_delivery_source"] == "go_backend_rollback_drill_notification"
            hosts = {d["target_host"] for d in body["delivery"]["deliveries"]}
            assert hosts == {fake.base_url.removeprefix("http://")}, "host only, never a path or query"
            assert body["plan_metadata"]["metadata_kind"] == "go-backend-rollback-drill-notification-plan"

            forced = await api.post(
                f"{BASE}/rollback-drill-notifications/deliver",
                json={
                    "schedule_id": "payments",
                    "provider": "webhook,siem",
                    "force": True,
                    "retries": 0,
                    "routing_policy": {
                        "owner_calendars": {},
                        "owner_routes": {
                            "platform": {"providers": ["siem"]},
                            "release-governance": {"providers": ["webhook"]},
                        },
                    },
                },
            )
            responses.append(forced.text)
            assert forced.status_code == 200, forced.text
            result = forced.json()
            assert result["success"] is True and result["event_id"] == "payments"
            assert result["plan"]["selected_providers"] == ["siem", "webhook"]
            assert {d["provider"] for d in result["delivery"]["deliveries"]} == {"siem", "webhook"}
            assert result["metadata"]["delivery_success"] is True
            assert len(fake.requests_for("hec")) == 1

            again = await api.post(
                f"{BASE}/rollback-drill-notifications/deliver",
                json={"schedule_id": "payments", "provider": "webhook", "force": True},
                headers={"Idempotency-Key": "deliver-payments-1"},
            )
            repeated = await api.post(
                f"{BASE}/rollback-drill-notifications/deliver",
                json={"schedule_id": "payments", "provider": "webhook", "force": True},
                headers={"Idempotency-Key": "deliver-payments-1"},
            )
            assert again.status_code == 200 and repeated.status_code == 200
            assert repeated.json() == again.json() and repeated.headers["idempotent-replayed"] == "true"

            quiet = await api.post(
                f"{BASE}/rollback-drill-notifications/deliver",
                json={
                    "schedule_id": "payments",
                    "provider": "webhook",
                    "routing_policy": {
                        "maintenance_windows": [
                            {
                                "window_id": "all",
                                "start_at": "2026-01-01T00:00:00Z",
                                "end_at": "2027-01-01T00:00:00Z",
                            }
                        ]
                    },
                },
            )
            assert quiet.status_code == 200 and quiet.json()["delivery"] is None
            quiet_plan = quiet.json()["plan"]
            assert quiet_plan["deliverable_route_count"] == 0
            stored = (
                await api.get(f"{BASE}/rollback-drill-notifications/plans/{quiet_plan['plan_id']}")
            ).json()
            assert (stored["complete"], stored["success"], stored["delivery"]) == (True, True, None)

            unconfigured = await api.post(
                f"{BASE}/rollback-drill-notifications/deliver",
                json={
                    "schedule_id": "payments",
                    "routing_policy": {
                        "owner_routes": {"release-governance": {"providers": ["pagerduty"]}},
                        "owner_calendars": {},
                    },
                },
            )
            responses.append(unconfigured.text)
            assert unconfigured.status_code == 400
            assert "pagerduty" in unconfigured.json()["detail"]

            connectors = await api.get("/readyz")
            responses.append(connectors.text)
            assert connectors.status_code == 200, connectors.text

    stores = await everything_in_postgres(database_url) + await everything_in_jetstream(nats_url)
    logs = "".join(capfd.readouterr())
    assert fake.base_url.removeprefix("http://") in stores, "the scan sees the stored evidence"
    assert "plan.delivered" in logs, "the scan sees the service logs"
    for canary in CANARIES:
        assert canary not in stores, f"{canary} stored"
        assert canary not in logs, f"{canary} logged"
        assert all(canary not in text for text in responses), f"{canary} returned"
    assert "broken" in logs, "the broken connector entry is reported"


async def test_deliver_without_connector_config_is_a_clear_400(nats_url: str, database_url: str) -> None:
    async with (
        running_service("scheduler", nats_url, database_url, clock=FakeClock()),
        running_service("router", nats_url, database_url),
        running_service("delivery", nats_url, database_url),
        gateway_client(nats_url, database_url) as api,
    ):
        await api.put(f"{BASE}/rollback-drill-schedules/payments", json=stale_schedule())
        response = await api.post(f"{BASE}/rollback-drill-notifications/deliver", json={"provider": "slack"})
        assert response.status_code == 400
        assert response.json()["detail"].startswith("connector config is not configured")
        bad = await api.post(
            f"{BASE}/rollback-drill-notifications/deliver", json={"retries": -1, "provider": "a b"}
        )
        assert bad.status_code == 422
        assert {e["field"] for e in bad.json()["errors"]} == {"retries", "provider"}


async def test_a_failing_connector_is_quarantined_probed_and_reported(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    from tests.support.fake_providers import unused_url

    config = tmp_path / "connectors.json"
    config.write_text(
        json.dumps({"connectors": {"webhook": {"type": "webhook", "url": unused_url("/hook")}}})
    )
    async with (
        running_service("scheduler", nats_url, database_url, clock=FakeClock()),
        running_service("router", nats_url, database_url),
        running_service(
            "delivery",
            nats_url,
            database_url,
            connector_config=str(config),
            quarantine_after_failures=2,
            quarantine_seconds=1,
        ),
        gateway_client(nats_url, database_url, delivery_wait_seconds=10) as api,
    ):
        # The automatic plan of this stale schedule goes to slack (no connector); only ours use the webhook.
        quiet = stale_schedule(notification_providers=["slack"], owner_routes={})
        await api.put(f"{BASE}/rollback-drill-schedules/payments", json=quiet)
        both_to_webhook = {
            "owner_calendars": {},
            "owner_routes": {
                "release-governance": {"providers": ["webhook"]},
                "platform": {"providers": ["webhook"]},
            },
        }
        body = {
            "provider": "webhook",
            "force": True,
            "retries": 0,
            "timeout_seconds": 0.5,
            "routing_policy": both_to_webhook,
        }

        async def deliver() -> list[str]:
            response = await api.post(f"{BASE}/rollback-drill-notifications/deliver", json=body)
            assert response.status_code == 200, response.text
            assert response.json()["success"] is False
            return sorted(d["outcome"] for d in response.json()["delivery"]["deliveries"])

        assert await deliver() == ["failed", "failed"], "two consecutive failures open the breaker"
        assert await deliver() == ["quarantined", "quarantined"], "nothing is sent while it is open"
        listed = (await api.get(f"{BASE}/rollback-drill-notifications/connectors")).json()
        [webhook] = listed["connectors"]
        assert (webhook["name"], webhook["breaker"], webhook["consecutive_failures"]) == (
            "webhook",
            "open",
            2,
        )
        assert "/hook" not in json.dumps(listed), "hosts only, never paths"
        await asyncio.sleep(1.2)  # the cool-down ends: one route probes, the other waits
        assert await deliver() == ["failed", "quarantined"]
        assert (await deliver()) == ["quarantined", "quarantined"], "the failed probe re-opened the breaker"


async def test_an_owner_holding_a_connector_url_path_is_redacted_and_the_plan_still_completes(
    nats_url: str,
    database_url: str,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    # A team slug with a slash that happens to hold the Jira connector's base URL path, and an
    # owner that holds a credential outright: both are sent, the evidence is kept, redacted.
    owners = ["ops/hook/jira", "team-CANARY-HOOK-TOKEN", "platform"]
    async with FakeProviders(mount="/hook") as fake:
        config = tmp_path / "connectors.json"
        config.write_text(
            json.dumps(
                {
                    "connectors": {
                        "jira": {
                            "url": fake.url("jira"),
                            "email": "ops@example.com",
                            "api_token": "CANARY-HOOK-TOKEN",
                            "project_key": "OPS",
                        }
                    }
                }
            )
        )
        assert fake.url("jira").endswith("/hook/jira")
        async with (
            running_service("scheduler", nats_url, database_url, clock=FakeClock()),
            running_service("router", nats_url, database_url),
            running_service("delivery", nats_url, database_url, connector_config=str(config)),
            gateway_client(nats_url, database_url, delivery_wait_seconds=10) as api,
        ):
            schedule = stale_schedule(
                owners=owners, notification_providers=["jira"], owner_routes={}, owner_calendars={}
            )
            assert (
                await api.put(f"{BASE}/rollback-drill-schedules/payments", json=schedule)
            ).status_code == 201

            async def delivered() -> bool:
                return len(await stored_events(nats_url, NotificationDeliveredV1.MESSAGE.subject)) == 1

            await eventually(delivered, what="the plan to complete despite the redaction")
            [event] = await stored_events(nats_url, NotificationDeliveredV1.MESSAGE.subject)
            assert len(fake.requests_for("jira", "create")) == 3, "every route was sent"
            plan_id = event.payload["plan_id"]
            detail = (await api.get(f"{BASE}/rollback-drill-notifications/plans/{plan_id}")).json()
            listed = (await api.get(f"{BASE}/rollback-drill-notifications/connectors")).json()

    assert event.payload["success"] is True
    assert sorted(d["owner"] for d in event.payload["deliveries"]) == [
        "ops[REDACTED]",
        "platform",
        "team-[REDACTED]",
    ]
    assert detail["complete"] is True and detail["success"] is True
    assert sorted(d["owner"] for d in detail["delivery"]["deliveries"]) == [
        "ops[REDACTED]",
        "platform",
        "team-[REDACTED]",
    ]
    assert detail["metadata"]["plan_id"] == plan_id, "the record is written"
    stored = detail["metadata"]["delivery"]["deliveries"]
    assert stored == detail["delivery"]["deliveries"], "the record's deliveries are its rows"
    alarms = listed["redaction_alarms"]
    assert (alarms["count"], alarms["last_plan_id"]) == (1, plan_id)
    logs = "".join(capfd.readouterr())
    assert "delivery.redaction_alarm" in logs
    # The plan itself (the router's) names the owners as they are; delivery's evidence never does.
    evidence = await delivery_evidence(database_url) + json.dumps(event.payload)
    evidence += json.dumps([detail["delivery"], detail["metadata"], listed])
    for secret in ("/hook/jira", "CANARY-HOOK-TOKEN"):
        assert secret not in evidence, f"{secret} kept in delivery evidence"
        assert secret not in logs, f"{secret} logged"


async def delivery_evidence(database_url: str) -> str:
    """Everything the delivery service stored: deliveries, records, alarms and its outbox."""
    conn = await asyncpg.connect(database_url)
    try:
        texts = []
        for table in ("deliveries", "delivery_records", "redaction_alarms", "connector_health"):
            texts.extend(repr(dict(row)) for row in await conn.fetch(f"SELECT * FROM delivery.{table}"))
        texts.extend(
            row["body"]
            for row in await conn.fetch("SELECT convert_from(body, 'UTF8') AS body FROM delivery.outbox")
        )
        return "\n".join(texts)
    finally:
        await conn.close()
