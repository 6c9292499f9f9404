"""``cavra up --demo``: a real system on its own demo home, filled with sample data through the public API.

The console has no sample-data code path. Demo mode is the whole system started as ``cavra up`` starts
it, with three differences: its data lives under ``$CAVRA_HOME/demo`` on its own embedded servers
(never next to real data, never on external ones), its connectors point at the demo sink on
127.0.0.1 (``cavra_cli.demo_sink``; the ``siem`` connector is down on purpose), and the gateway runs
with ``CAVRA_CONSOLE_DEMO=true`` so every console page carries a "sample data" banner. Once the
gateway is ready, :func:`seed` records the example schedule and drill history and then walks the
operator flow through the REST API only (an operator token, and an approver token for the approval
decision), so every table of the console has rows and every action works for real.

Seeding is safe to run again: it stops at once when a previous run finished (the demo schedule and
an executive schedule run exist), and every mutation carries an ``Idempotency-Key``, so a run cut
short and started again replays what the gateway already answered instead of recording it twice.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, cast

import httpx
from rich.console import Console

from cavra_cli.demo_sink import DemoSink
from cavra_contracts.actors import Role
from cavra_contracts.envelope import utc_now
from cavra_gateway.auth.tokens import TokenStore
from cavra_runtime.bus import Bus

NP = "/runtime/go-pilot/rollback-drill-notifications"
AD = f"{NP}/acknowledgements/audit-delivery"
SCHEDULES = "/runtime/go-pilot/rollback-drill-schedules"
EXAMPLES = Path(__file__).resolve().parents[4] / "examples"
EXAMPLE_SCHEDULE = "go-backend-rollback-drill-schedule.json"
EXAMPLE_DRILLS = "go-backend-rollback-drills.json"

DEMO_SECRET = "demo-not-a-secret"
"""The only credential the demo connectors carry: obviously fake, the sink checks nothing."""
DEMO_WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"demo-not-a-secret-demo-signing").decode()
DEMO_SCHEDULE = "demo_payments_weekly"
FAILING_PROVIDER = "siem"
DEMO_PORTS = {
    "CAVRA_EMBEDDED_NATS_PORT": "4223",
    "CAVRA_EMBEDDED_NATS_MONITOR_PORT": "8223",
    "CAVRA_EMBEDDED_PG_PORT": "5434",
}
"""Default ports of the demo's embedded servers: a real ``cavra up`` on the defaults keeps running."""
DEMO_TOKEN_NAMES: dict[Role, str] = {"operator": "demo-operator", "approver": "demo-approver"}
DEMO_WINDOW = ("2026-01-01T00:00:00Z", "2027-12-31T00:00:00Z")
"""The demo's maintenance window and calendar absence: around any time the demo is likely to run."""
IMMEDIATE = {"allow_immediate_retry": True, "retry_delay_minutes": 0}

Tick = Callable[[], Awaitable[None]]
out = Console(highlight=False, soft_wrap=True)


class DemoError(RuntimeError):
    """Demo mode cannot start, or a seeding step failed (the message names the request and its answer)."""


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


# --- seeding through the public API ---------------------------------------------------------------


@dataclass
class SeedReport:
    """What one seeding run did: the steps in order, how long it took, whether it found a finished seed."""

    steps: list[str] = field(default_factory=list)
    seconds: float = 0.0
    already_seeded: bool = False


@dataclass
class _Api:
    client: httpx.AsyncClient
    attempts: int
    pause: float

    async def get(self, path: str, **params: Any) -> dict[str, Any]:
        return await self._call("GET", path, params=params)

    async def post(
        self, path: str, body: dict[str, Any], *, key: str, method: str = "POST"
    ) -> dict[str, Any]:
        return await self._call(method, path, json=body, headers={"Idempotency-Key": f"cavra-demo-{key}"})

    async def _call(self, method: str, path: str, **request: Any) -> dict[str, Any]:
        answer: httpx.Response | None = None
        for _ in range(self.attempts):
            answer = await self.client.request(method, path, **request)
            # 503: a service is not answering yet; 202 / 409: still running, the same key replays it.
            if answer.status_code not in (202, 409, 503):
                break
            await asyncio.sleep(self.pause)
        assert answer is not None
        if answer.status_code not in (200, 201):
            raise DemoError(f"{method} {path} answered {answer.status_code}: {answer.text[:500]}")
        return cast(dict[str, Any], answer.json())


