"""``cavra up``: bring the whole system up on this machine and keep it up until Ctrl-C / SIGTERM.

Without ``CAVRA_NATS_URL`` / ``CAVRA_DATABASE_URL`` it starts the embedded NATS JetStream and
PostgreSQL servers with their data under ``$CAVRA_HOME``; with them set it uses those servers
and starts none. Every service runs as its own OS process; one that dies is restarted (with a
growing delay), so a ``kill -9`` costs a few seconds, never a message. Which processes, and how
many copies of each, comes from the service registry (``cavra_runtime.services``).
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
from typing import IO

from rich.console import Console

from cavra_cli.prepare import prepare
from cavra_runtime.embedded import EmbeddedNats, EmbeddedPostgres
from cavra_runtime.services import SERVICES, Service

console = Console(highlight=False)
MAX_RESTART_DELAY = 30.0
STABLE_AFTER = 60.0


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

    def start(self) -> None:
        self.log = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the child's lifetime
        self.started_at = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.spec.package], env=self.env, stdout=self.log, stderr=subprocess.STDOUT
        )

    def stop(self, timeout: float = 20.0) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.log:
            self.log.close()


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


def up(home: Path, api_port: int, *, ready_timeout: float = 90.0) -> int:
    """Run everything; returns the exit code."""
    started = time.monotonic()
    home = home.resolve()
    try:
        planned = processes(os.environ)
    except ValueError as exc:
        console.print(f"[bold red]{exc}[/]")
        return 2
    (home / "logs").mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, CAVRA_HOME=str(home), CAVRA_API_PORT=str(api_port))
    nats: EmbeddedNats | None = None
    postgres: EmbeddedPostgres | None = None
    stopping = False

    def request_stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    children: list[Child] = []
    try:
        if not env.get("CAVRA_NATS_URL"):
            nats = EmbeddedNats(
                home / "nats" / "jetstream",
                port=int(env.get("CAVRA_EMBEDDED_NATS_PORT", "4222")),
                monitor_port=int(env.get("CAVRA_EMBEDDED_NATS_MONITOR_PORT", "8222")),
                sync_always=env.get("CAVRA_NATS_SYNC", "always") == "always",
            )
            nats.start(log_file=home / "logs" / "nats-server.log")
            env["CAVRA_NATS_URL"] = nats.url
        if not env.get("CAVRA_DATABASE_URL"):
            postgres = EmbeddedPostgres(
                home / "postgres", port=int(env.get("CAVRA_EMBEDDED_PG_PORT", "5433"))
            )
            postgres.start()
            env["CAVRA_DATABASE_URL"] = postgres.url
        applied = asyncio.run(prepare(env["CAVRA_DATABASE_URL"], env["CAVRA_NATS_URL"]))
        for service, names in applied.items():
            for name in names:
                console.print(f"  migrated {service}: {name}")
        for spec, log_name in planned:
            child = Child(spec, home / "logs" / f"{log_name}.log", env)
            child.start()
            children.append(child)
        _print_where(env, home, api_port, nats, postgres, children)
        base = f"http://127.0.0.1:{api_port}"
        if _wait_ready(f"{base}/readyz", ready_timeout):
            console.print(
                f"[bold green]ready[/] in {time.monotonic() - started:.1f}s — {base}  (Ctrl-C stops)"
            )
        else:
            console.print(f"[bold red]not ready after {ready_timeout:.0f}s[/]; see {home / 'logs'}")
        while not stopping:
            _restart_dead(children)
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
        console.print("stopped")


def _restart_dead(children: list[Child]) -> None:
    now = time.monotonic()
    for child in children:
        if child.process is None or child.process.poll() is None:
            continue
        if child.next_start == 0.0:
            if now - child.started_at > STABLE_AFTER:
                child.restarts = 0  # it ran fine for a while: start over with a short delay
            delay = min(MAX_RESTART_DELAY, 0.5 * 2**child.restarts)
            child.next_start = now + delay
            console.print(
                f"[yellow]{child.spec.name} exited ({child.process.returncode}); "
                f"restarting in {delay:.1f}s[/]"
            )
        elif now >= child.next_start:
            child.restarts += 1
            child.next_start = 0.0
            if child.log:
                child.log.close()
            child.start()


def _print_where(
    env: dict[str, str],
    home: Path,
    api_port: int,
    nats: EmbeddedNats | None,
    postgres: EmbeddedPostgres | None,
    children: list[Child],
) -> None:
    console.print(f"[bold]CAVRA Drill Ops[/] — data in {home}")
    console.print(f"  NATS JetStream  {env['CAVRA_NATS_URL']}" + (" (embedded)" if nats else " (external)"))
    database = env["CAVRA_DATABASE_URL"]
    console.print(f"  PostgreSQL      {database}" + (" (embedded)" if postgres else " (external)"))
    for child in children:
        pid = child.process.pid if child.process else "-"
        console.print(f"  {child.spec.name:<15} pid {pid}  log {child.log_path}")
    console.print(f"  API + docs      http://127.0.0.1:{api_port}/docs")
