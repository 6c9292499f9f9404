"""The console live feed's topic table, id extraction, batching, per-client bounds, and its gate over a
stand-in for the reporting consumer's progress (no NATS: the integration test has the real one)."""

from __future__ import annotations

import asyncio
import json
import typing
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel

from cavra_contracts.base import Contract
from cavra_contracts.evidence import RecordedEvent
from cavra_contracts.registry import CONTRACTS
from cavra_gateway.console.live import LiveClient, LiveFeed, TopicBatch, applied, subject_matches
from cavra_gateway.console.live_topics import (
    INTERESTS,
    MAX_IDS_PER_EVENT,
    TOPIC_NAMES,
    TOPICS,
    Change,
    change_of,
)
from cavra_gateway.settings import GatewaySettings
from cavra_runtime.bus import ConsumerProgress, Stored
from tests.support import reporting_events as events

NOT_SHOWN = {
    # Rejections answer the request that caused them (the console shows the API's error), tokens and
    # schedules are not console tables, outbox set-asides are an operator's log line.
    "command_rejected",
    "plan_rejected",
    "acknowledgement_rejected",
    "audit_request_rejected",
    "executive_request_rejected",
    "health_alert_rejected",
    "recovery_request_rejected",
    "retry_request_rejected",
    "api_token_created",
    "api_token_revoked",
    "schedule_upserted",
    "drill_run_recorded",
    "schedule_evaluated",
    "audit_schedule_created",
    "audit_schedule_cancelled",
    "outbox_set_aside",
    "message_rejected",
}
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def event_contracts() -> list[type[Contract]]:
    return [c for c in CONTRACTS if c.MESSAGE.kind == "evt" and c.MESSAGE.channel]


def test_every_event_is_shown_under_a_topic_or_deliberately_not() -> None:
    unclassified = [
        c.__name__
        for c in event_contracts()
        if c.MESSAGE.subject not in TOPICS and c.MESSAGE.name not in NOT_SHOWN
    ]
    assert unclassified == []
    assert not [name for name in NOT_SHOWN if any(i.kind == name for i in INTERESTS)]


def test_every_recorded_event_is_shown() -> None:
    recorded = [c for c in event_contracts() if issubclass(c, RecordedEvent)]
    assert recorded
    assert [c.__name__ for c in recorded if c.MESSAGE.subject not in TOPICS] == []


def test_every_topic_of_the_design_has_events() -> None:
    assert {i.topic for i in INTERESTS} == set(TOPIC_NAMES)
    assert {i.topic for i in INTERESTS if i.contract.__name__ == "NotificationDeliveredV1"} == {"delivery"}


def _field_type(model: type[BaseModel], name: str) -> Any:
    assert name in model.model_fields, f"{model.__name__} has no field {name}"
    return model.model_fields[name].annotation


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


@pytest.mark.parametrize("interest", INTERESTS, ids=lambda i: i.kind)
def test_every_id_path_names_real_fields(interest: Any) -> None:
    for path in interest.id_paths:
        model: type[BaseModel] | None = interest.contract
        steps = path.split(".")
        for index, step in enumerate(steps):
            assert model is not None, f"{path}: {steps[index - 1]} is not a model"
            annotation = _field_type(model, step.removesuffix("[]"))
            model = _model_in(annotation)


def stored(contract: Contract, sequence: int = 7) -> Change | None:
    envelope = events.envelope(contract, 0)
    return change_of(envelope.type, envelope.to_json(), sequence, NOW)


def test_a_plan_names_its_plan_schedule_and_routes() -> None:
    planned = events.plan("sched-a", "gordn-a1", 0, providers=("slack", "teams"))
    change = stored(planned, 11)
    assert change is not None
    assert (change.topic, change.kind, change.sequence) == ("route", "notification_planned", 11)
    assert change.stored_at == NOW
    routes = [d.route_id for d in planned.plan.route_decisions]
    assert len(routes) == 2
    assert set(change.record_ids) == {"gordn-a1", "sched-a", *routes}
    assert not change.resync


def test_a_delivery_names_its_deliveries_and_routes() -> None:
    planned = events.plan("sched-a", "gordn-a1", 0, providers=("slack",))
    change = stored(events.delivered(planned))
    assert change is not None and change.topic == "delivery"
    route = events.route(planned, "slack")
    assert set(change.record_ids) == {"gordn-a1", "sched-a", "rcd-gordn-a1", f"{route}:hook", route}