def demo_schedule() -> dict[str, Any]:
    """A second schedule: routes whose one-minute SLO breaches soon, one to the failing connector,
    ITSM routes (one in a maintenance window) and an owner whose calendar suppresses their route."""
    return {
        "schema_version": "cavra.go-backend-rollback-drill-schedule.v1",
        "environment": "demo",
        "interval_days": 7,
        "next_due_at": "2026-10-01T00:00:00Z",
        "owners": ["payments-oncall", "checkout-team", "platform-ops", "data-platform"],
        "notification_providers": ["webhook"],
        "owner_routes": {
            "payments-oncall": {
                "providers": ["webhook", FAILING_PROVIDER],
                "acknowledgement_minutes": 1,
                "escalation_owner": "incident-commander",
            },
            "checkout-team": {
                "providers": ["webhook"],
                "acknowledgement_minutes": 1,
                "escalation_owner": "incident-commander",
            },
            "platform-ops": {"providers": ["jira", "servicenow"], "acknowledgement_minutes": 240},
            "data-platform": {"providers": ["slack"]},
            "incident-commander": {"providers": ["teams"]},
        },
        "maintenance_windows": [
            {
                "window_id": "demo-servicenow-freeze",
                "start_at": DEMO_WINDOW[0],
                "end_at": DEMO_WINDOW[1],
                "providers": ["servicenow"],
                "reason": "ServiceNow change freeze (sample data)",
            }
        ],
        "owner_calendars": {
            "data-platform": {
                "unavailable_windows": [
                    {
                        "start_at": DEMO_WINDOW[0],
                        "end_at": DEMO_WINDOW[1],
                        "reason": "team offsite (sample data)",
                    }
                ]
            }
        },
        "runbook_ref": "docs/operations.md#demo-mode",
    }


async def _already_seeded(api: _Api) -> bool:
    schedules = await api.get(SCHEDULES, limit=1000)
    if not any(item["schedule_id"] == DEMO_SCHEDULE for item in schedules["items"]):
        return False
    runs = await api.get(f"{AD}/recovery-executive-report/schedule-runs", limit=1)
    return bool(runs.get("total") or runs.get("items"))


