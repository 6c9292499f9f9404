"""The reporting read models over real NATS and PostgreSQL: history filters and pages, the dashboard's
counts (outstanding per current plan), poison events, and a rebuild by replay that answers byte for byte
the same."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import httpx

from cavra_contracts.envelope import make_envelope
from cavra_contracts.failures import rejection_subject
from cavra_contracts.notifications import PlanRejectedV1
from cavra_reporting.rebuild import StillRunning, rebuild
from tests.integration.test_reporting_audit import audit_mix
from tests.support import reporting_events as ev
from tests.support.harness import (
    answering,
    eventually,
    gateway_client,
    running_service,
    service_settings,
    stored_events,
)

BASE = "/runtime/go-pilot/rollback-drill-notifications"
AUDIT = "go_backend_rollback_drill_acknowledgement_audit"


async def _applied(nats_url: str) -> None:
    async def done() -> bool:
        return await ev.settled(nats_url)

    await eventually(done, what="the reporting consumer to settle every event")


async def _get(api: httpx.AsyncClient, path: str = "", **params: Any) -> dict[str, Any]:
    response = await api.get(f"{BASE}{path}", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _kinds(page: dict[str, Any]) -> list[str]:
    return [item["metadata_kind"] for item in page["items"]]


async def test_history_filters_alone_and_combined(nats_url: str, database_url: str) -> None:
    await ev.publish(nats_url, ev.realistic_mix())
    async with (
        running_service("reporting", nats_url, database_url),
        gateway_client(nats_url, database_url, services=("reporting",)) as api,
    ):
        await _applied(nats_url)
        everything = await _get(api)
        assert everything["schema_version"] == "cavra.go-backend-pilot.rollback-drill-notification-history.v1"
        assert (everything["total"], everything["limit"], everything["offset"]) == (16, 50, 0)
        created = [item["created_at"] for item in everything["items"]]
        assert created == sorted(created, reverse=True), "newest first"
        assert everything["items"][0]["acknowledgement_id"] == "gordack-b1p-slack"

        async def total(**params: Any) -> int:
            page = await _get(api, **params)
            assert len(page["items"]) == page["total"]
            return int(page["total"])

        assert await total(schedule_id="sched-b") == 7  # plan, its delivery, 2 escalations, 2 jobs, 1 ack
        assert await total(metadata_kind="go-backend-rollback-drill-notification-plan") == 3
        assert await total(acknowledgement_state="resolved") == 1
        assert await total(connector_delivery_source="go_backend_rollback_drill_notification") == 3
        assert await total(connector_delivery_source="go_backend_rollback_drill_notification_escalation") == 2
        assert await total(delivery_success="false") == 1
        assert await total(delivery_success="true") == 4
        # 3 stale plans, their 3 deliveries, the breached escalation plan, the escalation (reminder: warning)
        assert await total(alert_level="critical") == 8
        assert await total(alert_level="warning") == 1
        assert await total(provider="pagerduty") == 4  # 2 escalation items + 2 jobs
        assert await total(provider="teams") == 5  # a1 + a2 plans and deliveries, the dismissal
        # combined filters AND
        assert await total(provider="slack", metadata_kind="go-backend-rollback-drill-notification-ack") == 4
        assert await total(schedule_id="sched-a", acknowledgement_state="dismissed") == 1
        assert await total(schedule_id="sched-b", delivery_success="false", provider="slack") == 1
        assert await total(schedule_id="sched-a", provider="pagerduty") == 0
        # up to three filters the total is a counter, with four a count: both agree with the items
        assert (
            await total(
                provider="slack",
                metadata_kind="go-backend-rollback-drill-notification-ack",
                acknowledgement_state="acknowledged",
            )
            == 2
        )
        four = {
            "schedule_id": "sched-b",
            "provider": "slack",
            "delivery_success": "false",
            "alert_level": "critical",
        }
        assert await total(**four) == 1
        assert await total(**four, metadata_kind="go-backend-rollback-drill-notification-plan") == 0
        job = await _get(api, connector_delivery_source="go_backend_rollback_drill_notification_escalation")
        assert {item["schedule_id"] for item in job["items"]} == {"sched-b"}, "job deliveries take the plan's"


async def test_history_refuses_bad_filters_naming_them(nats_url: str, database_url: str) -> None:
    async with gateway_client(nats_url, database_url, services=("reporting",)) as api:
        for params, field in [
            ({"limit": 201}, "query.limit"),
            ({"limit": 0}, "query.limit"),
            ({"offset": 100_001}, "query.offset"),
            ({"cursor": "not-a-cursor"}, "query.cursor"),
            ({"acknowledgement_state": "done"}, "query.acknowledgement_state"),
            ({"delivery_success": "maybe"}, "query.delivery_success"),
            ({"alert_level": "red"}, "query.alert_level"),
            ({"schedule_id": "x" * 129}, "query.schedule_id"),
        ]:
            response = await api.get(BASE, params=params)
            assert response.status_code == 422, (params, response.text)
            assert field in [e["field"] for e in response.json()["errors"]], response.text
        anonymous = await api.get(BASE, headers={"Authorization": ""})
        assert anonymous.status_code == 401
        assert (await api.get(f"{BASE}/dashboard", headers={"Authorization": ""})).status_code == 401


async def test_pages_by_offset_and_by_cursor_agree(nats_url: str, database_url: str) -> None:
    await ev.publish(nats_url, ev.realistic_mix())
    async with (
        running_service("reporting", nats_url, database_url),
        gateway_client(nats_url, database_url, services=("reporting",)) as api,
    ):
        await _applied(nats_url)
        whole = [item["session_id"] for item in (await _get(api, limit=200))["items"]]
        assert len(whole) == 16 and len(set(whole)) == 16
        by_offset: list[str] = []
        for offset in range(0, 20, 5):
            page = await _get(api, limit=5, offset=offset)
            assert page["total"] == 16
            by_offset += [item["session_id"] for item in page["items"]]
        by_cursor: list[str] = []
        cursor = ""
        pages = 0
        while True:
            page = await _get(api, limit=5, cursor=cursor)
            pages += 1
            by_cursor += [item["session_id"] for item in page["items"]]
            if page["next"] is None:
                break
            cursor = page["next"]
        assert by_offset == by_cursor == whole
        assert pages == 4
        slack = await _get(api, provider="slack", limit=3)
        rest = await _get(api, provider="slack", limit=50, cursor=slack["next"])
        every = await _get(api, provider="slack", limit=50)
        assert [i["session_id"] for i in slack["items"] + rest["items"]] == [
            i["session_id"] for i in every["items"]
        ]
        assert rest["next"] is None


async def test_dashboard_counts_outstanding_routes_of_the_current_plan_only(
    nats_url: str, database_url: str
) -> None:
    await ev.publish(nats_url, ev.realistic_mix())
    async with (
        running_service("reporting", nats_url, database_url),
        gateway_client(nats_url, database_url, services=("reporting",)) as api,
    ):
        await _applied(nats_url)
        board = await _get(api, "/dashboard")
    assert board["schema_version"] == "cavra.go-backend-pilot.rollback-drill-notification-dashboard.v1"
    assert board["generated_at"] == ev.at(90).isoformat(), "the time of the latest event, not now"
    assert board["plan_count"] == 3
    assert (board["delivery_count"], board["notification_delivery_count"]) == (5, 3)
    assert (board["escalation_delivery_count"], board["failed_delivery_count"]) == (2, 1)
    assert board["acknowledgement_count"] == 5
    # sched-a: plan a2 replaced a1 (a1's ack clears nothing of a2); a2 slack escalated then resolved
    # (clear), a2 teams dismissed (outstanding). sched-b: release-governance slack never acked and
    # escalated (breached), platform slack acknowledged (clear).
    outstanding = [
        (r["schedule_id"], r["provider"], r["owner"]) for r in board["outstanding_acknowledgements"]
    ]
    assert outstanding == [
        ("sched-a", "teams", "release-governance"),
        ("sched-b", "slack", "release-governance"),
    ]
    assert board["outstanding_acknowledgement_count"] == 2
    assert [r["acknowledgement_state"] for r in board["outstanding_acknowledgements"]] == [
        "dismissed",
        "outstanding",
    ]
    assert [r["plan_id"] for r in board["outstanding_acknowledgements"]] == ["gordn-a2", "gordn-b1"]
    assert (
        board["escalation_route_count"],
        board["reminder_route_count"],
        board["breached_route_count"],
    ) == (
        1,
        1,
        1,
    )
    assert board["escalation_plan_count"] == 1
    assert board["latest_escalation_plan"]["breached_count"] == 1
    assert board["alert_level"] == "critical"
    assert [item["session_id"] for item in board["latest"]][:2] == ["gordack-b1p-slack", "gordack-a2s2-slack"]
    assert len(board["latest"]) == 10
    assert board["acknowledgement_audit_delivery_count"] == 0
    assert board["acknowledgement_audit_delivery_success_rate"] is None
    assert board["acknowledgement_audit_delivery_health"] == "healthy"


async def test_escalated_and_dismissed_stay_outstanding_resolved_and_acknowledged_clear(
    nats_url: str, database_url: str
) -> None:
    planned = ev.plan("sched-c", "gordn-c1", 0, providers=("slack", "teams", "webhook", "jira"))
    async with (
        running_service("reporting", nats_url, database_url),
        gateway_client(nats_url, database_url, services=("reporting",)) as api,
    ):

        async def outstanding_after(*events: Any) -> int:
            await ev.publish(nats_url, list(events))
            await _applied(nats_url)
            return int((await _get(api, "/dashboard"))["outstanding_acknowledgement_count"])

        assert await outstanding_after(ev.envelope(planned, 0)) == 4
        assert (
            await outstanding_after(ev.envelope(ev.acks(planned, "escalated", ["slack"], 1, bulk_id="e"), 1))
            == 4
        )
        assert (
            await outstanding_after(ev.envelope(ev.acks(planned, "dismissed", ["teams"], 2, bulk_id="d"), 2))
            == 4
        )
        assert (
            await outstanding_after(ev.envelope(ev.acks(planned, "resolved", ["slack"], 3, bulk_id="r"), 3))
            == 3
        )
        bulk = ev.acks(planned, "acknowledged", ["teams", "webhook"], 4, bulk_id="a")
        assert await outstanding_after(ev.envelope(bulk, 4)) == 1
        # an older acknowledgement applied late never overrides a newer one
        late = ev.acks(planned, "escalated", ["webhook"], 3.5, bulk_id="late")
        assert await outstanding_after(ev.envelope(late, 5)) == 1
        # a newer plan of the schedule makes its routes the outstanding ones
        replaced = ev.plan("sched-c", "gordn-c2", 10, providers=("slack", "teams", "webhook", "jira"))
        assert await outstanding_after(ev.envelope(replaced, 10)) == 4
        # an older plan applied late stays history only
        older = ev.plan("sched-c", "gordn-c0", -10, providers=("slack",))
        assert await outstanding_after(ev.envelope(older, 11)) == 4
        board = await _get(api, "/dashboard")
        assert {r["plan_id"] for r in board["outstanding_acknowledgements"]} == {"gordn-c2"}
        assert board["plan_count"] == 3


async def test_poison_events_are_dead_lettered_and_the_next_events_apply(
    nats_url: str, database_url: str
) -> None:
    planned = ev.plan("sched-p", "gordn-p1", 0)
    undecodable = make_envelope(planned, producer="older-router").model_copy(
        update={"payload": {"plan": {"plan_id": 7}}}
    )
    # Decodes, but no index takes a schedule id this long: the apply fails the same way every time.
    escalation, _ = ev.escalated(planned, "slack", 30)
    unstorable = ev.envelope(escalation.model_copy(update={"schedule_id": secrets.token_hex(4000)}), 30)
    async with (
        running_service("reporting", nats_url, database_url),
        gateway_client(nats_url, database_url, services=("reporting",)) as api,
    ):
        started = time.monotonic()
        await ev.publish(
            nats_url,
            [undecodable, unstorable, ev.envelope(planned, 0), ev.envelope(ev.delivered(planned), 1)],
        )
        await _applied(nats_url)
        assert time.monotonic() - started < 10, "the events behind the poisons waited"
        board = await _get(api, "/dashboard")
        assert (board["plan_count"], board["delivery_count"], board["outstanding_acknowledgement_count"]) == (
            1,
            1,
            2,
        )
        assert (await _get(api))["total"] == 2, "nothing of the failed apply was kept"

        async def rejected() -> bool:
            return len(await stored_events(nats_url, rejection_subject("reporting"))) == 2

        await eventually(rejected, what="both poisons' rejections")
        rejections = {
            e.causation_id: e.payload["reason"]
            for e in await stored_events(nats_url, rejection_subject("reporting"))
        }
        assert rejections == {undecodable.message_id: "undecodable", unstorable.message_id: "permanent"}


async def _answers(api: httpx.AsyncClient) -> list[bytes]:
    queries: list[tuple[str, dict[str, Any]]] = [
        ("/dashboard", {}),
        ("", {"limit": 200}),
        ("", {"limit": 4}),
        ("", {"provider": "slack", "limit": 3, "offset": 2}),
        ("", {"schedule_id": "sched-b"}),
        ("", {"connector_delivery_source": AUDIT}),
        ("", {"delivery_success": "true", "alert_level": "critical"}),
        ("", {"connector_delivery_source": AUDIT, "delivery_success": "false"}),
        ("", {"provider": "siem"}),
        ("", {"metadata_kind": "go-backend-rollback-drill-acknowledgement-audit-delivery-plan"}),
    ]
    answers = []
    for path, params in queries:
        response = await api.get(f"{BASE}{path}", params=params)
        assert response.status_code == 200, response.text
        answers.append(response.content)
    first = (await api.get(BASE, params={"limit": 4})).json()
    answers.append((await api.get(BASE, params={"limit": 4, "cursor": first["next"]})).content)
    return answers


async def test_a_rebuild_by_replay_from_sequence_one_answers_byte_for_byte_the_same(
    nats_url: str, database_url: str
) -> None:
    mix = [*ev.realistic_mix(), *audit_mix()]
    # A producer's retry after the duplicate window (same content, new id), and an event not read.
    retried = [
        envelope.model_copy(update={"message_id": f"retry-{envelope.message_id}"}) for envelope in mix[:4]
    ]
    unread = ev.envelope(PlanRejectedV1(status_code=404, problems=[]), 2, "router")
    async with gateway_client(nats_url, database_url, services=("reporting",)) as api:
        async with (
            running_service("reporting", nats_url, database_url, event_concurrency=8),
            running_service("reporting", nats_url, database_url, event_concurrency=8),  # two replicas
        ):
            await ev.publish(nats_url, mix)
            await ev.publish(nats_url, mix[:3])  # the same ids again: JetStream drops them
            await ev.publish(nats_url, [*retried, unread])
            await _applied(nats_url)
            before = await _answers(api)
            board = json.loads(before[0])
            assert (board["plan_count"], board["delivery_count"], board["acknowledgement_count"]) == (3, 7, 5)
            assert board["outstanding_acknowledgement_count"] == 2
            assert (
                board["acknowledgement_audit_package_count"],
                board["acknowledgement_audit_delivery_count"],
            ) == (
                3,
                2,
            )
            assert board["acknowledgement_audit_delivery_success_rate"] == 0.5
            settings = service_settings("reporting", nats_url, database_url)
            try:
                await rebuild(settings, timeout=5)
            except StillRunning:
                pass
            else:
                raise AssertionError("a rebuild must refuse while the service runs")
        rebuilt = await rebuild(service_settings("reporting", nats_url, database_url), timeout=60)
        assert rebuilt.events >= len(mix)
        async with running_service("reporting", nats_url, database_url):
            await answering(api, f"{BASE}/dashboard")
            after = await _answers(api)
    assert after == before
