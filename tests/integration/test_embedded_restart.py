"""`cavra up` keeps its embedded servers up: a nats-server or postmaster killed with SIGKILL is started
again on the same data folder and port, with what it had stored (its own servers, not the session's)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import nats
import pytest

from cavra_cli import supervisor
from cavra_runtime.embedded import EmbeddedNats, EmbeddedPostgres, free_port


@pytest.fixture
def root() -> Iterator[Path]:
    # Not under pytest's tmp_path: it is private (0700) and PostgreSQL runs unprivileged as root.
    folder = Path(tempfile.mkdtemp(prefix="cavra-test-restart-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def restart_until_running(server: supervisor.Server, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not server.server.running() and time.monotonic() < deadline:
        supervisor._restart_dead([server])
        time.sleep(0.1)
    assert server.server.running(), f"{server.name} was not restarted"


async def test_a_killed_postmaster_is_restarted_with_its_data(root: Path) -> None:
    postgres = EmbeddedPostgres(root / "postgres", port=free_port(), database="postgres")  # as cavra up
    postgres.start()
    try:
        conn = await asyncpg.connect(postgres.url)
        await conn.execute("CREATE TABLE kept (n int); INSERT INTO kept VALUES (7)")
        await conn.close()
        assert postgres.process is not None
        os.kill(postgres.process.pid, signal.SIGKILL)
        postgres.process.wait(10)
        watched = supervisor.Server(postgres, started_at=time.monotonic())
        assert watched.exit_code() == -signal.SIGKILL
        await asyncio.to_thread(restart_until_running, watched)
        conn = await asyncpg.connect(postgres.url)
        assert await conn.fetchval("SELECT n FROM kept") == 7
        await conn.close()
    finally:
        postgres.stop()
    assert not postgres.running()


async def test_a_killed_nats_server_is_restarted_with_its_streams(root: Path) -> None:
    server = EmbeddedNats(root / "nats" / "js", port=free_port(), monitor_port=free_port(), sync_always=True)
    server.start(log_file=root / "nats.log")
    try:
        nc = await nats.connect(server.url)
        await nc.jetstream().add_stream(name="KEPT", subjects=["kept.>"])
        await nc.jetstream().publish("kept.one", b"1")
        await nc.close()
        assert server.process is not None
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait(10)
        watched = supervisor.Server(server, started_at=time.monotonic())
        await asyncio.to_thread(restart_until_running, watched)
        nc = await nats.connect(server.url)
        info = await nc.jetstream().stream_info("KEPT")
        assert info.state.messages == 1
        await nc.close()
        assert (root / "nats.log").read_text().count("Server is ready") == 2  # one log, both starts
    finally:
        server.stop()
