"""What the benches share: ``cavra up`` in a temporary $CAVRA_HOME on free loopback ports with a
bootstrap admin token, its readiness, the processes it started and the CPU and memory they use, a
fresh database on the test servers, and percentiles of the measured latencies.

Importing it puts the repository root on ``sys.path`` (the benches use ``tests.support``).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cavra_runtime.embedded import free_port  # noqa: E402

READY_SECONDS = 120
"""How long ``cavra up`` may take to answer /readyz with 200 (initdb, migrations, streams)."""


def with_database(url: str, name: str) -> str:
    """``url`` with its database name replaced by ``name``."""
    return url.rsplit("/", 1)[0] + "/" + name


async def fresh_database(server_url: str, name: str) -> str:
    """Drop and create database ``name`` on the server of ``server_url``; its URL."""
    admin = await asyncpg.connect(with_database(server_url, "postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return with_database(server_url, name)


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile; NaN when nothing was measured."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


@contextmanager
def system_home(prefix: str) -> Iterator[Path]:
    """A temporary $CAVRA_HOME, removed afterwards."""
    home = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)


def system_env(home: Path, **settings: str) -> dict[str, str]:
    """The environment of ``cavra up`` in ``home``: this one without CAVRA_*, free loopback ports, a
    fresh bootstrap admin token (``CAVRA_BOOTSTRAP_ADMIN_TOKEN``), warnings only, then ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAVRA_")}
    env |= {
        "CAVRA_HOME": str(home),
        "CAVRA_API_PORT": str(free_port()),
        "CAVRA_EMBEDDED_NATS_PORT": str(free_port()),
        "CAVRA_EMBEDDED_NATS_MONITOR_PORT": str(free_port()),
        "CAVRA_EMBEDDED_PG_PORT": str(free_port()),
        "CAVRA_LOG_LEVEL": "warning",
        "CAVRA_BOOTSTRAP_ADMIN_TOKEN": secrets.token_urlsafe(32),
    }
    return env | settings


def api_base(env: dict[str, str]) -> str:
    """The gateway's address under ``env``."""
    return f"http://127.0.0.1:{env['CAVRA_API_PORT']}"


def admin_headers(env: dict[str, str]) -> dict[str, str]:
    """Every API call of a bench is the bootstrap admin's."""
    return {"Authorization": f"Bearer {env['CAVRA_BOOTSTRAP_ADMIN_TOKEN']}"}


def nats_url(env: dict[str, str]) -> str:
    """The embedded NATS server's address under ``env``."""
    return f"nats://127.0.0.1:{env['CAVRA_EMBEDDED_NATS_PORT']}"


def start_system(home: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], float]:
    """Start ``cavra up`` (its output in ``home/up.log``) and wait for a green /readyz; returns the
    process and the seconds it took. Exits with the end of the log when it never becomes ready."""
    started = time.monotonic()
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "cavra"), "up"],
        env=env,
        stdout=(home / "up.log").open("ab"),
        stderr=subprocess.STDOUT,
    )
    url = f"{api_base(env)}/readyz"
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return process, time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    stop_system(process)
    log = (home / "up.log").read_text(errors="replace").splitlines()[-20:]
    raise SystemExit("cavra up never became ready; the end of its log:\n" + "\n".join(log))


def stop_system(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM ``cavra up`` and wait for it to stop its processes."""
    process.send_signal(signal.SIGTERM)
    process.wait(60)


def process_table() -> Iterator[tuple[int, int, str]]:
    """(pid, parent pid, command line) of every process that can be read now."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            parent = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except (OSError, ValueError, IndexError):
            continue
        yield int(proc.name), parent, cmdline


def descendants(pid: int) -> dict[int, str]:
    """Command line of every process below ``pid``."""
    table = list(process_table())
    found: dict[int, str] = {}
    parents = [pid]
    while parents:
        parent = parents.pop()
        for child, its_parent, cmdline in table:
            if its_parent == parent:
                found[child] = cmdline
                parents.append(child)
    return found


def process_name(cmd: str) -> str:
    """A service's module (``python -m cavra_x``), else the program's file name."""
    if " -m " in cmd:
        return cmd.split(" -m ")[-1].split()[0]
    return Path(cmd.split()[0]).name if cmd else "?"


def cpu_seconds(pid: int, missing: float = 0.0) -> float:
    """User + system CPU seconds of ``pid``; ``missing`` when it cannot be read (gone, not local)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return missing
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_by_name(names: dict[int, str]) -> dict[str, float]:
    """CPU seconds summed per name of ``names`` (pid -> name)."""
    totals: dict[str, float] = {}
    for pid, name in names.items():
        totals[name] = totals.get(name, 0.0) + cpu_seconds(pid)
    return totals


def memory_mb(pid: int, field: str = "VmRSS") -> float:
    """A /proc/<pid>/status memory figure (VmRSS now, VmHWM peak) in MB; NaN when it cannot be read."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")
