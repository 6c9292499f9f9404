"""A delivery job sent by the real delivery service shows up in the read models as its producer wrote
it: a redacted delivery record of the job's source, under its plan's schedule, failed providers and all."""

from __future__ import annotations

from pathlib import Path

from cavra_contracts.deliveries import ESCALATION_SOURCE
from cavra_contracts.envelope import make_envelope
from tests.integration.test_delivery_jobs import EVENT_TYPE, job
from tests.integration.test_notification_delivery import SIGNING_SECRET, connector_config
from tests.support import reporting_events as ev
from tests.support.fake_providers import FakeProviders
from tests.support.harness import eventually, gateway_client, running_service

BASE = "/runtime/go-pilot/rollback-drill-notifications"


async def test_a_real_job_delivery_is_a_redacted_record_under_its_plans_schedule(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    planned = ev.plan("payments", "gordn-0000000000000001", 0)
    async with FakeProviders(webhook_secret=SIGNING_SECRET) as fake:
        config = connector_config(fake, tmp_path / "connectors.json")
        async with (
            running_service("delivery", nats_url, database_url, connector_config=str(config)),
            running_service("reporting", nats_url, database_url),
            gateway_client(nats_url, database_url, services=("reporting",)) as api,
        ):
            await ev.publish(
                nats_url,
                [make_envelope(job("esc-1", ("slack", "webhook", "pagerduty")), producer="escalation")],
            )

            async def recorded() -> bool:
                page = (await api.get(BASE, params={"connector_delivery_source": ESCALATION_SOURCE})).json()
                return page["total"] == 1

            await eventually(recorded, what="the job's delivery record in the history")
            await ev.publish(nats_url, [ev.envelope(planned, 0, "router")])  # its plan, after the job

            async def scheduled() -> bool:
                page = (
                    await api.get(BASE, params={"schedule_id": "payments", "delivery_success": "false"})
                ).json()
                return page["total"] == 1

            await eventually(scheduled, what="the job's record to take its plan's schedule")
            (record,) = (await api.get(BASE, params={"provider": "pagerduty"})).json()["items"]
            board = (await api.get(f"{BASE}/dashboard")).json()
    assert record["metadata_kind"] == "release-connector-delivery"
    assert (record["connector_delivery_source"], record["event_id"], record["event_type"]) == (
        ESCALATION_SOURCE,
        "esc-1",
        EVENT_TYPE,
    )
    assert (record["schedule_id"], record["plan_id"], record["delivery_success"]) == (
        "payments",
        "gordn-0000000000000001",
        False,
    )
    assert record["failed_providers"] == ["pagerduty"] and record["outcome_counts"]["unconfigured"] == 1
    assert record["providers"] == ["pagerduty", "slack", "webhook"]
    assert all("/" not in host for host in record["target_hosts"]), "hosts only, never a URL path"
    assert (board["escalation_delivery_count"], board["failed_delivery_count"]) == (1, 1)
