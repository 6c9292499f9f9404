"""Chaos proof: kill every process of ``cavra up`` once under load and count what was lost or doubled.

Starts ``cavra up`` (embedded NATS + PostgreSQL, every service its own process, 2 delivery
replicas) in a temporary $CAVRA_HOME on free loopback ports, with three webhook connectors pointing
at a recording HTTP sink in this process. CHAOS_SCHEDULES (200) schedules of 20 owners x 3
connectors, 2 owners silenced, make 54 deliverable routes per plan: 10,800 routes. One forced plan
command per schedule goes through the gateway (``POST .../deliver`` with an ``Idempotency-Key``,
retried under the same key while the gateway or the bus is down), paced over CHAOS_LOAD_SECONDS
(60). Meanwhile the scheduler, the router, each delivery replica and the gateway are killed with
SIGKILL once each, and nats-server and the postmaster too (``cavra up`` starts them again), one at a
time: each next kill waits until the supervisor has the last one back and ``/readyz`` is 200.

Then it waits (at most CHAOS_DRAIN_SECONDS, 180, after the last kill) until every route arrived,
no evidence row is pending and no JetStream consumer has work left, and prints the table (see
``chaos_summary`` for the definitions) with one line per kill. Exit status 1 when a goal is missed:
0 missing, 0 duplicate evidence rows, 0 routes under different keys, re-sends only of routes in
flight at a kill. Only public surfaces are read: the HTTP API, JetStream, the sink, and the
``deliveries`` / ``delivery_records`` tables' basic columns. ``chaos_sink`` holds the sink and the
/proc readers, ``chaos_summary`` the table.

Loopback only; every wait is bounded; every process it started is stopped by PID at the end (also
on Ctrl-C or an error). Run: ``make chaos`` or ``.venv/bin/python bench/chaos.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import nats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.chaos_sink import RecordingSink, children, identity  # noqa: E402
from bench.chaos_summary import EvidenceRow, Kill, render, summarize  # noqa: E402
from cavra_runtime.embedded import free_port  # noqa: E402

ADMIN_TOKEN = secrets.token_urlsafe(32)
"""Given to `cavra up` as CAVRA_BOOTSTRAP_ADMIN_TOKEN: every API call here is the admin's."""
ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
SCHEDULES = int(os.environ.get("CHAOS_SCHEDULES", "200"))
LOAD_SECONDS = float(os.environ.get("CHAOS_LOAD_SECONDS", "60"))
REPLICAS = int(os.environ.get("CHAOS_DELIVERY_REPLICAS", "2"))
FIRST_KILL = float(os.environ.get("CHAOS_FIRST_KILL_SECONDS", "5"))
KILL_GAP = float(os.environ.get("CHAOS_KILL_GAP_SECONDS", "3"))
DRAIN_SECONDS = float(os.environ.get("CHAOS_DRAIN_SECONDS", "180"))
WINDOW = float(os.environ.get("CHAOS_INFLIGHT_WINDOW_SECONDS", "2"))
# A killed replica's plans come back after its consumer's ack wait (delivery: 300 s by default);
# set this to run with another (CAVRA_ACK_WAIT_SECONDS for every service).
ACK_WAIT = os.environ.get("CHAOS_ACK_WAIT_SECONDS", "")
KILLS = os.environ.get(
    "CHAOS_KILLS", "scheduler,router,delivery-1,gateway,postgres,delivery-2,nats-server"
).split(",")
RECOVERY_TIMEOUT = 90.0
COMMAND_DEADLINE = 150.0
OWNERS = 20
SILENCED = 2
CONNECTORS = ("hook_a", "hook_b", "hook_c")
DELIVER = "/runtime/go-pilot/rollback-drill-notifications/deliver"
PLANS = "/runtime/go-pilot/rollback-drill-notifications/plans"
NOT_WEATHER = ("message.failed_once", "message.rejected", "message.exhausted", "service.task_crashed")
KEEP_LOGS = os.environ.get("CHAOS_KEEP_LOGS", "") not in ("", "0")


def schedule_body(next_due: str) -> dict[str, Any]:
    owners = [f"team-{n:02d}" for n in range(OWNERS)]
    return {
        "schema_version": "cavra.go-backend-rollback-drill-schedule.v1",
        "interval_days": 30,
        "next_due_at": next_due,
        "owners": owners,
        "notification_providers": list(CONNECTORS),
        "maintenance_windows": [
            {
                "window_id": "freeze",
                "start_at": "2020-01-01T00:00:00Z",
                "end_at": "2100-01-01T00:00:00Z",
                "owners": owners[:SILENCED],
            }
        ],
        "runbook_ref": "docs/runbook.md",
    }


