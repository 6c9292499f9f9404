"""Two delivery processes on one durable consumer: each route delivered once; a SIGKILL loses nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from cavra_contracts.envelope import make_envelope
from cavra_contracts.notifications import DeliveryOptions, NotificationPlannedV1
from cavra_router import domain as routing
from cavra_router import planning
from cavra_runtime.bus import Bus
from tests.support.harness import eventually
from tests.support.sink import Sink

PLANS = 30
OWNERS = 10


def report(index: int) -> dict[str, object]:
    return {
        "status": "needs_attention",
        "mode": "promoted",
        "schedule": {
            "schedule_id": f"s-{index:03d}",
            "environment": "production-pilot",
            "owners": [f"team-{n}" for n in range(OWNERS)],
            "notification_providers": ["hook_a"],
            "owner_routes": {},
            "maintenance_windows": [],
            "owner_calendars": {},
            "next_due_at": "2026-10-01T00:00:00+00:00",
            "days_until_due": -30.0,
            "stale": True,
            "due_soon": False,
            "interval_days": 30.0,
            "runbook_ref": "docs/runbook.md",
        },
        "history": {"latest_drill_id": "", "latest_executed_at": "", "evidence_refs": []},
    }


def planned(index: int) -> NotificationPlannedV1:
    now = datetime(2026, 11, 1, 12, tzinfo=UTC)
    plan = routing.build_notification_plan(
        report(index),
        plan_id=f"gordn-{index:016x}",
        configured_providers=["hook_a"],
        generated_by="test",
        now=now,
    )
    event = routing.build_notification_event(report(index), plan=plan, generated_by="test", now=now)
    planning.history_rows(plan)
    return planning.planned_event(plan, event, trigger="api", delivery=DeliveryOptions())


def start(nats_url: str, database_url: str, config: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAVRA_")}
    env |= {
        "CAVRA_NATS_URL": nats_url,
        "CAVRA_DATABASE_URL": database_url,
        "CAVRA_CONNECTOR_CONFIG": str(config),
        "CAVRA_ACK_WAIT_SECONDS": "4",
        "CAVRA_DELIVERY_CONCURRENCY": "4",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "cavra_delivery"], env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT
    )


async def count(database_url: str, sql: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        return int(await conn.fetchval(sql))
    finally:
        await conn.close()


async def run_two_replicas(
    nats_url: str, database_url: str, tmp_path: Path, *, kill_after: int | None
) -> tuple[Sink, list[int]]:
    async with Sink(delay_seconds=0.02) as sink:
        config = tmp_path / "connectors.json"
        config.write_text(
            json.dumps({"connectors": {"hook_a": {"type": "webhook", "url": f"{sink.url}/in"}}})
        )
        bus = await Bus.connect(nats_url, name="test-planner")
        await bus.ensure_streams()
        replicas = [start(nats_url, database_url, config, tmp_path / f"delivery-{n}.log") for n in range(2)]
        try:

            async def both_pulling() -> bool:
                try:
                    info = await bus.js.consumer_info("CAVRA_EVENTS", "delivery-notifications")
                except Exception:
                    return False
                return (info.num_waiting or 0) >= 2

            await eventually(both_pulling, timeout=60, what="both replicas to pull from the consumer")
            for index in range(PLANS):
                await bus.publish(make_envelope(planned(index), producer="test"))
            if kill_after is not None:

                async def some_sent() -> bool:
                    return len(sink.ids) >= kill_after

                await eventually(some_sent, timeout=60, what="deliveries under way")
                replicas[0].send_signal(signal.SIGKILL)
                replicas[0].wait(10)

            async def all_recorded() -> bool:
                return await count(database_url, "SELECT count(*) FROM delivery.delivery_records") == PLANS

            await eventually(all_recorded, timeout=90, what="every plan's delivery record")
        finally:
            for replica in replicas:
                if replica.poll() is None:
                    replica.send_signal(signal.SIGTERM)
                    replica.wait(30)
            await bus.close()
        return sink, [r.returncode for r in replicas]


async def test_two_replicas_deliver_each_route_exactly_once(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    sink, codes = await run_two_replicas(nats_url, database_url, tmp_path, kill_after=None)
    assert len(sink.ids) == PLANS * OWNERS
    assert set(sink.ids.values()) == {1}, "no route was sent twice"
    assert await count(
        database_url, "SELECT count(*) FROM delivery.deliveries WHERE status = 'delivered'"
    ) == (PLANS * OWNERS)
    logs = "".join((tmp_path / f"delivery-{n}.log").read_text() for n in range(2))
    assert logs.count('"plan.delivered"') == PLANS
    both = [(tmp_path / f"delivery-{n}.log").read_text().count('"plan.delivered"') for n in range(2)]
    assert all(both), f"both replicas took work: {both}"
    assert codes == [0, 0], "SIGTERM stops both cleanly"


async def test_killing_a_replica_mid_run_loses_nothing(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    sink, _ = await run_two_replicas(nats_url, database_url, tmp_path, kill_after=60)
    assert len(sink.ids) == PLANS * OWNERS, "every route reached the provider"
    assert await count(
        database_url, "SELECT count(*) FROM delivery.deliveries WHERE status = 'delivered'"
    ) == (PLANS * OWNERS)
    assert await count(database_url, "SELECT count(*) FROM delivery.deliveries WHERE status = 'pending'") == 0
    resent = sum(n - 1 for n in sink.ids.values())
    # Only routes in flight when the replica died are sent again, under the same webhook-id.
    assert resent <= 4 * 10, f"{resent} re-sends"
