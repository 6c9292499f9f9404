"""Acknowledgement-audit packages, delivery plans and deliveries in the reporting read models (spec §3.9,
§3.10, #41): a real package and delivery through the gateway (acknowledgement and delivery services, fake
webhook and HEC) show in the history under the §3.9 filters and in the dashboard's audit counters.

The audit events built here as the acknowledgement and delivery services build them (``audit_mix``) are
shared with the order and replay tests of the read models.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from cavra_contracts.audit import (
    AUDIT_DELIVERY_EVENT_TYPE,
    AUDIT_DELIVERY_PLAN_KIND,
    AUDIT_PACKAGE_KIND,
    AuditCountsV1,
    AuditDeliveryPlannedV1,
    AuditFiltersV1,
    AuditPackageGeneratedV1,
)
from cavra_contracts.deliveries import AUDIT_SOURCE, MessageDeliveredV1
from cavra_contracts.envelope import Envelope, make_envelope
from cavra_contracts.notifications import DELIVERY_RECORD_KIND, RouteDeliveryV1
from tests.integration.test_audit_api import connectors
from tests.integration.test_notification_delivery import SIGNING_SECRET
from tests.support import reporting_events as ev
from tests.support.acks import plan_event
from tests.support.fake_providers import FakeProviders
from tests.support.harness import eventually, gateway_client, running_service

NP = "/runtime/go-pilot/rollback-drill-notifications"


def package(
    audit_id: str, minutes: float, *, sequence: int, schedule_id: str = "", provider: str = ""
) -> AuditPackageGeneratedV1:
    """A signed package's summary: one outstanding and one resolved route."""
    return AuditPackageGeneratedV1(
        audit_id=audit_id,
        sequence=sequence,
        payload_sha256="ab" * 32,
        previous_hash="" if sequence == 1 else "cd" * 32,
        key_id="ef" * 32,
        generated_at=ev.at(minutes).isoformat(),
        generated_by=ev.OPERATOR.actor,
        alert_level="critical",
        filters=AuditFiltersV1(schedule_id=schedule_id, provider=provider),
        counts=AuditCountsV1(
            route_count=2,
            acknowledgement_count=1,
            acknowledged_count=0,
            resolved_count=1,
            escalated_count=0,
            dismissed_count=0,
            outstanding_count=1,
        ),
        plan_ids=["gordn-a1"],
        trigger="delivery",
        actor=ev.OPERATOR,
    )


def delivery_plan(
    audit: AuditPackageGeneratedV1, delivery_id: str, providers: Sequence[str], *, cadence: str
) -> AuditDeliveryPlannedV1:
    return AuditDeliveryPlannedV1(
        delivery_id=delivery_id,
        audit_id=audit.audit_id,
        sequence=audit.sequence,
        cadence=cadence,
        schedule_ref="release-governance-hourly" if cadence != "on_demand" else "",
        requested_provider=",".join(providers),
        selected_providers=list(providers),
        route_count=audit.counts.route_count,
        outstanding_count=audit.counts.outstanding_count,
        escalated_count=audit.counts.escalated_count,
        alert_level=audit.alert_level,
        actor=ev.OPERATOR,
    )


def audit_delivered(plan: AuditDeliveryPlannedV1, *, failed: Sequence[str] = ()) -> MessageDeliveredV1:
    """The delivery service's job evidence of ``plan`` (job id = delivery id), one target per provider."""
    return MessageDeliveredV1(
        job_id=plan.delivery_id,
        source=AUDIT_SOURCE,
        kind="acknowledgement_audit_delivery",
        event_type=AUDIT_DELIVERY_EVENT_TYPE,
        success=not failed,
        record_id=f"rcd-{plan.delivery_id}",
        deliveries=[
            RouteDeliveryV1(
                delivery_id=f"{plan.delivery_id}:{provider}",
                route_id="",
                route_key="",
                plan_id="",
                provider=provider,
                owner="",
                connector=provider,
                connector_type=provider,
                target_host="127.0.0.1",
                outcome="failed" if provider in failed else "delivered",
                idempotency_key=f"{plan.delivery_id}:{provider}",
                attempt_count=1,
                status_code=500 if provider in failed else 200,
                attempts=[],
                completed_at=None,
            )
            for provider in plan.selected_providers
        ],
    )


