"""Delivery guarantees of cavra_runtime against real NATS JetStream and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import nats
import pytest

from cavra_contracts.envelope import make_envelope
from cavra_contracts.failures import MessageRejectedV1, OutboxMessageSetAsideV1, rejection_subject
from cavra_contracts.queries import HealthReplyV1
from cavra_contracts.subjects import DEAD_LETTER_STREAM, dead_letter_subject
from cavra_runtime.migrate import MigrationError, migrate
from cavra_runtime.outbox import enqueue
from cavra_runtime.service import Runtime, Wiring
from cavra_runtime.settings import RuntimeSettings
from tests.support import ledger
from tests.support.harness import eventually, stored_events


@pytest.fixture
async def running_ledger(nats_url: str, database_url: str) -> AsyncIterator[tuple[Runtime, ledger.Ledger]]:
    settings = RuntimeSettings(nats_url=nats_url, database_url=database_url)
    stop = asyncio.Event()
    async with Runtime.open(ledger.SCHEMA, settings, ledger.MIGRATIONS) as runtime:
        handler = ledger.Ledger(runtime.pool)
        task = asyncio.create_task(runtime.run(Wiring(consumers=[(ledger.SPEC, handler.handlers)]), stop))
        yield runtime, handler
        stop.set()
        await task


async def dead_letters(nats_url: str) -> list[dict[str, str]]:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(DEAD_LETTER_STREAM)
        found = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await js.get_msg(DEAD_LETTER_STREAM, seq)
            found.append({"subject": msg.subject, **dict(msg.headers or {})})
        return found
    finally:
        await nc.close()


async def test_handler_crash_before_commit_is_redelivered_and_applied_once(running_ledger, nats_url) -> None:
    runtime, handler = running_ledger
    envelope = ledger.command(7, fail_times=1)
    await runtime.bus.publish(envelope)

    async def applied() -> bool:
        return await handler.entries() == {envelope.message_id: 7}

    await eventually(applied, what="the entry after one crash")
    assert handler.calls[envelope.message_id] == 2

    async def one_event() -> bool:
        return len(await stored_events(nats_url, ledger.EntryAddedV1.MESSAGE.subject)) == 1

    await eventually(one_event, what="exactly one outbox event")
    await asyncio.sleep(0.3)
    assert handler.calls[envelope.message_id] == 2, "acked after the commit: no further delivery"


async def test_same_message_id_published_twice_is_applied_once(running_ledger, nats_url) -> None:
    runtime, handler = running_ledger
    envelope = ledger.command(3)
    first = await runtime.bus.publish(envelope)
    second = await runtime.bus.publish(envelope)
    assert not first.duplicate and second.duplicate, "JetStream drops the republish inside the window"
    # Past the duplicate window (or from another path) the same message arrives again: the inbox drops it.
    headers = envelope.nats_headers() | {"Nats-Msg-Id": f"{envelope.message_id}-redelivered"}
    await runtime.bus.publish_stored([(envelope.type, envelope.to_json(), headers)])

    async def both_seen_and_one_applied() -> bool:
        # The two copies may be handled concurrently: the counter moves before either commits.
        return handler.calls[envelope.message_id] == 2 and bool(await handler.entries())

    await eventually(both_seen_and_one_applied, what="both copies to be handled")
    await asyncio.sleep(0.2)
    assert await handler.entries() == {envelope.message_id: 3}
    assert len(await stored_events(nats_url, ledger.EntryAddedV1.MESSAGE.subject)) == 1


async def test_poison_messages_go_to_the_dead_letter_subject_and_the_consumer_keeps_going(
    running_ledger, nats_url
) -> None:
    runtime, handler = running_ledger
    undecodable = ledger.AddEntryV1.MESSAGE.subject
    await runtime.bus.publish_stored([(undecodable, b"{not json", {"Nats-Msg-Id": "garbage-1"})])
    always_failing = ledger.command(1, fail_times=99)
    permanent = ledger.command(2, permanent=True)
    bug = ledger.command(3, bug=True)
    healthy = ledger.command(5)
    for envelope in (always_failing, permanent, bug, healthy):
        await runtime.bus.publish(envelope)

    async def four_dead() -> bool:
        try:
            return len(await dead_letters(nats_url)) == 4
        except Exception:
            return False

    await eventually(four_dead, what="four dead letters")
    letters = await dead_letters(nats_url)
    assert {letter["subject"] for letter in letters} == {dead_letter_subject(ledger.CONSUMER)}
    assert sorted(letter["Cavra-Dlq-Reason"] for letter in letters) == [
        "max_deliver",
        "permanent",
        "permanent",
        "undecodable",
    ]
    assert handler.calls[always_failing.message_id] == ledger.SPEC.max_deliver
    assert handler.calls[permanent.message_id] == 1, "a PermanentError is rejected at once"
    assert handler.calls[bug.message_id] == 2, "a bug gets one short retry, then is rejected"
    rejections = await stored_events(nats_url, rejection_subject(ledger.SCHEMA))
    assert {event.causation_id for event in rejections} == {
        always_failing.message_id,
        permanent.message_id,
        bug.message_id,
        None,
    }, "every rejection is announced, naming the rejected command as its cause"
    by_cause = {event.causation_id: MessageRejectedV1.model_validate(event.payload) for event in rejections}
    assert by_cause[bug.message_id].error_class == "OverflowError"
    assert by_cause[None].reason == "undecodable"
    entries = await handler.entries()
    assert entries == {healthy.message_id: 5}, (
        "the failed ones left nothing behind; the healthy one went through"
    )
    after = ledger.command(6)
    await runtime.bus.publish(after)

    async def still_consuming() -> bool:
        return after.message_id in await handler.entries()

    await eventually(still_consuming, what="the consumer to keep going")


async def test_an_outbox_row_too_large_for_the_bus_is_set_aside_and_the_relay_moves_on(
    running_ledger, nats_url
) -> None:
    runtime, handler = running_ledger
    too_large = make_envelope(
        ledger.EntryAddedV1(value=1), producer=ledger.SCHEMA, subject="x" * (runtime.bus.max_payload + 10)
    )
    after = ledger.command(9)
    async with runtime.pool.acquire() as conn, conn.transaction():
        await enqueue(conn, too_large, schema=ledger.SCHEMA)
    await runtime.bus.publish(after)

    async def applied_and_announced() -> bool:
        entries = await handler.entries()
        announced = await stored_events(nats_url, OutboxMessageSetAsideV1.MESSAGE.subject)
        return after.message_id in entries and len(announced) == 1

    await eventually(applied_and_announced, what="the later event relayed and the refused one announced")
    [announced] = await stored_events(nats_url, OutboxMessageSetAsideV1.MESSAGE.subject)
    set_aside = OutboxMessageSetAsideV1.model_validate(announced.payload)
    assert set_aside.message_id == too_large.message_id and "MaxPayload" in set_aside.error_class
    async with runtime.pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT set_aside_at, error FROM outbox WHERE message_id = $1", too_large.message_id
        )
    assert row["set_aside_at"] is not None and row["error"], "kept with its error, not lost"
    health = HealthReplyV1.model_validate((await runtime.health(too_large)).result)
    assert health.status == "degraded" and health.checks["outbox_set_aside"] == "1"


async def test_migrations_are_recorded_and_edited_files_are_refused(
    database_url: str, tmp_path: Path
) -> None:
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001_init.sql").write_text("CREATE TABLE things (id integer PRIMARY KEY);")
    conn = await asyncpg.connect(database_url)
    try:
        assert await migrate(conn, "things", folder) == [
            "runtime/0001_outbox_inbox",
            "runtime/0002_outbox_set_aside",
            "service/0001_init",
        ]
        assert await migrate(conn, "things", folder) == []
        (folder / "0002_more.sql").write_text("ALTER TABLE things ADD COLUMN name text;")
        assert await migrate(conn, "things", folder) == ["service/0002_more"]
        (folder / "0001_init.sql").write_text("CREATE TABLE things (id bigint PRIMARY KEY);")
        with pytest.raises(MigrationError, match="edited"):
            await migrate(conn, "things", folder)
        (folder / "0004_gap.sql").write_text("SELECT 1;")
        with pytest.raises(MigrationError, match="without gaps"):
            await migrate(conn, "things", folder)
    finally:
        await conn.close()
