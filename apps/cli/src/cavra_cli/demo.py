"""``cavra up --demo``: a real system on its own demo home, filled with sample data through the public API.

The console has no sample-data code path. Demo mode is the whole system started as ``cavra up`` starts
it, with three differences: its data lives under ``$CAVRA_HOME/demo`` on its own embedded servers
(never next to real data, never on external ones), its connectors point at the demo sink on
127.0.0.1 (``cavra_cli.demo_sink``; the ``siem`` connector is down on purpose), and the gateway runs
with ``CAVRA_CONSOLE_DEMO=true`` so every console page carries a "sample data" banner. Once the
gateway is ready, ``cavra_cli.demo_seed`` records sample data through the REST API only (an
operator token, and an approver token for the approval decision), so every table of the console has
rows and every action works for real. This module owns the demo system: its home, environment,
connector config, tokens and the hooks the supervisor calls.
"""

from __future__ import annotations

import base64
import json
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from cavra_cli.demo_seed import FAILING_PROVIDER, DemoError, seed_running_system
from cavra_cli.demo_sink import DemoSink
from cavra_contracts.actors import Role
from cavra_contracts.envelope import utc_now
from cavra_gateway.auth.tokens import TokenStore
from cavra_runtime.bus import Bus

DEMO_SECRET = "demo-not-a-secret"
"""The only credential the demo connectors carry: obviously fake, the sink checks nothing."""
DEMO_WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"demo-not-a-secret-demo-signing").decode()
DEMO_PORTS = {
    "CAVRA_EMBEDDED_NATS_PORT": "4223",
    "CAVRA_EMBEDDED_NATS_MONITOR_PORT": "8223",
    "CAVRA_EMBEDDED_PG_PORT": "5434",
}
"""Default ports of the demo's embedded servers: a real ``cavra up`` on the defaults keeps running."""
DEMO_TOKEN_NAMES: dict[Role, str] = {"operator": "demo-operator", "approver": "demo-approver"}
out = Console(highlight=False, soft_wrap=True)


# --- the demo system ------------------------------------------------------------------------------


def demo_home(home: Path) -> Path:
    """Where the demo keeps its data: a folder of its own under the real home."""
    return home / "demo"


def connector_config(sink_url: str) -> dict[str, Any]:
    """Every connector type, each at the demo sink; ``siem`` at a path the sink answers with 503."""
    return {
        "connectors": {
            "slack": {"type": "slack", "url": f"{sink_url}/slack/services/DEMO/DEMO/DEMO"},
            "teams": {"type": "teams", "url": f"{sink_url}/teams/workflows/run"},
            "webhook": {"type": "webhook", "url": f"{sink_url}/webhook/drill", "secret": DEMO_WEBHOOK_SECRET},
            "jira": {
                "type": "jira",
                "url": f"{sink_url}/jira",
                "email": "demo@example.invalid",
                "api_token": DEMO_SECRET,
                "project_key": "DEMO",
            },
            "servicenow": {
                "type": "servicenow",
                "url": f"{sink_url}/servicenow",
                "username": "demo",
                "password": DEMO_SECRET,
            },
            FAILING_PROVIDER: {
                "type": "siem",
                "url": f"{sink_url}/down/hec",
                "token": DEMO_SECRET,
                "retries": 0,
            },
        }
    }


def demo_environment(environ: Mapping[str, str], home: Path, sink_url: str) -> dict[str, str]:
    """The environment ``cavra up --demo`` runs everything with; writes the demo connector config.

    Refuses external servers: sample data must never land in a real deployment's NATS or PostgreSQL."""
    external = [name for name in ("CAVRA_NATS_URL", "CAVRA_DATABASE_URL") if environ.get(name)]
    if external:
        raise DemoError(f"demo mode runs on its own embedded servers; unset {' and '.join(external)}")
    home.mkdir(parents=True, exist_ok=True)
    config = home / "demo-connectors.json"
    temporary = config.with_suffix(".tmp")
    temporary.write_text(json.dumps(connector_config(sink_url), indent=2))
    os.replace(temporary, config)  # the delivery service reloads a changed file; never half of one
    env = {**DEMO_PORTS, **environ}
    env.update(
        CAVRA_CONSOLE_DEMO="true",
        CAVRA_CONNECTOR_CONFIG=str(config),
        CAVRA_RECOVERY_ESCALATION_PROVIDERS="teams",
        CAVRA_EXECUTIVE_REPORT_PROVIDERS="webhook",
    )
    return env


async def demo_tokens(home: Path, bus: Bus) -> dict[Role, str]:
    """A demo operator and a demo approver token, kept under the demo home (mode 0600) and reused
    while they are active, so a restarted demo keeps the tokens its user signed in with."""
    store = await TokenStore.open(bus)
    tokens: dict[Role, str] = {}
    for role, name in DEMO_TOKEN_NAMES.items():
        path = home / f"{name}-token"
        if path.exists():
            token = path.read_text().strip()
            record = await store.find(token) if token else None
            if record is not None and record.role == role and record.state(utc_now()) == "active":
                tokens[role] = token
                continue
        token, _ = await store.create(name=name, role=role, created_by="cavra up --demo")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(token + "\n")
        tokens[role] = token
    return tokens


# --- the hooks ``cavra up --demo`` calls ----------------------------------------------------------


class DemoRun:
    """The demo's part of one ``cavra up --demo``: the sink, the environment, the tokens, the seeding."""

    def __init__(self, home: Path) -> None:
        self.home = demo_home(home)
        self.sink = DemoSink()
        self.tokens: dict[Role, str] = {}
        self.seeding: threading.Thread | None = None

    def environment(self, environ: Mapping[str, str]) -> dict[str, str]:
        """Starts the sink; the environment to run everything with (``DemoError`` for external servers)."""
        self.sink.start()
        return {**demo_environment(environ, self.home, self.sink.url), "CAVRA_HOME": str(self.home)}

    async def make_tokens(self, nats_url: str) -> None:
        bus = await Bus.connect(nats_url, name="cavra-up-demo")
        try:
            self.tokens = await demo_tokens(self.home, bus)
        finally:
            await bus.close()

    def announce(self, base_url: str) -> None:
        out.print(
            f"[bold magenta]DEMO MODE[/] — sample data only, in {self.home}; connectors at {self.sink.url}"
        )
        out.print(f"  console (demo)  {base_url}/console")
        for role, token in self.tokens.items():
            out.print(f"  demo {role:<9} token {token}  (sign in with it; demo data only)")

    def seed_in_background(self, base_url: str) -> None:
        """Seeds from a thread, so the supervisor keeps restarting what dies meanwhile."""

        def run() -> None:
            out.print("  seeding sample data through the API …")
            try:
                report = seed_running_system(base_url, self.tokens)
            except (DemoError, httpx.HTTPError, OSError) as exc:
                out.print(f"[bold red]demo seeding failed:[/] {exc}")
                return
            if report.already_seeded:
                out.print("  sample data already there (kept, nothing recorded again)")
            else:
                out.print(f"[green]sample data seeded[/] in {report.seconds:.1f}s: {len(report.steps)} steps")

        self.seeding = threading.Thread(target=run, name="demo-seed", daemon=True)
        self.seeding.start()

    def stop(self) -> None:
        self.sink.stop()
