"""The whole system for one browser test: every message-driven service with its real bootstrap on
the test's NATS and PostgreSQL, the fake providers behind a connector config, and the gateway served
by a real uvicorn on 127.0.0.1 (the browser needs real HTTP); plus helpers that seed data through
the public REST API only, so what a console test sees was produced end to end."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import httpx
import uvicorn

from cavra_contracts.actors import Role
from cavra_gateway.app import create_app
from cavra_gateway.settings import GatewaySettings
from tests.integration.test_notification_delivery import SIGNING_SECRET
from tests.support.auth import bearer, create_token
from tests.support.fake_providers import FakeProviders
from tests.support.harness import ADMIN_TOKEN, FakeClock, eventually, running_service

NP: Final = "/runtime/go-pilot/rollback-drill-notifications"
SCHEDULES: Final = "/runtime/go-pilot/rollback-drill-schedules"
SERVICES: Final = ("scheduler", "router", "delivery", "acknowledgement", "escalation", "reporting")
ESCALATION_OWNER: Final = "release-manager"
STARTUP_SECONDS: Final = 30.0
SEED_SECONDS: Final = 20.0


class QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The test process keeps its own signal handlers.
        yield


def connector_config(fake: FakeProviders, path: Path) -> Path:
    """One connector per fake provider, named after it (``siem`` is the Splunk HEC fake)."""
    document = {
        "connectors": {
            "slack": {"type": "slack", "url": fake.url("slack", "/services/T1/B1/console")},
            "teams": {"type": "teams", "url": fake.url("teams", "/workflows/run")},
            "webhook": {"type": "webhook", "url": fake.url("webhook", "/drill"), "secret": SIGNING_SECRET},
            "jira": {
                "type": "jira",
                "url": fake.url("jira"),
                "email": "ops@example.com",
                "api_token": "console-jira-token",
                "project_key": "OPS",
            },
            "servicenow": {
                "type": "servicenow",
                "url": fake.url("servicenow"),
                "username": "svc",
                "password": "console-snow-password",
            },
            "siem": {"type": "hec", "url": fake.url("hec"), "token": "console-hec-token", "index": "drills"},
        }
    }
    path.write_text(json.dumps(document))
    return path


def stale_schedule(
    owners: Sequence[str],
    providers: Sequence[str],
    *,
    now: datetime,
    acknowledgement_minutes: int,
    escalation_owner: str = ESCALATION_OWNER,
) -> dict[str, Any]:
    """A schedule a week overdue: the scheduler plans it at once; missed acks escalate to Teams."""
    routes: dict[str, Any] = {
        owner: {
            "providers": list(providers),
            "acknowledgement_minutes": acknowledgement_minutes,
            "escalation_owner": escalation_owner,
        }
        for owner in owners
    }
    routes.setdefault(escalation_owner, {"providers": ["teams"]})
    return {
        "schema_version": "cavra.go-backend-rollback-drill-schedule.v1",
        "interval_days": 30,
        "next_due_at": (now - timedelta(days=7)).replace(microsecond=0).isoformat(),
        "owners": list(owners),
        "notification_providers": list(providers),
        "owner_routes": routes,
        "runbook_ref": "docs/runbook.md",
    }


@dataclass
class ConsoleSystem:
    """What a browser test drives: ``base_url`` for the page, ``api`` (admin) for the REST API."""

    base_url: str
    admin_token: str
    api: httpx.AsyncClient
    fake: FakeProviders
    clock: FakeClock
    nats_url: str
    schedules: dict[str, dict[str, Any]] = field(default_factory=dict)

    async def token(self, role: Role, name: str | None = None) -> str:
        """A new API token of ``role`` (viewer, operator, approver, admin)."""
        token, _ = await create_token(self.nats_url, role, name or f"console-{role}")
        return token

    async def put_schedule(
        self,
        schedule_id: str = "payments",
        *,
        owners: Sequence[str] = ("release-governance", "platform"),
        providers: Sequence[str] = ("webhook", "slack"),
        acknowledgement_minutes: int = 30,
    ) -> dict[str, Any]:
        """PUT a stale schedule and wait until its automatic plan is delivered and recorded."""
        body = stale_schedule(
            owners, providers, now=self.clock(), acknowledgement_minutes=acknowledgement_minutes
        )
        answer = await self.api.put(f"{SCHEDULES}/{schedule_id}", json=body)
        assert answer.status_code in (200, 201), answer.text
        self.schedules[schedule_id] = body
        await self._delivery_recorded(schedule_id, plan_id=None)
        return body

    async def deliver_notification(
        self,
        schedule_id: str = "payments",
        *,
        owners: Sequence[str] = ("release-governance", "platform"),
        providers: Sequence[str] = ("webhook", "slack"),
        acknowledgement_minutes: int = 30,
    ) -> dict[str, Any]:
        """``POST NP/deliver`` for a stale schedule (PUT first when new): a plan with one route per
        owner x provider, delivered to the fakes; returns once its delivery is in the notification
        history and its routes are outstanding acknowledgements. The answer is the deliver body."""
        if schedule_id not in self.schedules:
            await self.put_schedule(
                schedule_id,
                owners=owners,
                providers=providers,
                acknowledgement_minutes=acknowledgement_minutes,
            )
        # The clock only moves when told: two plans of one instant would tie on generated_at, and
        # the services break that tie differently (the acknowledgement service by stream order, the
        # escalation service by plan id), so the newer plan gets a later second.
        self.clock.advance(seconds=1)
        answer = await self.api.post(
            f"{NP}/deliver",
            json={"schedule_id": schedule_id, "provider": ",".join(providers), "force": True},
        )
        assert answer.status_code == 200, answer.text
        delivered: dict[str, Any] = answer.json()
        await self._delivery_recorded(schedule_id, plan_id=delivered["plan"]["plan_id"])
        return delivered

    async def outstanding_routes(self, **scope: str) -> dict[str, Any]:
        """``GET NP/acknowledgements/routes`` (state outstanding by default) as the admin."""
        answer = await self.api.get(f"{NP}/acknowledgements/routes", params={"state": "outstanding", **scope})
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    async def breach(self, schedule_id: str = "payments") -> dict[str, Any]:
        """Move the shared clock one minute past the schedule's acknowledgement SLO and wait until
        the acknowledgement service counts its outstanding routes as breached; returns those routes.
        With the escalation service running, it then escalates them on its own."""
        minutes = max(route.get("acknowledgement_minutes", 0) for route in self._routes_of(schedule_id))
        self.clock.advance(minutes=minutes + 1)
        answers: list[dict[str, Any]] = []

        async def breached() -> bool:
            answers.append(await self.outstanding_routes(schedule_id=schedule_id, breached="true"))
            return answers[-1]["total"] > 0

        await eventually(breached, timeout=SEED_SECONDS, what=f"breached routes of {schedule_id}")
        return answers[-1]

    def _routes_of(self, schedule_id: str) -> list[dict[str, Any]]:
        schedule = self.schedules[schedule_id]
        return [schedule["owner_routes"][owner] for owner in schedule["owners"]]

    async def _delivery_recorded(self, schedule_id: str, *, plan_id: str | None) -> None:
        async def recorded() -> bool:
            history = await self.api.get(
                NP, params={"schedule_id": schedule_id, "metadata_kind": "release-connector-delivery"}
            )
            items = history.json().get("items", []) if history.status_code == 200 else []
            if not any(plan_id is None or item.get("plan_id") == plan_id for item in items):
                return False
            routes = await self.api.get(f"{NP}/acknowledgements/routes", params={"schedule_id": schedule_id})
            tracked = routes.json().get("items", []) if routes.status_code == 200 else []
            return any(plan_id is None or item.get("plan_id") == plan_id for item in tracked)

        what = f"the delivery of {plan_id or 'the automatic plan'} of {schedule_id} recorded"
        await eventually(recorded, timeout=SEED_SECONDS, what=what)


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@asynccontextmanager
async def served_gateway(settings: GatewaySettings) -> AsyncIterator[str]:
    """The gateway app (lifespan included) on a free 127.0.0.1 port; yields its base URL."""
    sock = _free_socket()
    app = create_app(settings)
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=2
    )
    server = QuietServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(STARTUP_SECONDS):
            while not server.started:
                if task.done():
                    task.result()
                    raise RuntimeError("the gateway stopped during startup")
                await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
        sock.close()


@asynccontextmanager
async def all_running(services: Sequence[AbstractAsyncContextManager[Any]]) -> AsyncIterator[None]:
    """Start ``services`` one by one, stop them all at once: each stop drains its own consumers for
    about a second, and six of them in a row would add five seconds to every test."""
    started: list[AbstractAsyncContextManager[Any]] = []
    try:
        for service in services:
            await service.__aenter__()
            started.append(service)
        yield
    finally:
        stops = await asyncio.gather(
            *(service.__aexit__(None, None, None) for service in started), return_exceptions=True
        )
        failures = [stop for stop in stops if isinstance(stop, BaseException)]
        if failures:
            raise failures[0]


@asynccontextmanager
async def console_system(
    nats_url: str,
    database_url: str,
    home: Path,
    *,
    services: Sequence[str] = SERVICES,
    settings: Mapping[str, Mapping[str, Any]] | None = None,
) -> AsyncIterator[ConsoleSystem]:
    """``services`` (default: every one), the fakes and the served gateway; ready (``/readyz`` 200)
    when it yields. ``settings`` adds per-service settings (``"gateway"`` for the gateway's)."""
    unknown = set(services) - set(SERVICES)
    if unknown:
        raise ValueError(f"services: not message-driven services: {sorted(unknown)}")
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0))
    async with AsyncExitStack() as stack:
        fake = await stack.enter_async_context(FakeProviders(webhook_secret=SIGNING_SECRET))
        config = connector_config(fake, home / "connectors.json")
        per_service: dict[str, dict[str, Any]] = {
            "delivery": {"connector_config": str(config), "delivery_timeout_seconds": 5},
            "escalation": {"escalation_tick_seconds": 0.05},
            "gateway": {"delivery_wait_seconds": 15},
        }
        for name, values in (settings or {}).items():
            per_service[name] = {**per_service.get(name, {}), **values}
        running = [
            running_service(name, nats_url, database_url, clock=clock, home=home, **per_service.get(name, {}))
            for name in SERVICES
            if name in services
        ]
        await stack.enter_async_context(all_running(running))
        gateway = GatewaySettings(
            nats_url=nats_url,
            database_url=database_url,
            bootstrap_admin_token=ADMIN_TOKEN,
            services=tuple(services),
            **per_service["gateway"],
        )
        base_url = await stack.enter_async_context(served_gateway(gateway))
        api = await stack.enter_async_context(
            httpx.AsyncClient(base_url=base_url, headers=bearer(ADMIN_TOKEN), timeout=30)
        )

        async def ready() -> bool:
            return (await api.get("/readyz")).status_code == 200

        await eventually(ready, timeout=STARTUP_SECONDS, what="every service ready (/readyz 200)")
        yield ConsoleSystem(base_url, ADMIN_TOKEN, api, fake, clock, nats_url)
