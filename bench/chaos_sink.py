"""What the chaos run sees from outside: ``cavra up``'s processes (from /proc) and a recording sink.

The sink answers 200 to every request and records it as an :class:`~bench.chaos_summary.Arrival`:
its idempotency key, the route named by its CloudEvent body, and which process sent it (the owner of
the client's TCP socket, found through ``/proc/net/tcp``), so a re-send can be laid at the door of
the replica that was killed. Linux only, loopback only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.chaos_summary import Arrival
from tests.support.sink import serve_requests


def identity(pid: int) -> tuple[int, int] | None:
    """(pid, start time): names one process even after its PID is reused; None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] in ("Z", "X") else (pid, int(fields[19]))


def children(parent: int) -> dict[str, int]:
    """``cavra up``'s live children by name: the stem of the log their stdout goes to
    (scheduler, delivery-2, nats-server, ...; the postmaster writes ``server.log``)."""
    found: dict[str, int] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) != parent or fields[0] in ("Z", "X"):
                continue
            stem = Path(os.readlink(proc / "fd" / "1")).stem
        except (OSError, ValueError, IndexError):
            continue
        found["postgres" if stem == "server" else stem] = int(proc.name)
    return found


def socket_owner(local_port: int, remote_port: int, pids: list[int]) -> int | None:
    """Which of ``pids`` holds the loopback TCP socket ``local_port -> remote_port``."""
    inode = None
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                parts = line.split()
                if (
                    int(parts[1].rsplit(":", 1)[1], 16) == local_port
                    and int(parts[2].rsplit(":", 1)[1], 16) == remote_port
                ):
                    inode = parts[9]
                    break
        if inode:
            break
    if not inode:
        return None
    target = f"socket:[{inode}]"
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                        return pid
    return None


@dataclass
class RecordingSink:
    """Answers 200 to everything and records each request as an :class:`Arrival`."""

    senders: Callable[[], list[int]]
    """The PIDs that may be sending (the delivery replicas), asked once per connection."""
    arrivals: list[Arrival] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> RecordingSink:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, backlog=1024)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer_port = writer.get_extra_info("peername")[1]
        sender = socket_owner(peer_port, self.port, self.senders())

        async def record(request_line: str, headers: dict[str, str], body: bytes) -> None:
            self.arrivals.append(arrival(request_line, headers, body, sender))

        await serve_requests(reader, writer, record)


def arrival(request_line: str, headers: dict[str, str], body: bytes, sender: int | None) -> Arrival:
    path = request_line.split(" ")[1] if " " in request_line else ""
    try:
        event = json.loads(body)
        data = event.get("data") or {}
        route = data.get("route") or {}
    except (ValueError, AttributeError):
        event, data, route = {}, {}, {}
    return Arrival(
        at=time.monotonic(),
        key=headers.get("webhook-id") or headers.get("idempotency-key") or str(event.get("id", "")),
        schedule_id=str(data.get("schedule_id", "?")),
        owner=str(route.get("owner", "?")),
        connector=path.strip("/").split("/")[0],
        plan_id=str(data.get("plan_id", "")),
        route_key=str(route.get("route_key") or data.get("route_id") or ""),
        sender=sender,
    )