def test_acknowledgements_and_escalations_name_their_ids() -> None:
    planned = events.plan("sched-a", "gordn-a1", 0, providers=("slack", "teams"))
    acked = stored(events.acks(planned, "acknowledged", ["slack", "teams"], 5, bulk_id="b1"))
    assert acked is not None and acked.topic == "acknowledgement"
    assert {"gordack-b1-slack", "gordack-b1-teams", events.route(planned, "teams"), "gordbulkack-b1"} <= set(
        acked.record_ids
    )
    escalation, _job = events.escalated(planned, "slack", 40)
    escalated = stored(escalation)
    assert escalated is not None and escalated.topic == "escalation"
    assert escalation.escalation_id in escalated.record_ids and escalation.route_id in escalated.record_ids


def test_no_payload_data_travels_only_ids() -> None:
    planned = events.plan("sched-a", "gordn-a1", 0)
    acked = events.acks(planned, "acknowledged", ["slack"], 5, bulk_id="b1")
    change = stored(acked)
    assert change is not None
    text = json.dumps(change.record_ids)
    assert "looked at it" not in text and "CHG-123" not in text and "release-manager" not in text


def test_uninteresting_and_undecodable_events_are_skipped() -> None:
    assert change_of("cavra.evt.gateway.api_token_created.v1", b"not json at all", 1, NOW) is None
    subject = next(iter(TOPICS))
    assert change_of(subject, b"{not json", 1, NOW) is None
    assert change_of(subject, b'{"id": "x", "data": 3}', 1, NOW) is None


def test_an_event_naming_too_many_ids_asks_for_a_resync() -> None:
    planned = events.plan("sched-a", "gordn-a1", 0, providers=("slack",))
    envelope = events.envelope(events.acks(planned, "acknowledged", ["slack"], 5, bulk_id="b1"), 5)
    envelope.payload["acknowledgements"] = [{"acknowledgement_id": f"a{i}"} for i in range(600)]
    change = change_of(envelope.type, envelope.to_json(), 1, NOW)
    assert change is not None and change.resync and change.record_ids == ()
    assert MAX_IDS_PER_EVENT < 600


def change(topic: Any, ids: tuple[str, ...], sequence: int, subject: str = "cavra.evt.x.y.v1") -> Change:
    return Change(topic, "k", ids, False, subject, sequence, NOW)


def decoded(message: bytes) -> dict[str, Any]:
    lines = message.decode().strip().split("\n")
    assert lines[0] == "event: change"
    return dict(json.loads(lines[1].removeprefix("data: ")))


def test_a_batch_merges_ids_and_resyncs_past_its_cap() -> None:
    batch = TopicBatch("route", max_ids=5)
    batch.add(change("route", ("a", "b"), 3))
    batch.add(change("route", ("b", "c"), 9))
    data = decoded(batch.message())
    assert data == {
        "topic": "route",
        "kind": "k",
        "record_ids": ["a", "b", "c"],
        "resync": False,
        "stored_at": NOW.isoformat(),
        "seq": 9,
    }
    batch.add(change("route", ("d", "e", "f"), 10))
    data = decoded(batch.message())
    assert data["resync"] is True and data["record_ids"] == [] and data["seq"] == 10


def test_a_slow_client_loses_its_backlog_for_one_resync_per_missed_topic() -> None:
    client = LiveClient(capacity=16)
    for n in range(16):
        topic = "delivery" if n % 2 else "route"
        client.offer(topic, TopicBatch(topic, 5).message(), n)
    client.offer("approval", b"x", 99)
    assert client.resyncs == 1
    items = [client.queue.get_nowait() for _ in range(client.queue.qsize())]
    assert [topic for topic, _ in items if topic] == ["approval", "delivery", "route"]
    assert all(decoded(message)["resync"] for _, message in items)
    client.end()
    assert client.queue.get_nowait() is None


def test_subject_matching_follows_nats_wildcards() -> None:
    assert subject_matches("cavra.evt.>", "cavra.evt.router.notification_planned.v1")
    assert subject_matches("cavra.evt.*.notification_planned.v1", "cavra.evt.router.notification_planned.v1")
    assert not subject_matches("cavra.evt.>", "cavra.evt")
    assert not subject_matches("cavra.evt.router.a.v1", "cavra.evt.router.a.v1.x")
    assert subject_matches("cavra.evt.router.a.v1", "cavra.evt.router.a.v1")


def test_a_change_is_applied_once_reporting_acked_past_it_or_never_reads_it() -> None:
    read = "cavra.evt.router.notification_planned.v1"
    progress = ConsumerProgress(ack_floor=10, pending=3, ack_pending=1, filter_subjects=(read,))
    assert applied(change("route", (), 10, read), progress)
    assert not applied(change("route", (), 11, read), progress)
    assert applied(change("retry", (), 11, "cavra.evt.delivery.worker_schedule_set.v1"), progress)
    caught_up = ConsumerProgress(ack_floor=10, pending=0, ack_pending=0, filter_subjects=(read,))
    assert applied(change("route", (), 11, read), caught_up)
    assert applied(change("route", (), 11, read), None)


