"""The whole system, one missed acknowledgement, end to end with a controllable clock.

A stale schedule is planned and delivered to its owner's webhook; nobody acknowledges it; the
escalation plan says ``warning``, then ``critical`` at the SLO, when the escalation service sends the
route to its escalation owner's Teams channel through the delivery pipeline, exactly once; the owner
acknowledges it through the API and everything is ``healthy`` again — the escalation plan, the
dashboard's outstanding count and the notification history all say so. Every service runs its real
bootstrap on the test's NATS and PostgreSQL; the providers are fakes on 127.0.0.1 that fail the
test on any unexpected request.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.integration.test_notification_delivery import SIGNING_SECRET
from tests.support.fake_providers import FakeProviders
from tests.support.harness import FakeClock, eventually, gateway_client, running_service

BASE = "/runtime/go-pilot"
NOTIFICATIONS = f"{BASE}/rollback-drill-notifications"
ESCALATION_TYPE = "cavra.go_backend.rollback_drill.notification_escalation"


def schedule() -> dict[str, Any]:
    """Stale since 2026-10-25 (the clock starts 2026-11-01): planned at once, SLO 30 minutes."""
    return {
        "schema_version": "cavra.go-backend-rollback-drill-schedule.v1",
        "interval_days": 30,
        "next_due_at": "2026-10-25T00:00:00Z",
        "owners": ["release-governance"],
        "notification_providers": ["webhook"],
        "owner_routes": {
            "release-governance": {
                "providers": ["webhook"],
                "acknowledgement_minutes": 30,
                "escalation_owner": "release-manager",
            },
            "release-manager": {"providers": ["teams"]},
        },
        "runbook_ref": "docs/runbook.md",
    }


async def test_a_missed_ack_warns_turns_critical_escalates_once_and_an_ack_makes_it_healthy(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    clock = FakeClock()
    async with FakeProviders(webhook_secret=SIGNING_SECRET) as fake:
        config = tmp_path / "connectors.json"
        config.write_text(
            json.dumps(
                {
                    "connectors": {
                        "webhook": {
                            "type": "webhook",
                            "url": fake.url("webhook", "/drill"),
                            "secret": SIGNING_SECRET,
                        },
                        "teams": {"type": "teams", "url": fake.url("teams", "/workflows/run")},
                    }
                }
            )
        )
        async with (
            running_service("scheduler", nats_url, database_url, clock=clock),
            running_service("router", nats_url, database_url, clock=clock),
            running_service("delivery", nats_url, database_url, clock=clock, connector_config=str(config)),
            running_service("acknowledgement", nats_url, database_url, clock=clock, home=tmp_path),
            running_service("escalation", nats_url, database_url, clock=clock, escalation_tick_seconds=0.05),
            running_service("reporting", nats_url, database_url),
            gateway_client(nats_url, database_url) as api,
        ):

            def escalations() -> list[Any]:
                return [
                    r for r in fake.requests_for("webhook") + fake.requests_for("teams") if _is_escalation(r)
                ]

            async def escalation_plan() -> dict[str, Any]:
                answer = await api.post(f"{NOTIFICATIONS}/escalation-plan", json={})
                assert answer.status_code == 200, answer.text
                plan: dict[str, Any] = answer.json()["plan"]
                return plan

            async def dashboard() -> dict[str, Any]:
                answer = await api.get(f"{NOTIFICATIONS}/dashboard")
                assert answer.status_code == 200, answer.text
                body: dict[str, Any] = answer.json()
                return body

            assert (
                await api.put(f"{BASE}/rollback-drill-schedules/payments", json=schedule())
            ).status_code in (
                200,
                201,
            )

            async def delivered_to_owner() -> bool:
                return len(fake.requests_for("webhook")) == 1 and (await dashboard())["plan_count"] == 1

            await eventually(delivered_to_owner, what="the plan delivered to the owner's webhook")
            sent = fake.requests_for("webhook")[0].body
            route_id = sent["data"]["route_id"]

            # No acknowledgement yet, inside the SLO: warning, outstanding, nothing escalated.
            clock.advance(minutes=29)
            plan = await escalation_plan()
            assert (plan["alert_level"], plan["outstanding_count"], plan["breached_count"]) == (
                "warning",
                1,
                0,
            )
            (row,) = plan["routes"]
            assert (row["route_id"], row["acknowledgement_minutes"]) == (route_id, 30)
            assert row["recommended_action"] == "wait_for_acknowledgement"

            async def outstanding() -> bool:
                return (await dashboard())["outstanding_acknowledgement_count"] == 1

            await eventually(outstanding, what="the dashboard to count the outstanding route")
            assert escalations() == []

            # At the SLO (inclusive): critical, and the escalation service sends it on by itself.
            clock.advance(minutes=1)

            async def escalated() -> bool:
                return len(fake.requests_for("teams")) == 1

            await eventually(escalated, what="the escalation at the escalation owner's Teams channel")
            plan = await escalation_plan()
            assert (plan["alert_level"], plan["breached_count"]) == ("critical", 1)
            assert plan["routes"][0]["recommended_action"] == "escalate_missed_drill_notification"
            card = fake.requests_for("teams")[0].raw.decode()
            assert "release-manager" in card and route_id in card

            async def escalation_reported() -> bool:
                return (await dashboard())["escalation_route_count"] == 1

            await eventually(escalation_reported, what="the escalation on the dashboard")

            # Time goes on: still exactly one escalation (once, not once per tick).
            clock.advance(minutes=30)
            for _ in range(3):
                await api.get("/healthz")
            assert len(fake.requests_for("teams")) == 1

            acked = await api.post(
                f"{NOTIFICATIONS}/payments/acknowledgements",
                json={"provider": "webhook", "external_ref": "CHG-1234"},
            )
            assert acked.status_code == 201, acked.text
            assert acked.json()["acknowledgement"]["route_id"] == route_id

            async def healthy() -> bool:
                board = await dashboard()
                return board["outstanding_acknowledgement_count"] == 0

            await eventually(healthy, what="the dashboard to clear the route")
            plan = await escalation_plan()
            assert (plan["alert_level"], plan["outstanding_count"], plan["breached_count"]) == (
                "healthy",
                0,
                0,
            )

            history = await api.get(NOTIFICATIONS, params={"limit": 50})
            kinds = {item["metadata_kind"] for item in history.json()["items"]}
            assert {
                "go-backend-rollback-drill-notification-plan",
                "go-backend-rollback-drill-notification-ack",
                "release-connector-delivery",
            } <= kinds, kinds
        assert len(fake.requests_for("teams")) == 1


def _is_escalation(request: Any) -> bool:
    body = request.body
    return isinstance(body, dict) and body.get("type") == ESCALATION_TYPE
