"""DeliverMessageV1 jobs end to end: real NATS, PostgreSQL and HTTP to the local fake providers.

A job goes through the same pipeline as a notification plan: every target through the connectors
serving its provider, redacted evidence rows carrying the job's source, one record, one
MessageDeliveredV1. A redelivered job sends only what has no final outcome, an unconfigured
provider is reported, and a poison command is rejected without holding up the next one.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from cavra_contracts.deliveries import ESCALATION_SOURCE, DeliverMessageV1, MessageDeliveredV1
from cavra_contracts.envelope import make_envelope
from cavra_contracts.failures import MessageRejectedV1, rejection_subject
from cavra_contracts.notifications import DeliveryStatusQueryV1, NotificationDeliveredV1
from cavra_contracts.subjects import COMMAND_STREAM
from cavra_delivery.handlers import JOBS_CONSUMER
from cavra_runtime.bus import Bus
from tests.integration.test_delivery_crash_safety import fail_once, fired
from tests.integration.test_notification_delivery import SIGNING_SECRET, connector_config
from tests.support.fake_providers import FakeProviders
from tests.support.harness import eventually, running_service, stored_events

EVENT_TYPE = "cavra.go_backend.rollback_drill.escalation"
PROVIDERS = ("slack", "teams", "jira", "servicenow", "webhook", "siem")


def job(job_id: str, providers: tuple[str, ...] = PROVIDERS, **changes: Any) -> DeliverMessageV1:
    body: dict[str, Any] = {
        "job_id": job_id,
        "source": ESCALATION_SOURCE,
        "content": {
            "kind": "rollback_drill_escalation",
            "event_type": EVENT_TYPE,
            "title": "Rollback drill route escalated: payments",
            "text": "No acknowledgement within 30 min; escalated to platform-lead.",
            "severity": "critical",
            "facts": [{"title": "Schedule", "value": "payments"}, {"title": "Owner", "value": "platform"}],
            "data": {"escalation_owner": "platform-lead", "age_minutes": 31},
        },
        "targets": [
            {
                "target_key": f"platform-lead:{provider}",
                "provider": provider,
                "owner": "platform-lead",
                "route_id": f"gordroute-{provider}",
                "schedule_id": "payments",
                "plan_id": "gordn-0000000000000001",
            }
            for provider in providers
        ],
        "delivery": {"retries": 0},
    }
    body.update(changes)
    return DeliverMessageV1.model_validate(body)


@asynccontextmanager
async def publisher(nats_url: str) -> AsyncIterator[Bus]:
    bus = await Bus.connect(nats_url, name="test-jobs")
    try:
        await bus.ensure_streams()
        yield bus
    finally:
        await bus.close()


@asynccontextmanager
async def delivering(
    nats_url: str, database_url: str, tmp_path: Path, **settings: Any
) -> AsyncIterator[tuple[FakeProviders, Bus]]:
    """The delivery service (with ``settings``) against fake providers of every kind, and a bus to
    publish jobs on."""
    async with FakeProviders(webhook_secret=SIGNING_SECRET) as fake:
        config = connector_config(fake, tmp_path / "connectors.json")
        async with (
            running_service("delivery", nats_url, database_url, connector_config=str(config), **settings),
            publisher(nats_url) as bus,
        ):
            yield fake, bus


async def delivered_events(nats_url: str) -> list[dict[str, Any]]:
    return [e.payload for e in await stored_events(nats_url, MessageDeliveredV1.MESSAGE.subject)]


async def handled(bus: Bus, sequence: int) -> bool:
    """The job consumer has settled every command up to stream ``sequence``."""
    info = await bus.js.consumer_info(COMMAND_STREAM, JOBS_CONSUMER)
    return info.ack_floor is not None and (info.ack_floor.stream_seq or 0) >= sequence


async def test_a_job_reaches_every_provider_with_redacted_evidence_and_one_event(
    nats_url: str, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAVRA_TEST_JIRA_TOKEN", "CANARY-JIRA-TOKEN")
    async with delivering(nats_url, database_url, tmp_path) as (fake, bus):
        await bus.publish(make_envelope(job("esc-1", (*PROVIDERS, "pagerduty")), producer="escalation"))

        async def one_event() -> bool:
            return len(await delivered_events(nats_url)) == 1

        await eventually(one_event, what="the job's MessageDeliveredV1")
        status = await bus.request(
            make_envelope(DeliveryStatusQueryV1(plan_id="esc-1"), producer="test"), timeout=5
        )
    [event] = await delivered_events(nats_url)
    assert [len(fake.requests_for(p)) for p in ("slack", "teams", "webhook", "hec")] == [1, 1, 1, 1]
    assert [r.step for r in fake.requests_for("jira")] == ["search", "create"]
    assert [r.step for r in fake.requests_for("servicenow")] == ["query", "create"]
    [webhook] = fake.requests_for("webhook")
    assert (
        webhook.body["type"] == EVENT_TYPE and webhook.body["subject"] == "job/esc-1/route/gordroute-webhook"
    )
    assert webhook.body["data"]["escalation_owner"] == "platform-lead"
    assert webhook.body["data"]["route_id"] == "gordroute-webhook"
    assert "ack_url" not in webhook.body["data"], "no links unless the job asks and links are configured"
    assert fake.jira_issues[0]["fields"]["summary"] == "Rollback drill route escalated: payments"

    assert (event["job_id"], event["source"], event["kind"], event["event_type"]) == (
        "esc-1",
        ESCALATION_SOURCE,
        "rollback_drill_escalation",
        EVENT_TYPE,
    )
    outcomes = {d["provider"]: d["outcome"] for d in event["deliveries"]}
    assert outcomes == dict.fromkeys(PROVIDERS, "delivered") | {"pagerduty": "unconfigured"}
    assert event["success"] is False, "an unconfigured target is reported, never dropped"
    ids = {d["delivery_id"] for d in event["deliveries"]}
    assert "esc-1:platform-lead:pagerduty:-" in ids and "esc-1:platform-lead:jira:jira" in ids
    assert all(d["plan_id"] == "gordn-0000000000000001" for d in event["deliveries"])
    assert await stored_events(nats_url, NotificationDeliveredV1.MESSAGE.subject) == []

    assert status.ok and status.result is not None
    result = status.result
    assert (result["complete"], result["success"], len(result["deliveries"])) == (True, False, 7)
    record = result["record"]
    assert (record["connector_delivery_source"], record["job_id"], record["event_type"]) == (
        ESCALATION_SOURCE,
        "esc-1",
        EVENT_TYPE,
    )
    assert record["failed_providers"] == ["pagerduty"] and record["record_id"] == event["record_id"]
    assert record["plan_id"] == "gordn-0000000000000001" and record["schedule_id"] == "payments"
    assert [(d["delivery_id"], d["outcome"], d["status_code"]) for d in result["deliveries"]] == [
        (d["delivery_id"], d["outcome"], d["status_code"]) for d in event["deliveries"]
    ]
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT job_id, source FROM delivery.deliveries")
        stored = await conn.fetchrow("SELECT plan_id, source FROM delivery.delivery_records")
    finally:
        await conn.close()
    assert {(r["job_id"], r["source"]) for r in rows} == {("esc-1", ESCALATION_SOURCE)} and len(rows) == 7
    assert (stored["plan_id"], stored["source"]) == (None, ESCALATION_SOURCE), "a job's record is no plan's"


async def test_a_redelivered_job_sends_only_what_has_no_final_outcome_and_nothing_twice(
    nats_url: str, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAVRA_TEST_JIRA_TOKEN", "CANARY-JIRA-TOKEN")
    async with delivering(nats_url, database_url, tmp_path) as (fake, bus):
        # An earlier pass sent the webhook target and committed its outcome, then died.
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute(
                """INSERT INTO delivery.deliveries (delivery_id, job_id, source, plan_id, route_id,
                       route_key, schedule_id, provider, owner, connector, connector_type, target_host,
                       status, attempt_count, status_code, attempts, completed_at)
                   VALUES ('esc-2:platform-lead:webhook:webhook', 'esc-2', $1, 'gordn-0000000000000001',
                       'gordroute-webhook', 'platform-lead:webhook', 'payments', 'webhook',
                       'platform-lead', 'webhook', 'webhook', '127.0.0.1', 'delivered', 1, 200, '[]',
                       now())""",
                ESCALATION_SOURCE,
            )
        finally:
            await conn.close()
        command = job("esc-2", ("webhook", "slack"))
        await bus.publish(make_envelope(command, producer="escalation"))

        async def one_event() -> bool:
            return len(await delivered_events(nats_url)) == 1

        await eventually(one_event, what="the job's MessageDeliveredV1")
        assert fake.requests_for("webhook") == [], "the target with a final outcome is not sent again"
        assert len(fake.requests_for("slack")) == 1

        again = await bus.publish(make_envelope(command, producer="escalation"))  # a new message id
        await eventually(lambda: handled(bus, again.sequence), what="the redelivered job to be handled")
    assert fake.requests_for("webhook") == [] and len(fake.requests_for("slack")) == 1, "nothing twice"
    [event] = await delivered_events(nats_url)
    assert sorted((d["provider"], d["outcome"]) for d in event["deliveries"]) == [
        ("slack", "delivered"),
        ("webhook", "delivered"),
    ]


async def test_a_job_whose_final_transaction_failed_is_redelivered_and_sends_nothing_again(
    nats_url: str, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAVRA_TEST_JIRA_TOKEN", "CANARY-JIRA-TOKEN")
    conn = await asyncpg.connect(database_url)
    try:
        async with delivering(nats_url, database_url, tmp_path) as (
            fake,
            bus,
        ):  # a webhook id twice: a failure
            await fail_once(conn, "job_record_fault", "delivery_records", "NEW.job_id = 'esc-5'")
            await bus.publish(make_envelope(job("esc-5", ("webhook", "jira", "slack")), producer="e"))

            async def one_event() -> bool:
                return len(await delivered_events(nats_url)) == 1

            await eventually(one_event, timeout=20, what="the job's event after the redelivery")
        assert await fired(conn, "job_record_fault") >= 2, "the first final transaction failed"
    finally:
        await conn.close()
    assert [len(fake.requests_for(p)) for p in ("webhook", "slack")] == [1, 1]
    assert [r.step for r in fake.requests_for("jira")] == ["search", "create"], "sent once"


async def test_a_poison_job_is_rejected_at_once_and_the_next_job_is_delivered(
    nats_url: str, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAVRA_TEST_JIRA_TOKEN", "CANARY-JIRA-TOKEN")
    async with delivering(nats_url, database_url, tmp_path) as (fake, bus):
        good = job("esc-3", ("webhook",)).model_dump(mode="json")
        payloads = [
            good | {"targets": good["targets"] * 2},  # two targets, one key: one delivery id for both
            good | {"targets": []},
            {"job_id": "esc-3", "source": ESCALATION_SOURCE},
        ]
        poisons = [
            make_envelope(job("esc-3", ("webhook",)), producer="older-escalation").model_copy(
                update={"payload": payload}
            )
            for payload in payloads
        ]
        for poison in poisons:
            await bus.publish(poison)
        started = time.monotonic()
        await bus.publish(make_envelope(job("esc-4", ("webhook",)), producer="escalation"))

        async def next_delivered() -> bool:
            return [e["job_id"] for e in await delivered_events(nats_url)] == ["esc-4"]

        await eventually(next_delivered, what="the job after the poisons")
        elapsed = time.monotonic() - started

        async def all_rejected() -> bool:
            return len(await stored_events(nats_url, rejection_subject("delivery"))) == len(poisons)

        await eventually(all_rejected, what="a rejection per poison")
    assert len(fake.requests_for("webhook")) == 1
    assert elapsed < 10, f"the next job waited {elapsed:.1f}s behind the poisons"
    rejections = [
        MessageRejectedV1.model_validate(e.payload)
        for e in await stored_events(nats_url, rejection_subject("delivery"))
    ]
    assert {r.message_id for r in rejections} == {p.message_id for p in poisons}
    assert all(
        (r.consumer, r.reason, r.delivery_attempts) == (JOBS_CONSUMER, "undecodable", 1) for r in rejections
    )
    assert any("targets" in r.error for r in rejections) and any("content" in r.error for r in rejections)


async def test_rows_written_by_the_previous_release_belong_to_their_plan(
    nats_url: str, database_url: str
) -> None:
    async with running_service("delivery", nats_url, database_url):
        conn = await asyncpg.connect(database_url)
        try:
            # The statements of the release before jobs, during a rolling deploy.
            await conn.execute(
                """INSERT INTO delivery.deliveries (delivery_id, plan_id, route_key, schedule_id, provider,
                       owner, status, route_id)
                   VALUES ('gordn-old:gordrk-1:-', 'gordn-old', 'gordrk-1', 's', 'slack', 'ops',
                       'unconfigured', 'gordroute-1')"""
            )
            inserted = await conn.fetchval(
                """INSERT INTO delivery.delivery_records (record_id, plan_id, source, success, document,
                       created_at)
                   VALUES ('rcd-old', 'gordn-old', 'go_backend_rollback_drill_notification', false,
                       '{}', now())
                   ON CONFLICT (plan_id) DO NOTHING RETURNING 1"""
            )
            row = await conn.fetchrow("SELECT job_id, source FROM delivery.deliveries")
            record = await conn.fetchval("SELECT job_id FROM delivery.delivery_records")
        finally:
            await conn.close()
    assert inserted == 1
    assert (row["job_id"], row["source"], record) == (
        "gordn-old",
        "go_backend_rollback_drill_notification",
        "gordn-old",
    )