class ProgressOnlyBus:
    """Just the two calls ``LiveFeed`` makes of the bus, with a reporting consumer the test moves."""

    def __init__(self, progress: ConsumerProgress | None) -> None:
        self.progress = progress
        self.probes = 0

    async def consumer_progress(self, stream: str, durable: str) -> ConsumerProgress | None:
        self.probes += 1
        return self.progress

    async def follow(self, subject: str, callback: Any) -> Any:
        async def unsubscribe() -> None:
            return None

        return unsubscribe


READ = "cavra.evt.acknowledgement.acknowledgements_recorded.v1"


def feed_with(bus: ProgressOnlyBus, **overrides: Any) -> LiveFeed:
    values = {
        "console_live_max_wait_seconds": 0.3,
        "console_live_probe_seconds": 0.01,
        "console_live_coalesce_seconds": 0.05,
        **overrides,
    }
    settings = GatewaySettings(nats_url="nats://127.0.0.1:1", database_url="postgresql://x/y", **values)
    return LiveFeed(bus, settings)  # type: ignore[arg-type]


def stored_ack(sequence: int, bulk: str) -> Stored:
    planned = events.plan("sched-a", "gordn-a1", 0, providers=("slack",))
    envelope = events.envelope(events.acks(planned, "acknowledged", ["slack"], 5, bulk_id=bulk), 5)
    return Stored(READ, envelope.to_json(), sequence, NOW)


async def next_message(client: LiveClient, timeout: float = 2.0) -> dict[str, Any]:
    item = await asyncio.wait_for(client.queue.get(), timeout)
    assert item is not None
    return decoded(item[1])


async def test_a_change_waits_for_the_ack_floor_then_goes_out() -> None:
    bus = ProgressOnlyBus(ConsumerProgress(ack_floor=4, pending=1, ack_pending=0, filter_subjects=(READ,)))
    feed = feed_with(bus, console_live_max_wait_seconds=5)
    await feed.start()
    await feed._on_stored(stored_ack(4, "b0"))
    await asyncio.sleep(0.05)
    assert bus.probes == 0, "no client, no work"
    client = feed.join()
    try:
        await feed._on_stored(stored_ack(5, "b1"))
        await asyncio.sleep(0.2)
        assert client.queue.empty() and bus.probes >= 5, "pushed before reporting acked it"
        bus.progress = ConsumerProgress(ack_floor=5, pending=1, ack_pending=0, filter_subjects=(READ,))
        message = await next_message(client)
        assert message["seq"] == 5 and "gordack-b1-slack" in message["record_ids"] and not message["resync"]
    finally:
        await feed.close()


async def test_a_change_pushed_unapplied_is_followed_by_a_resync_once_applied() -> None:
    bus = ProgressOnlyBus(ConsumerProgress(ack_floor=0, pending=9, ack_pending=0, filter_subjects=(READ,)))
    feed = feed_with(bus)
    await feed.start()
    client = feed.join()
    try:
        await feed._on_stored(stored_ack(3, "b1"))
        pushed = await next_message(client)  # after console_live_max_wait_seconds
        assert pushed["seq"] == 3 and not pushed["resync"]
        await asyncio.sleep(0.1)
        assert client.queue.empty()
        bus.progress = ConsumerProgress(ack_floor=3, pending=0, ack_pending=0, filter_subjects=(READ,))
        follow_up = await next_message(client)
        assert (follow_up["topic"], follow_up["kind"]) == ("acknowledgement", "caught_up")
        assert follow_up["resync"] is True and follow_up["record_ids"] == []
    finally:
        await feed.close()


async def test_changes_within_the_window_travel_as_one_message() -> None:
    feed = feed_with(ProgressOnlyBus(None), console_live_coalesce_seconds=0.2)
    await feed.start()
    client = feed.join()
    try:
        await feed._on_stored(stored_ack(1, "first"))
        first = await next_message(client)
        assert first["seq"] == 1, "the first change after a quiet window goes out at once"
        for n in range(2, 12):
            await feed._on_stored(stored_ack(n, f"b{n}"))
        merged = await next_message(client)
        assert merged["seq"] == 11 and "gordack-b11-slack" in merged["record_ids"]
        assert "gordack-b2-slack" in merged["record_ids"]
        assert client.queue.empty()
    finally:
        await feed.close()
