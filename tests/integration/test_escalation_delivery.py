"""An escalation reaches its escalation owner through the real delivery pipeline, exactly once:
plan delivered -> no ack -> breach -> one job to the fake Teams and webhook -> MessageDeliveredV1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cavra_contracts.deliveries import ESCALATION_SOURCE, MessageDeliveredV1
from cavra_contracts.envelope import make_envelope
from cavra_contracts.notifications import NotificationDeliveredV1
from tests.integration.test_notification_delivery import SIGNING_SECRET, connector_config
from tests.support.escalations import planned
from tests.support.fake_providers import FakeProviders
from tests.support.harness import FakeClock, eventually, running_service, stored_events

ESCALATION_TYPE = "cavra.go_backend.rollback_drill.notification_escalation"
POLICY = {
    "owner_routes": {
        "release-governance": {
            "providers": ["webhook"],
            "acknowledgement_minutes": 30,
            "escalation_owner": "release-manager",
        },
        "release-manager": {"providers": ["teams", "webhook"]},
    }
}


async def test_a_breach_is_delivered_to_the_escalation_owner_once(
    nats_url: str, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAVRA_TEST_JIRA_TOKEN", "CANARY-JIRA-TOKEN")
    clock = FakeClock()
    async with FakeProviders(webhook_secret=SIGNING_SECRET) as fake:
        config = connector_config(fake, tmp_path / "connectors.json")
        fast = {"clock": clock, "escalation_tick_seconds": 0.05}
        async with (
            running_service("delivery", nats_url, database_url, connector_config=str(config)),
            running_service("escalation", nats_url, database_url, **fast) as escalation,
            running_service("escalation", nats_url, database_url, **fast),
        ):
            plan = planned("payments", now=clock(), routing_policy=POLICY)
            (route,) = plan.plan.deliverable()
            await escalation.bus.publish(make_envelope(plan, producer="router"))

            async def plan_delivered() -> bool:
                return bool(await stored_events(nats_url, NotificationDeliveredV1.MESSAGE.subject))

            await eventually(plan_delivered, what="the plan's own delivery")
            assert fake.requests_for("teams") == []
            clock.advance(minutes=30)

            async def job_delivered() -> bool:
                return bool(await stored_events(nats_url, MessageDeliveredV1.MESSAGE.subject))

            await eventually(job_delivered, what="the escalation job's delivery")
            clock.advance(minutes=30)
            (event,) = await stored_events(nats_url, MessageDeliveredV1.MESSAGE.subject)

        job: dict[str, Any] = event.payload
        assert (job["job_id"], job["source"], job["success"]) == (
            f"escalation-{route.route_id}",
            ESCALATION_SOURCE,
            True,
        )
        assert sorted((d["provider"], d["owner"], d["route_id"]) for d in job["deliveries"]) == [
            ("teams", "release-manager", route.route_id),
            ("webhook", "release-manager", route.route_id),
        ]
        (teams,) = fake.requests_for("teams")
        assert "release-manager" in teams.raw.decode()
        escalations = [r for r in fake.requests_for("webhook") if r.body.get("type") == ESCALATION_TYPE]
        assert len(escalations) == 1, "two replicas, one escalation"
        assert escalations[0].body["data"]["route_id"] == route.route_id
        assert escalations[0].body["data"]["escalation_owner"] == "release-manager"