def audit_mix() -> list[Envelope]:
    """A package on demand, a package delivered hourly to siem (failed) and webhook, and one more
    delivered on demand to webhook: 3 packages, 2 delivery plans, 2 deliveries, one failed."""
    first = package("gordackaudit-0000000000000001", 100, sequence=1, schedule_id="sched-a")
    second = package("gordackaudit-0000000000000002", 110, sequence=2)
    third = package("gordackaudit-0000000000000003", 120, sequence=3, provider="webhook")
    hourly = delivery_plan(second, "gordackdelivery-0000000000000002", ["siem", "webhook"], cadence="hourly")
    once = delivery_plan(third, "gordackdelivery-0000000000000003", ["webhook"], cadence="on_demand")
    return [
        make_envelope(first, producer="acknowledgement", occurred_at=ev.at(100)),
        make_envelope(second, producer="acknowledgement", occurred_at=ev.at(110)),
        make_envelope(hourly, producer="acknowledgement", occurred_at=ev.at(110)),
        make_envelope(audit_delivered(hourly, failed=["siem"]), producer="delivery", occurred_at=ev.at(111)),
        make_envelope(third, producer="acknowledgement", occurred_at=ev.at(120)),
        make_envelope(once, producer="acknowledgement", occurred_at=ev.at(120)),
        make_envelope(audit_delivered(once), producer="delivery", occurred_at=ev.at(121)),
    ]


async def _acknowledgement_scalar(database_url: str, sql: str, *args: Any) -> Any:
    conn = await asyncpg.connect(database_url, server_settings={"search_path": "acknowledgement"})
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


