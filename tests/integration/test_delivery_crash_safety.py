"""A plan's delivery survives failures without re-sending what ended (real NATS, PostgreSQL, HTTP).

Faults are planted in PostgreSQL with triggers that fail a statement once (a sequence counts the
firings, outside any transaction), so the service runs its real code paths: a failed final
transaction, a route whose outcome cannot be committed, a plan longer than the ack wait.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg

from cavra_contracts.envelope import make_envelope
from cavra_contracts.notifications import DeliveryOptions, NotificationPlannedV1
from cavra_runtime.bus import Bus
from tests.support.harness import eventually, running_service
from tests.support.plans import planned
from tests.support.sink import Sink


def connector_file(tmp_path: Path, **sinks: Sink) -> Path:
    config = tmp_path / "connectors.json"
    connectors = {name: {"type": "webhook", "url": f"{sink.url}/{name}"} for name, sink in sinks.items()}
    config.write_text(json.dumps({"connectors": connectors}))
    return config


@asynccontextmanager
async def database(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(database_url)
    try:
        yield conn
    finally:
        await conn.close()


async def fail_once(conn: asyncpg.Connection, name: str, table: str, when: str) -> None:
    """The first ``table`` write matching ``when`` fails with a serialisation failure (transient)."""
    await conn.execute(
        f"""CREATE SEQUENCE public.{name};
            CREATE FUNCTION public.{name}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF nextval('public.{name}') = 1 THEN
                    RAISE EXCEPTION 'injected fault' USING ERRCODE = '40001';
                END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER {name} BEFORE INSERT OR UPDATE ON delivery.{table}
                FOR EACH ROW WHEN ({when}) EXECUTE FUNCTION public.{name}();"""
    )


async def fired(conn: asyncpg.Connection, name: str) -> int:
    row = await conn.fetchrow(f"SELECT last_value, is_called FROM public.{name}")
    return int(row["last_value"]) if row["is_called"] else 0


async def publish(nats_url: str, *plans: NotificationPlannedV1) -> None:
    bus = await Bus.connect(nats_url, name="test-planner")
    try:
        await bus.ensure_streams()
        for plan in plans:
            await bus.publish(make_envelope(plan, producer="test"))
    finally:
        await bus.close()


async def recorded(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM delivery.delivery_records"))


async def test_a_failed_final_transaction_is_retried_without_sending_anything_again(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    async with Sink() as sink, database(database_url) as conn:
        config = connector_file(tmp_path, hook_a=sink)
        await fail_once(conn, "record_fault", "delivery_records", "true")
        async with running_service("delivery", nats_url, database_url, connector_config=str(config)):
            await publish(nats_url, planned(1, owners=[f"team-{n}" for n in range(5)]))

            async def done() -> bool:
                return await recorded(conn) == 1

            await eventually(done, timeout=20, what="the plan's record after the retried transaction")
        assert await fired(conn, "record_fault") >= 2, (
            "the first final transaction failed, a later one passed"
        )
        assert len(sink.ids) == 5
        assert set(sink.ids.values()) == {1}, f"routes sent again after the nak: {dict(sink.ids)}"


async def test_a_failing_route_cancels_its_siblings_and_the_plan_is_retried_at_once(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    # The slow provider holds its first request for 20 s; the fast route's outcome cannot be
    # committed the first time. The slow route must be abandoned then, not after 20 s.
    async with (
        Sink() as fast,
        Sink(delay_seconds=20, delay_first=1) as slow,
        database(database_url) as conn,
    ):
        config = connector_file(tmp_path, fast=fast, slow=slow)
        await fail_once(
            conn, "outcome_fault", "deliveries", "NEW.connector = 'fast' AND NEW.status <> 'pending'"
        )
        async with running_service(
            "delivery", nats_url, database_url, connector_config=str(config), delivery_timeout_seconds=30
        ):
            started = time.monotonic()
            await publish(
                nats_url, planned(2, providers=["fast", "slow"], delivery=DeliveryOptions(retries=0))
            )

            async def done() -> bool:
                return await recorded(conn) == 1

            await eventually(done, timeout=10, what="the retried plan to finish while the slow request hangs")
            elapsed = time.monotonic() - started
            outcomes = await conn.fetch(
                "SELECT connector, status FROM delivery.deliveries ORDER BY connector"
            )
        assert elapsed < 10
        assert [(r["connector"], r["status"]) for r in outcomes] == [
            ("fast", "delivered"),
            ("slow", "delivered"),
        ]
        assert await fired(conn, "outcome_fault") >= 2
        assert slow.bodies_seen == 2, "the hanging request was abandoned and sent again by the retried plan"


async def test_a_plan_longer_than_the_ack_wait_keeps_its_message_and_sends_once(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    async with Sink(delay_seconds=4) as sink, database(database_url) as conn:
        config = connector_file(tmp_path, hook_a=sink)
        async with running_service(
            "delivery",
            nats_url,
            database_url,
            connector_config=str(config),
            ack_wait_seconds=1.5,
            delivery_timeout_seconds=10,
        ) as runtime:
            await publish(nats_url, planned(3, owners=["team-0", "team-1"]))

            async def done() -> bool:
                return await recorded(conn) == 1

            await eventually(done, timeout=20, what="the slow plan's record")
            info = await runtime.bus.js.consumer_info("CAVRA_EVENTS", "delivery-notifications")
        assert set(sink.ids.values()) == {1}, f"a second pass sent again: {dict(sink.ids)}"
        assert len(sink.ids) == 2
        assert info.num_redelivered == 0, "in_progress kept the message with the replica working on it"