def expected_routes() -> set[tuple[str, str, str]]:
    return {
        (f"chaos-{s:04d}", f"team-{o:02d}", connector)
        for s in range(SCHEDULES)
        for o in range(SILENCED, OWNERS)
        for connector in CONNECTORS
    }


@dataclass
class Run:
    home: Path
    up: subprocess.Popen[bytes]
    api: httpx.AsyncClient
    nats_url: str
    database_url: str
    started: float = field(default_factory=time.monotonic)
    seen: set[tuple[int, int]] = field(default_factory=set)
    """Every process ever seen under ``cavra up`` (pid, start time): what the cleanup may stop."""
    kills: list[Kill] = field(default_factory=list)
    answers: dict[str, str] = field(default_factory=dict)
    retried: Counter[str] = field(default_factory=Counter)
    """Answers that made the load send a command again under its key (ConnectError, 503, 409, ...)."""
    load_ended: float = 0.0

    def processes(self) -> dict[str, int]:
        found = children(self.up.pid)
        self.seen.update(i for i in map(identity, found.values()) if i is not None)
        return found

    def delivery_pids(self) -> list[int]:
        return [pid for name, pid in self.processes().items() if name.startswith("delivery")]

    async def ready(self) -> bool:
        try:
            return (await self.api.get("/readyz", timeout=5)).status_code == 200
        except httpx.HTTPError:
            return False

    async def wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if await self.ready():
                return True
            await asyncio.sleep(0.2)
        return False

    async def create_schedules(self) -> None:
        due = (datetime.now(UTC) + timedelta(days=60)).isoformat()
        gate = asyncio.Semaphore(8)

        async def put(index: int) -> None:
            async with gate:
                url = f"/runtime/go-pilot/rollback-drill-schedules/chaos-{index:04d}"
                response = await self.api.put(url, json=schedule_body(due))
                assert response.status_code in (200, 201, 202), response.text

        await asyncio.gather(*(put(i) for i in range(SCHEDULES)))

    async def load(self) -> None:
        """One forced plan command per schedule, paced over LOAD_SECONDS."""
        run_id = uuid.uuid4().hex[:8]
        interval = LOAD_SECONDS / SCHEDULES
        tasks = []
        for index in range(SCHEDULES):
            await asyncio.sleep(max(0.0, self.started + index * interval - time.monotonic()))
            tasks.append(asyncio.create_task(self.command(index, f"chaos-{run_id}-{index:04d}")))
        await asyncio.gather(*tasks)
        self.load_ended = time.monotonic()

    async def command(self, index: int, key: str) -> None:
        """POST until the gateway took it (2xx) or refused it (4xx but 409), under one key."""
        body = {"schedule_id": f"chaos-{index:04d}", "force": True, "generated_by": "chaos"}
        deadline = time.monotonic() + COMMAND_DEADLINE
        answer = "no answer"
        while time.monotonic() < deadline:
            try:
                response = await self.api.post(DELIVER, json=body, headers={"Idempotency-Key": key})
            except httpx.HTTPError as exc:
                answer = type(exc).__name__
            else:
                code = response.status_code
                answer = str(code) + (" replayed" if response.headers.get("idempotent-replayed") else "")
                if code < 300 or (400 <= code < 500 and code != 409):  # 409: the first is still running
                    break
            self.retried[answer] += 1
            await asyncio.sleep(0.5)
        self.answers[key] = answer

    async def chaos(self, sink: RecordingSink) -> None:
        """Kill each target once, one at a time, each after the last one is back, and each while
        routes are being sent (by that replica, for a delivery replica) when that happens soon."""
        await asyncio.sleep(max(0.0, self.started + FIRST_KILL - time.monotonic()))
        for target in KILLS:
            pid = self.processes().get(target)
            if pid is None:
                print(f"  no process {target!r} to kill (have: {', '.join(sorted(self.processes()))})")
                continue
            log = self.log_of(target)
            offset = log.stat().st_size if log.exists() else 0
            busy = await self.sending(sink, pid if target.startswith("delivery") else None)
            os.kill(pid, signal.SIGKILL)
            kill = Kill(target, pid, time.monotonic(), mid_send=busy)
            self.kills.append(kill)
            await self.recovered(kill, log, offset)
            await asyncio.sleep(KILL_GAP)

    @staticmethod
    async def sending(sink: RecordingSink, sender: int | None, timeout: float = 5.0) -> bool:
        """Wait (bounded) until the sink got a route in the last 20 ms (from ``sender`` if given)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            now = time.monotonic()
            for item in reversed(sink.arrivals[-50:]):
                if now - item.at > 0.02:
                    break
                if sender is None or item.sender == sender:
                    return True
            await asyncio.sleep(0.002)
        return False

    def log_of(self, target: str) -> Path:
        return self.home / ("postgres/server.log" if target == "postgres" else f"logs/{target}.log")

    async def recovered(self, kill: Kill, log: Path, offset: int) -> None:
        """Back: a new process under the same name, started up (a service logs ``service.started``),
        and ``/readyz`` 200 (NATS, PostgreSQL and every service answer the gateway)."""
        deadline = kill.at + RECOVERY_TIMEOUT
        while time.monotonic() < deadline:
            pid = self.processes().get(kill.target)
            if pid is not None and pid != kill.pid and self.started_up(kill.target, log, offset):
                if await self.ready():
                    kill.recovered_at, kill.new_pid = time.monotonic(), pid
                    return
            await asyncio.sleep(0.1)

    @staticmethod
    def started_up(target: str, log: Path, offset: int) -> bool:
        if target in ("gateway", "postgres", "nats-server"):
            return True  # readyz speaks for them
        with contextlib.suppress(OSError), log.open("rb") as handle:
            handle.seek(offset)
            return b"service.started" in handle.read()
        return False

    async def drain(self, expected: set[tuple[str, str, str]], sink: RecordingSink) -> float:
        """Until every route arrived, nothing is pending and the bus is idle (bounded); how long."""
        last_kill = max((k.recovered_at or k.at for k in self.kills), default=time.monotonic())
        deadline = max(last_kill, self.load_ended) + DRAIN_SECONDS
        began = time.monotonic()
        quiet_since: float | None = None
        while time.monotonic() < deadline:
            arrived = {a.route for a in sink.arrivals}
            if expected <= arrived and await self.settled():
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since >= 3.0:  # late re-sends still count
                    break
            else:
                quiet_since = None
            await asyncio.sleep(0.5)
        return time.monotonic() - began

    async def settled(self) -> bool:
        try:
            conn = await asyncpg.connect(self.database_url, timeout=5)
            try:
                pending = await conn.fetchval(
                    "SELECT count(*) FROM delivery.deliveries WHERE status = 'pending'"
                )
            finally:
                await conn.close()
            return pending == 0 and await self.bus_idle()
        except (OSError, asyncpg.PostgresError, TimeoutError):
            return False

    async def bus_idle(self) -> bool:
        return not await self.bus_backlog()

    async def bus_backlog(self) -> dict[str, str]:
        """Consumers with work left: durable name -> what is left (and what was redelivered)."""
        nc = await nats.connect(self.nats_url, connect_timeout=3, max_reconnect_attempts=0)
        left = {}
        try:
            js = nc.jetstream(timeout=5)
            for stream in await js.streams_info():
                for consumer in await js.consumers_info(stream.config.name):
                    if consumer.num_pending or consumer.num_ack_pending:
                        left[consumer.name] = (
                            f"{consumer.num_ack_pending} delivered, not acked; {consumer.num_pending} "
                            f"not delivered yet; ack wait {consumer.config.ack_wait:.0f}s"
                        )
            return left
        finally:
            await nc.close()

    async def evidence(self) -> tuple[list[EvidenceRow], list[str]]:
        conn = await asyncpg.connect(self.database_url, timeout=10)
        try:
            rows = await conn.fetch("SELECT plan_id, route_key, delivery_id, status FROM delivery.deliveries")
            records = await conn.fetch("SELECT plan_id FROM delivery.delivery_records")
        finally:
            await conn.close()
        return [EvidenceRow(**dict(row)) for row in rows], [row["plan_id"] for row in records]

    async def plan_schedules(self, plan_ids: set[str]) -> dict[str, str]:
        found = {}
        for plan_id in sorted(plan_ids)[:500]:
            with contextlib.suppress(httpx.HTTPError, KeyError, ValueError):
                response = await self.api.get(f"{PLANS}/{plan_id}")
                found[plan_id] = response.json()["plan"]["schedule_id"]
        return found

    async def dead_letters(self) -> int:
        nc = await nats.connect(self.nats_url, connect_timeout=3, max_reconnect_attempts=0)
        try:
            return sum(
                s.state.messages for s in await nc.jetstream().streams_info() if "DLQ" in s.config.name
            )
        finally:
            await nc.close()

    def log_findings(self) -> list[str]:
        """Per log: lines that say something went wrong (counts by event), for the report; with the
        error text of a failure the dispatcher did not take for weather (it rejects on the next)."""
        findings = []
        for log in sorted((self.home / "logs").glob("*.log")):
            counts: dict[str, int] = {}
            notable: list[str] = []
            for line in log.read_text(errors="replace").splitlines():
                with contextlib.suppress(ValueError, AttributeError):
                    entry = json.loads(line)
                    if entry.get("level") in ("warning", "error", "critical"):
                        name = f"{entry.get('event')}" + (
                            f"[{entry['error_class']}]" if entry.get("error_class") else ""
                        )
                        counts[name] = counts.get(name, 0) + 1
                        if entry.get("event") in NOT_WEATHER and len(notable) < 3:
                            notable.append(f"{entry['event']} {entry.get('about', '')}: {entry.get('error')}")
            if counts:
                top = sorted(counts.items(), key=lambda item: -item[1])[:6]
                findings.append(f"  {log.stem}: " + ", ".join(f"{n} x{c}" for n, c in top))
                findings += [f"    {text}" for text in notable]
        return findings


def environment(home: Path, config: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAVRA_")}
    return (
        env
        | {
            "CAVRA_HOME": str(home),
            "CAVRA_API_PORT": str(port),
            "CAVRA_LOG_LEVEL": "info",
            "CAVRA_EMBEDDED_NATS_PORT": str(free_port()),
            "CAVRA_EMBEDDED_NATS_MONITOR_PORT": str(free_port()),
            "CAVRA_EMBEDDED_PG_PORT": str(free_port()),
            "CAVRA_CONNECTOR_CONFIG": str(config),
            "CAVRA_DELIVERY_WAIT_SECONDS": "0",  # answer once planned: the load measures the pipeline
            "CAVRA_DELIVERY_REPLICAS": str(REPLICAS),
            "CAVRA_BOOTSTRAP_ADMIN_TOKEN": ADMIN_TOKEN,
        }
        | ({"CAVRA_ACK_WAIT_SECONDS": ACK_WAIT} if ACK_WAIT else {})
    )


def stop_everything(up: subprocess.Popen[bytes], seen: set[tuple[int, int]]) -> list[int]:
    """SIGTERM ``cavra up`` (it stops its children and servers in order), then SIGKILL by PID
    whatever of what we saw is still alive (the same process: PID and start time); returns those."""
    if up.poll() is None:
        up.send_signal(signal.SIGTERM)
        try:
            up.wait(60)
        except subprocess.TimeoutExpired:
            up.kill()
            up.wait(10)
    left = [pid for pid, started in sorted(seen) if identity(pid) == (pid, started)]
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return left


async def main() -> int:
    home = Path(tempfile.mkdtemp(prefix="cavra-chaos-"))
    holder: dict[str, Run] = {}
    config = home / "connectors.json"
    async with RecordingSink(lambda: holder["run"].delivery_pids() if "run" in holder else []) as sink:
        urls = {name: {"type": "webhook", "url": f"{sink.url}/{name}"} for name in CONNECTORS}
        config.write_text(json.dumps({"connectors": urls}))
        port = free_port()
        env = environment(home, config, port)
        up = subprocess.Popen(
            [str(Path(sys.executable).parent / "cavra"), "up"],
            env=env,
            stdout=(home / "up.log").open("ab"),
            stderr=subprocess.STDOUT,
        )
        seen: set[tuple[int, int]] = set()
        failed = True
        try:
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}",
                timeout=30,
                limits=httpx.Limits(max_connections=64),
                headers=ADMIN_HEADERS,
            ) as api:
                run = Run(
                    home,
                    up,
                    api,
                    nats_url=f"nats://127.0.0.1:{env['CAVRA_EMBEDDED_NATS_PORT']}",
                    database_url=f"postgresql://postgres@127.0.0.1:{env['CAVRA_EMBEDDED_PG_PORT']}/cavra",
                    seen=seen,
                )
                holder["run"] = run
                if not await run.wait_ready(120):
                    print(f"cavra up not ready after 120s; see {home}/up.log")
                    return 2
                await run.create_schedules()
                expected = expected_routes()
                names = ", ".join(f"{n} {p}" for n, p in sorted(run.processes().items()))
                print(
                    f"{SCHEDULES} schedules, {len(expected)} routes expected, over {LOAD_SECONDS:.0f}s; "
                    f"{REPLICAS} delivery replicas; ack wait {ACK_WAIT or 'default'}; in-flight window "
                    f"{WINDOW:.1f}s; drain <= {DRAIN_SECONDS:.0f}s; {os.cpu_count()} CPUs\n"
                    f"kills, in order: {', '.join(KILLS)}; processes: {names}"
                )
                run.started = time.monotonic()
                await asyncio.gather(run.load(), run.chaos(sink))
                refused = {k: a for k, a in run.answers.items() if not a.startswith("2")}
                took = run.load_ended - run.started
                print(
                    f"load: {SCHEDULES} plan commands over {took:.1f}s; final answers "
                    f"{dict(Counter(run.answers.values()))}; sent again after "
                    f"{dict(run.retried) or 'nothing'}; not taken by the gateway: {len(refused)}"
                )
                drained = await run.drain(expected, sink)
                rows, records = await run.evidence()
                known = {a.plan_id for a in sink.arrivals}
                schedules = await run.plan_schedules({r.plan_id for r in rows} - known)
                summary = summarize(
                    expected, sink.arrivals, rows, records, run.kills, plan_schedules=schedules, window=WINDOW
                )
                last = max(a.at for a in sink.arrivals) if sink.arrivals else run.started
                print(
                    f"drained in {drained:.1f}s; last arrival at +{last - run.started:.1f}s; "
                    f"{len(sink.arrivals)} requests at the sink; dead letters {await run.dead_letters()}"
                )
                print(render(summary, run.kills, started=run.started, window=WINDOW))
                with contextlib.suppress(Exception):
                    for name, left in (await run.bus_backlog()).items():
                        print(f"bus at the end: {name}: {left}")
                print("warnings and errors in the service logs:")
                print("\n".join(run.log_findings()) or "  none")
                misses = summary.failed_goals() + [
                    f"{k.target} not back" for k in run.kills if k.recovered_at is None
                ]
                misses += [f"{t} not killed" for t in KILLS if t not in {k.target for k in run.kills}]
                failed = bool(misses)
                print("GOALS MISSED: " + "; ".join(misses) if misses else "all goals met")
                return 1 if failed else 0
        finally:
            left = stop_everything(up, seen)
            kept = keep_logs(home, sink, holder.get("run")) if failed or KEEP_LOGS else None
            shutil.rmtree(home, ignore_errors=True)
            with contextlib.suppress(OSError):  # stdout may be a pipe that is gone by now
                if left:
                    print(f"killed leftover processes {left}")
                if kept:
                    print(f"logs kept in {kept}")


def keep_logs(home: Path, sink: RecordingSink, run: Run | None) -> Path | None:
    """Copy the run's logs out of the temporary home (which is deleted) for a look afterwards, with
    every arrival and kill (seconds since the load started) in ``arrivals.jsonl`` / ``kills.jsonl``."""
    kept = Path(tempfile.mkdtemp(prefix="cavra-chaos-logs-"))
    zero = run.started if run else 0.0
    with (kept / "arrivals.jsonl").open("w") as out:
        for item in sink.arrivals:
            out.write(json.dumps(asdict(item) | {"at": round(item.at - zero, 4)}) + "\n")
    with (kept / "kills.jsonl").open("w") as out:
        for kill in run.kills if run else []:
            moments = {"at": kill.at - zero, "recovered_at": (kill.recovered_at or zero) - zero}
            out.write(json.dumps(asdict(kill) | moments) + "\n")
    with contextlib.suppress(OSError):
        shutil.copytree(home / "logs", kept / "logs", dirs_exist_ok=True)
        shutil.copy(home / "postgres" / "server.log", kept / "logs" / "postgres.log")
        shutil.copy(home / "up.log", kept / "up.log")
    return kept


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