async def _page(api: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await api.get(NP, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _kinds(page: dict[str, Any]) -> list[str]:
    return [item["metadata_kind"] for item in page["items"]]


async def test_an_audit_package_and_its_deliveries_show_in_the_history_and_the_dashboard(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    async with FakeProviders(webhook_secret=SIGNING_SECRET) as fake:
        config = connectors(fake, tmp_path / "connectors.json")
        async with (
            running_service("acknowledgement", nats_url, database_url, home=tmp_path / "home"),
            running_service("delivery", nats_url, database_url, connector_config=str(config)),
            running_service("reporting", nats_url, database_url),
            gateway_client(nats_url, database_url) as api,
        ):
            planned = plan_event(
                "s1", "gordn-0000000000000f01", ev.T0, owners=("release-governance",), providers=("webhook",)
            )
            await ev.publish(nats_url, [make_envelope(planned, producer="router")])

            async def plan_known() -> bool:
                tracked = await _acknowledgement_scalar(
                    database_url, "SELECT count(*) FROM latest_plans WHERE plan_id = $1", planned.plan.plan_id
                )
                page = await _page(api, metadata_kind="go-backend-rollback-drill-notification-plan")
                return bool(tracked == 1 and page["total"] == 1)

            await eventually(plan_known, what="the plan tracked by acknowledgement and reporting")
            packaged = await api.post(
                f"{NP}/acknowledgements/audit-package",
                json={"schedule_id": "s1", "owner": "release-governance"},
            )
            assert packaged.status_code == 200, packaged.text
            audit_id = packaged.json()["audit_package"]["audit_id"]
            fake.script("hec", [500, 500, 500])
            failing = await api.post(
                f"{NP}/acknowledgements/audit-delivery",
                json={
                    "delivery_provider": "siem",
                    "cadence": "hourly",
                    "schedule_ref": "rg-hourly",
                    "retries": 0,
                },
            )
            assert failing.status_code == 200, failing.text
            assert failing.json()["success"] is False
            delivered = await api.post(
                f"{NP}/acknowledgements/audit-delivery", json={"delivery_provider": "webhook", "retries": 0}
            )
            assert delivered.status_code == 200 and delivered.json()["success"] is True, delivered.text
            hourly_plan = failing.json()["delivery_plan"]

            async def all_applied() -> bool:
                page = await _page(api, connector_delivery_source=AUDIT_SOURCE)
                return page["total"] == 7  # 3 packages, 2 delivery plans, 2 deliveries

            await eventually(all_applied, what="the audit events in the history")
            audit = await _page(api, connector_delivery_source=AUDIT_SOURCE, limit=200)
            assert sorted(_kinds(audit)) == sorted(
                [AUDIT_PACKAGE_KIND] * 3 + [AUDIT_DELIVERY_PLAN_KIND] * 2 + [DELIVERY_RECORD_KIND] * 2
            )
            failed = await _page(api, connector_delivery_source=AUDIT_SOURCE, delivery_success="false")
            assert failed["total"] == 1
            [record] = failed["items"]
            assert record["delivery_id"] == hourly_plan["delivery_id"] == record["event_id"]
            assert record["failed_providers"] == ["siem"]
            siem = await _page(api, provider="siem")
            assert siem["total"] == 2 and sorted(_kinds(siem)) == sorted(
                [AUDIT_DELIVERY_PLAN_KIND, DELIVERY_RECORD_KIND]
            )
            plan_item = next(i for i in siem["items"] if i["metadata_kind"] == AUDIT_DELIVERY_PLAN_KIND)
            assert (plan_item["cadence"], plan_item["audit_id"]) == ("hourly", hourly_plan["audit_id"])
            assert plan_item["selected_providers"] == ["siem"] and plan_item["alert_level"]
            scheduled = await _page(api, schedule_id="s1", metadata_kind=AUDIT_PACKAGE_KIND)
            assert [i["audit_id"] for i in scheduled["items"]] == [audit_id]
            board = (await api.get(f"{NP}/dashboard")).json()
    assert fake.unexpected == []
    assert {
        key: board[key]
        for key in (
            "acknowledgement_audit_package_count",
            "acknowledgement_audit_delivery_plan_count",
            "acknowledgement_audit_delivery_count",
            "failed_acknowledgement_audit_delivery_count",
            "acknowledgement_audit_delivery_success_count",
            "acknowledgement_audit_delivery_success_rate",
            "acknowledgement_audit_delivery_providers",
            "acknowledgement_audit_delivery_health",
        )
    } == {
        "acknowledgement_audit_package_count": 3,
        "acknowledgement_audit_delivery_plan_count": 2,
        "acknowledgement_audit_delivery_count": 2,
        "failed_acknowledgement_audit_delivery_count": 1,
        "acknowledgement_audit_delivery_success_count": 1,
        "acknowledgement_audit_delivery_success_rate": 0.5,
        "acknowledgement_audit_delivery_providers": ["siem", "webhook"],
        "acknowledgement_audit_delivery_health": "critical",
    }
    assert board["alert_level"] == "critical" and board["failed_delivery_count"] == 1


async def test_the_audit_mix_in_the_history_and_the_dashboard(nats_url: str, database_url: str) -> None:
    await ev.publish(nats_url, audit_mix())
    async with (
        running_service("reporting", nats_url, database_url),
        gateway_client(nats_url, database_url, services=("reporting",)) as api,
    ):

        async def settled() -> bool:
            return await ev.settled(nats_url)

        await eventually(settled, what="the reporting consumer to settle every event")
        assert (await _page(api, connector_delivery_source=AUDIT_SOURCE))["total"] == 7
        assert (await _page(api, provider="webhook"))[
            "total"
        ] == 5  # a package filtered to it, 2 plans, 2 deliveries
        assert (await _page(api, provider="siem", delivery_success="false"))["total"] == 1
        assert (await _page(api, schedule_id="sched-a"))["total"] == 1
        assert (await _page(api, alert_level="critical", metadata_kind=AUDIT_PACKAGE_KIND))["total"] == 3
        board = (await api.get(f"{NP}/dashboard")).json()
    assert board["acknowledgement_audit_delivery_success_rate"] == 0.5
    assert board["acknowledgement_audit_delivery_providers"] == ["siem", "webhook"]
