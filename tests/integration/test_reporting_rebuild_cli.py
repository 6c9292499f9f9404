"""``cavra reporting rebuild`` as an operator runs it: refused while a replica runs, then a full replay."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from tests.support import reporting_events as ev
from tests.support.harness import answering, eventually, gateway_client, running_service

CAVRA = Path(sys.executable).with_name("cavra")


async def _cavra(nats_url: str, database_url: str, *args: str) -> tuple[int, str]:
    env = os.environ | {"CAVRA_NATS_URL": nats_url, "CAVRA_DATABASE_URL": database_url, "COLUMNS": "200"}
    process = await asyncio.create_subprocess_exec(
        str(CAVRA), *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    return int(process.returncode or 0), output.decode()


async def test_rebuild_refuses_while_a_replica_runs_then_replays_every_event(
    nats_url: str, database_url: str
) -> None:
    await ev.publish(nats_url, ev.realistic_mix())
    async with gateway_client(nats_url, database_url, services=("reporting",)) as api:
        async with running_service("reporting", nats_url, database_url):

            async def settled() -> bool:
                return await ev.settled(nats_url)

            await eventually(settled, what="the consumer to settle every event")
            before = (await api.get("/runtime/go-pilot/rollback-drill-notifications/dashboard")).content
            code, output = await _cavra(nats_url, database_url, "reporting", "rebuild")
            assert code == 1, output
            assert "stop every replica" in output
        code, output = await _cavra(nats_url, database_url, "reporting", "rebuild", "--timeout", "60")
        assert code == 0, output
        assert "reporting rebuilt: 16 stored events replayed" in output
        async with running_service("reporting", nats_url, database_url):
            after = (await answering(api, "/runtime/go-pilot/rollback-drill-notifications/dashboard")).content
    assert after == before