async def _until(check: Callable[[], Awaitable[bool]], tick: Tick, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await tick()
    raise DemoError(f"timed out after {timeout:.0f}s waiting for {what}")


async def _sleep_a_second() -> None:
    await asyncio.sleep(1.0)


async def seed(
    operator: httpx.AsyncClient,
    approver: httpx.AsyncClient,
    *,
    tick: Tick = _sleep_a_second,
    wait_seconds: float = 150.0,
    attempts: int = 30,
    resume: bool = False,
) -> SeedReport:
    """Fill a running system with sample data through its REST API.

    ``operator`` and ``approver`` are clients signed in with those roles. ``tick`` is awaited between
    polls (a test moves its clock there); every wait gives up after ``wait_seconds``, a request after
    ``attempts`` tries. ``resume``: run every step even when a finished seed is found, as a seed cut
    short does when started again (each mutation replays under its ``Idempotency-Key``). Raises
    :class:`DemoError` naming the step that failed."""
    started = time.monotonic()
    report = SeedReport()
    api = _Api(operator, attempts, 1.0)
    decider = _Api(approver, attempts, 1.0)
    if not resume and await _already_seeded(api):
        report.already_seeded = True
        report.seconds = time.monotonic() - started
        return report

    def done(step: str) -> None:
        report.steps.append(step)

    example = json.loads((EXAMPLES / EXAMPLE_SCHEDULE).read_text())
    example_id = example["schedule_id"]
    await api.post(f"{SCHEDULES}/{example_id}", example, key="schedule-example", method="PUT")
    await api.post(f"{SCHEDULES}/{DEMO_SCHEDULE}", demo_schedule(), key="schedule-demo", method="PUT")
    drills = json.loads((EXAMPLES / EXAMPLE_DRILLS).read_text())
    for drill in drills["drills"]:
        body = {**drill, "schedule_id": example_id, "environment": drills.get("environment", "")}
        await api.post("/runtime/go-pilot/rollback-drills", body, key=f"drill-{drill['drill_id']}")
    done("schedules and drill history")

    async def delivered(schedule_id: str) -> bool:
        page = await api.get(NP, schedule_id=schedule_id, metadata_kind="release-connector-delivery", limit=1)
        return int(page.get("total", 0)) >= 1

    for schedule_id in (example_id, DEMO_SCHEDULE):
        await _until(
            partial(delivered, schedule_id), tick, wait_seconds, f"the plan of {schedule_id} delivered"
        )
    done("notification plans and deliveries (the scheduler planned both stale schedules)")

    acks = [
        (
            example_id,
            {"provider": "slack", "acknowledgement_state": "acknowledged", "external_ref": "CHG-DEMO-1"},
        ),
        (example_id, {"provider": "teams", "acknowledgement_state": "resolved", "notes": "drill rehearsed"}),
        (
            DEMO_SCHEDULE,
            {
                "provider": FAILING_PROVIDER,
                "owner": "payments-oncall",
                "acknowledgement_state": "escalated",
                "notes": "SIEM connector is down",
            },
        ),
    ]
    for number, (schedule_id, body) in enumerate(acks, start=1):
        await api.post(f"{NP}/{schedule_id}/acknowledgements", body, key=f"ack-{number}")
    done("acknowledgements (acknowledged, resolved, escalated; the webhook routes stay outstanding)")

    async def breached() -> bool:
        page = await api.get(f"{NP}/acknowledgements/routes", breached="true", limit=0)
        return int(page["total"]) >= 1

    await _until(breached, tick, wait_seconds, "a demo route to pass its one-minute SLO")
    plan = (await api.post(f"{NP}/escalation-plan", {}, key="escalation-plan"))["plan"]
    if not plan["breached_count"]:
        raise DemoError("the escalation plan has no breached route")
    done("escalation plan with a breached route")

    await api.post(f"{NP}/acknowledgements/audit-package", {}, key="audit-package")
    for provider in ("webhook", FAILING_PROVIDER):
        body = {"delivery_provider": provider, "retries": 0, "timeout_seconds": 5}
        await api.post(f"{NP}/acknowledgements/audit-delivery", body, key=f"audit-delivery-{provider}")
    done("audit package and audit deliveries (one delivered, one failed)")

    async def audit_failed() -> bool:
        health = await api.get(f"{AD}/worker-health")
        return int(health.get("connector_delivery_failure_count", 0)) >= 1

    await _until(audit_failed, tick, wait_seconds, "the failed audit delivery")
    retry = (await api.post(f"{AD}/retry-plan", {"retry_policy": IMMEDIATE}, key="retry-plan"))["plan"]
    retry_ack = {"provider": FAILING_PROVIDER, "notes": "retry once the SIEM is back"}
    await api.post(f"{AD}/retry-plans/{retry['retry_plan_id']}/acknowledgements", retry_ack, key="retry-ack")
    approvals = (await api.post(f"{AD}/retry-execution-approval-plan", {}, key="approval-plan"))["plan"]
    decision = {"provider": FAILING_PROVIDER, "external_ref": "CHG-DEMO-7"}
    path = f"{AD}/retry-execution-approval-plans/{approvals['approval_plan_id']}/decisions"
    await decider.post(path, decision, key="approval-decision")
    done("retry plan, retry acknowledgement, approval plan and an approver's decision")

    await api.post(f"{AD}/connector-recovery-playbook", {"min_failure_count": 1}, key="playbook")
    recovery = (await api.post(f"{AD}/recovery-escalation-plan", {}, key="recovery-escalation"))["plan"]
    deliver = {"provider": "teams", "retries": 0}
    await api.post(
        f"{AD}/recovery-escalations/{recovery['plan_id']}/deliver", deliver, key="recovery-deliver"
    )
    done("connector recovery playbook and a delivered recovery escalation plan")

    run = (await api.post(f"{AD}/recovery-executive-report/schedule-run", {}, key="executive-run"))["run"]
    path = f"{AD}/recovery-executive-report/schedule-runs/{run['run_id']}/deliver"
    await api.post(path, {"provider": "webhook", "retries": 0}, key="executive-deliver")
    done("executive report schedule run, delivered")
    report.seconds = time.monotonic() - started
    return report


def seed_running_system(base_url: str, tokens: Mapping[Role, str], *, timeout: float = 30.0) -> SeedReport:
    """:func:`seed` against a gateway at ``base_url`` (what ``cavra up --demo`` runs once it is ready)."""

    async def run() -> SeedReport:
        def client(role: Role) -> httpx.AsyncClient:
            headers = {"Authorization": f"Bearer {tokens[role]}"}
            return httpx.AsyncClient(base_url=base_url, headers=headers, timeout=timeout)

        async with client("operator") as operator, client("approver") as approver:
            return await seed(operator, approver)

    return asyncio.run(run())


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
