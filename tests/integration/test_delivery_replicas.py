"""Two delivery processes on one durable consumer: each route delivered once; a SIGKILL loses nothing
and re-sends only the routes that were in flight when the process died."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from cavra_contracts.envelope import make_envelope
from cavra_runtime.bus import Bus
from tests.support.harness import eventually
from tests.support.plans import planned
from tests.support.sink import Sink

PLANS = 16
OWNERS = 20
CONCURRENCY = 2
SINK_DELAY = 0.05
"""With 20 routes a plan and 2 slots a replica, a plan spans ten round trips: losing a plan's
progress would re-send many routes, losing only what is in flight re-sends at most a few."""


def start(nats_url: str, database_url: str, config: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAVRA_")}
    env |= {
        "CAVRA_NATS_URL": nats_url,
        "CAVRA_DATABASE_URL": database_url,
        "CAVRA_CONNECTOR_CONFIG": str(config),
        "CAVRA_ACK_WAIT_SECONDS": "4",
        "CAVRA_DELIVERY_CONCURRENCY": str(CONCURRENCY),
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


@dataclass
class Run:
    sink: Sink
    codes: list[int | None]
    killed_at: float | None = None
    final_at_kill: set[str] = field(default_factory=set)
    """Routes whose outcome was committed when the replica died."""


async def final_ids(database_url: str) -> set[str]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT delivery_id FROM delivery.deliveries WHERE status <> 'pending'")
        return {row[0] for row in rows}
    finally:
        await conn.close()


async def run_two_replicas(
    nats_url: str, database_url: str, tmp_path: Path, *, kill_after: int | None
) -> Run:
    owners = [f"team-{n}" for n in range(OWNERS)]
    async with Sink(delay_seconds=SINK_DELAY) as sink:
        run = Run(sink, [])
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
                await bus.publish(make_envelope(planned(index, owners=owners), producer="test"))
            if kill_after is not None:

                async def some_sent() -> bool:
                    return len(sink.ids) >= kill_after

                await eventually(some_sent, timeout=60, what="deliveries under way")
                run.killed_at = time.time()
                replicas[0].send_signal(signal.SIGKILL)
                replicas[0].wait(10)
                run.final_at_kill = await final_ids(database_url)

            async def all_recorded() -> bool:
                return await count(database_url, "SELECT count(*) FROM delivery.delivery_records") == PLANS

            await eventually(all_recorded, timeout=90, what="every plan's delivery record")
        finally:
            for replica in replicas:
                if replica.poll() is None:
                    replica.send_signal(signal.SIGTERM)
                    replica.wait(30)
            await bus.close()
        run.codes = [r.returncode for r in replicas]
        return run


async def test_two_replicas_deliver_each_route_exactly_once(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    run = await run_two_replicas(nats_url, database_url, tmp_path, kill_after=None)
    assert len(run.sink.ids) == PLANS * OWNERS
    assert set(run.sink.ids.values()) == {1}, "no route was sent twice"
    assert await count(
        database_url, "SELECT count(*) FROM delivery.deliveries WHERE status = 'delivered'"
    ) == (PLANS * OWNERS)
    logs = "".join((tmp_path / f"delivery-{n}.log").read_text() for n in range(2))
    assert logs.count('"plan.delivered"') == PLANS
    both = [(tmp_path / f"delivery-{n}.log").read_text().count('"plan.delivered"') for n in range(2)]
    assert all(both), f"both replicas took work: {both}"
    assert run.codes == [0, 0], "SIGTERM stops both cleanly"


async def test_killing_a_replica_mid_run_loses_nothing_and_resends_only_routes_in_flight(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    run = await run_two_replicas(nats_url, database_url, tmp_path, kill_after=60)
    sink = run.sink
    assert len(sink.ids) == PLANS * OWNERS, "every route reached the provider"
    assert await count(
        database_url, "SELECT count(*) FROM delivery.deliveries WHERE status = 'delivered'"
    ) == (PLANS * OWNERS)
    assert await count(database_url, "SELECT count(*) FROM delivery.deliveries WHERE status = 'pending'") == 0
    assert run.killed_at is not None and run.final_at_kill, "outcomes were committed before the kill"
    resent = {key: n - 1 for key, n in sink.ids.items() if n > 1}
    assert not resent.keys() & run.final_at_kill, "a route whose outcome was committed was sent again"
    # In flight = its request reached the provider less than one round trip (plus the outcome
    # writer's few milliseconds) before the kill: everything that ended earlier was committed.
    window = SINK_DELAY + 0.25
    earlier = {key: round(run.killed_at - sink.arrivals[key], 3) for key in resent}
    assert all(age < window for age in earlier.values()), (
        f"re-sent routes had ended before the kill: {earlier}"
    )
    assert sum(resent.values()) <= 2 * CONCURRENCY, f"{sum(resent.values())} re-sends: {resent}"
