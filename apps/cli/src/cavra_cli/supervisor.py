"""``cavra up``: bring the whole system up on this machine and keep it up until Ctrl-C / SIGTERM.

Without ``CAVRA_NATS_URL`` / ``CAVRA_DATABASE_URL`` it starts the embedded NATS JetStream and
PostgreSQL servers with their data under ``$CAVRA_HOME``; with them set it uses those servers
and starts none. Every service runs as its own OS process; one that dies is restarted (with a
growing delay), so a ``kill -9`` costs a few seconds, never a message. The embedded servers are
watched the same way: a nats-server or postmaster that dies is started again on the same data
folder and port (the services reconnect on their own). Which processes, and how many copies of
each, comes from the service registry (``cavra_runtime.services``).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol

from rich.console import Console

from cavra_cli.demo import DemoRun
from cavra_cli.demo_seed import DemoError
from cavra_cli.prepare import prepare
from cavra_cli.tokens import local_admin_token
from cavra_runtime.bus import Bus
from cavra_runtime.embedded import EmbeddedNats, EmbeddedPostgres, EmbeddedServerError, stop_process
from cavra_runtime.services import SERVICES, Service

console = Console(highlight=False)
MAX_RESTART_DELAY = 30.0
STABLE_AFTER = 60.0


class Supervised(Protocol):
    """Something ``cavra up`` keeps running: restarted with a growing delay when it dies."""

    restarts: int
    next_start: float
    started_at: float

    @property
    def name(self) -> str: ...

    def exit_code(self) -> int | None:
        """None while it runs; its exit code (or -1 when unknown) once it has died."""
        ...

    def start(self) -> None: ...


@dataclass
class Child:
    spec: Service
    log_path: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    next_start: float = 0.0
    started_at: float = 0.0
    log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.log_path.stem  # e.g. delivery-2

    def exit_code(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def start(self) -> None:
        if self.log:
            self.log.close()
        self.log = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the child's lifetime
        self.started_at = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.spec.package], env=self.env, stdout=self.log, stderr=subprocess.STDOUT
        )

    def stop(self, timeout: float = 20.0) -> None:
        stop_process(self.process, timeout=timeout)
        if self.log:
            self.log.close()


@dataclass
class Server:
    """An embedded server this ``cavra up`` started; started again on the same data and port."""

    server: EmbeddedNats | EmbeddedPostgres
    restarts: int = 0
    next_start: float = 0.0
    started_at: float = 0.0

    @property
    def name(self) -> str:
        return "nats-server" if isinstance(self.server, EmbeddedNats) else "postgres"

    def exit_code(self) -> int | None:
        if self.server.running():
            return None
        process = self.server.process
        return -1 if process is None or process.returncode is None else process.returncode

    def start(self) -> None:
        self.started_at = time.monotonic()
        self.server.start()


def _wait_ready(url: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback URL we built
                if response.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


def processes(environ: Mapping[str, str]) -> list[tuple[Service, str]]:
    """Every process to run, in start order, with its log name: ``CAVRA_<SERVICE>_REPLICAS`` copies
    of each message-driven service (they share the durable consumers) and the gateway once."""
    planned: list[tuple[Service, str]] = []
    for service in SERVICES:
        replicas = service.replicas(environ)
        for replica in range(1, replicas + 1):
            planned.append((service, f"{service.name}-{replica}" if replicas > 1 else service.name))
    return planned


def up(home: Path, api_port: int, *, ready_timeout: float = 90.0, demo: bool = False) -> int:
    """Run everything; returns the exit code. ``demo``: the demo system (``cavra_cli.demo``)."""
    started = time.monotonic()
    home = home.resolve()
    try:
        planned = processes(os.environ)
    except ValueError as exc:
        console.print(f"[bold red]{exc}[/]")
        return 2
    env = dict(os.environ, CAVRA_HOME=str(home), CAVRA_API_PORT=str(api_port))
    sample = DemoRun(home) if demo else None
    if sample is not None:
        try:
            env = sample.environment(env)
        except DemoError as exc:
            sample.stop()
            console.print(f"[bold red]{exc}[/]")
            return 2
        home = sample.home
    (home / "logs").mkdir(parents=True, exist_ok=True)
    nats: EmbeddedNats | None = None
    postgres: EmbeddedPostgres | None = None
    stopping = False

    def request_stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    children: list[Child] = []
    servers: list[Server] = []
    try:
        if not env.get("CAVRA_NATS_URL"):
            nats = EmbeddedNats(
                home / "nats" / "jetstream",
                port=int(env.get("CAVRA_EMBEDDED_NATS_PORT", "4222")),
                monitor_port=int(env.get("CAVRA_EMBEDDED_NATS_MONITOR_PORT", "8222")),
                sync_always=env.get("CAVRA_NATS_SYNC", "always") == "always",
            )
            nats.start(log_file=home / "logs" / "nats-server.log")
            servers.append(Server(nats, started_at=time.monotonic()))
            env["CAVRA_NATS_URL"] = nats.url
        if not env.get("CAVRA_DATABASE_URL"):
            postgres = EmbeddedPostgres(
                home / "postgres", port=int(env.get("CAVRA_EMBEDDED_PG_PORT", "5433"))
            )
            postgres.start()
            servers.append(Server(postgres, started_at=time.monotonic()))
            env["CAVRA_DATABASE_URL"] = postgres.url
        applied = asyncio.run(prepare(env["CAVRA_DATABASE_URL"], env["CAVRA_NATS_URL"]))
        for service, names in applied.items():
            for name in names:
                console.print(f"  migrated {service}: {name}")
        admin = asyncio.run(_admin_credentials(env, home))
        if sample is not None:
            asyncio.run(sample.make_tokens(env["CAVRA_NATS_URL"]))
        for spec, log_name in planned:
            child = Child(spec, home / "logs" / f"{log_name}.log", env)
            child.start()
            children.append(child)
        _print_where(env, home, api_port, nats, postgres, children)
        console.print(f"  admin token     {admin}")
        base = f"http://127.0.0.1:{api_port}"
        if _wait_ready(f"{base}/readyz", ready_timeout):
            console.print(
                f"[bold green]ready[/] in {time.monotonic() - started:.1f}s — {base}  (Ctrl-C stops)"
            )
            if sample is not None:
                sample.announce(base)
                sample.seed_in_background(base)
        else:
            console.print(f"[bold red]not ready after {ready_timeout:.0f}s[/]; see {home / 'logs'}")
        while not stopping:
            _restart_dead([*servers, *children])  # servers first: the services need them
            time.sleep(0.5)
        return 0
    finally:
        console.print("stopping …")
        for child in reversed(children):
            child.stop()
        if postgres:
            postgres.stop()
        if nats:
            nats.stop()
        if sample is not None:
            sample.stop()
        console.print("stopped")


async def _admin_credentials(env: Mapping[str, str], home: Path) -> str:
    """Where the admin credential is: CAVRA_BOOTSTRAP_ADMIN_TOKEN when set, else the local admin
    API token under $CAVRA_HOME (made on the first start, reused while it is valid)."""
    if env.get("CAVRA_BOOTSTRAP_ADMIN_TOKEN"):
        return "CAVRA_BOOTSTRAP_ADMIN_TOKEN (from the environment)"
    bus = await Bus.connect(env["CAVRA_NATS_URL"], name="cavra-up")
    try:
        path, created = await local_admin_token(home, bus)
    finally:
        await bus.close()
    return f"{path} ({'created' if created else 'kept'}, mode 0600): Authorization: Bearer $(cat {path})"


def _restart_dead(supervised: list[Supervised]) -> None:
    """One pass: note what died (and when to start it again), start what is due."""
    now = time.monotonic()
    for item in supervised:
        code = item.exit_code()
        if code is None:
            continue
        if item.next_start == 0.0:
            if now - item.started_at > STABLE_AFTER:
                item.restarts = 0  # it ran fine for a while: start over with a short delay
            delay = min(MAX_RESTART_DELAY, 0.5 * 2**item.restarts)
            item.next_start = now + delay
            console.print(f"[yellow]{item.name} exited ({code}); restarting in {delay:.1f}s[/]")
        elif now >= item.next_start:
            item.restarts += 1
            item.next_start = 0.0
            try:
                item.start()
            except (EmbeddedServerError, OSError) as exc:  # tried again on the next pass, later
                console.print(f"[red]{item.name} did not start: {exc}[/]")
            else:
                console.print(f"[green]{item.name} restarted[/]")


def _print_where(
    env: dict[str, str],
    home: Path,
    api_port: int,
    nats: EmbeddedNats | None,
    postgres: EmbeddedPostgres | None,
    children: list[Child],
) -> None:
    console.print(f"[bold]CAVRA Drill Ops[/] — data in {home}")

    def embedded(server: EmbeddedNats | EmbeddedPostgres | None) -> str:
        if server is None:
            return " (external)"
        return f" (embedded, pid {server.process.pid})" if server.process else " (embedded)"

    console.print(f"  NATS JetStream  {env['CAVRA_NATS_URL']}{embedded(nats)}")
    console.print(f"  PostgreSQL      {env['CAVRA_DATABASE_URL']}{embedded(postgres)}")
    for child in children:
        pid = child.process.pid if child.process else "-"
        console.print(f"  {child.name:<15} pid {pid}  log {child.log_path}")
    console.print(f"  API + docs      http://127.0.0.1:{api_port}/docs")
