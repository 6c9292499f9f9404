"""Demo mode (`cavra up --demo`): the seeding fills a real system through its REST API, once.

Every message-driven service runs its real bootstrap in-process on the test's NATS and PostgreSQL,
with one controllable clock (the seeding's wait for a breached route moves it a minute per poll);
the gateway runs in-process; the connectors point at the real demo sink on 127.0.0.1, whose SIEM is
down. After seeding, every list the console shows has rows; seeding again records nothing new.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from cavra_cli import demo, demo_seed
from cavra_cli.demo_sink import DemoSink
from cavra_contracts.families import FAMILY_SPECS
from cavra_gateway.settings import GatewaySettings
from tests.support.auth import create_token
from tests.support.harness import FakeClock, gateway_client, running_service

NP = demo_seed.NP
AD = demo_seed.AD


async def _get(api: httpx.AsyncClient, path: str, **params: Any) -> dict[str, Any]:
    answer = await api.get(path, params=params)
    assert answer.status_code == 200, f"{path}: {answer.status_code} {answer.text[:300]}"
    body: dict[str, Any] = answer.json()
    return body


async def _console_lists(api: httpx.AsyncClient) -> dict[str, int]:
    """The total of each list the console shows."""
    routes = f"{NP}/acknowledgements/routes"
    return {
        "history": (await _get(api, NP, limit=1))["total"],
        "plan routes": (await _get(api, f"{NP}/routes", limit=1))["total"],
        "maintenance suppressed": (await _get(api, f"{NP}/routes", category="maintenance_window", limit=1))[
            "total"
        ],
        "calendar suppressed": (await _get(api, f"{NP}/routes", category="owner_calendar", limit=1))["total"],
        "route states": (await _get(api, routes, limit=0))["total"],
        "outstanding routes": (await _get(api, routes, state="outstanding", limit=0))["total"],
        "breached routes": (await _get(api, routes, breached="true", limit=0))["total"],
        "acknowledged routes": (await _get(api, routes, state="acknowledged", limit=0))["total"],
        "retry plans": (await _get(api, NP, metadata_kind=FAMILY_SPECS["audit"].retry_plan_kind, limit=1))[
            "total"
        ],
        "approvals": (await _get(api, f"{AD}/retry-execution-approvals", limit=1))["total"],
        "playbooks": (await _get(api, f"{AD}/connector-recovery-playbooks", limit=1))["total"],
        "recovery escalations": (await _get(api, f"{AD}/recovery-escalations", limit=1))["total"],
        "executive runs": (await _get(api, f"{AD}/recovery-executive-report/schedule-runs", limit=1))[
            "total"
        ],
    }


async def _settled(api: httpx.AsyncClient, *, timeout: float = 30.0) -> dict[str, int]:
    """The console's totals once the deliveries the last steps started have been recorded."""
    deadline = time.monotonic() + timeout
    previous = await _console_lists(api)
    while time.monotonic() < deadline:
        await asyncio.sleep(1.5)
        current = await _console_lists(api)
        if current == previous:
            return current
        previous = current
    raise AssertionError(f"the console's totals kept changing for {timeout:.0f}s: {previous}")


def test_console_demo_is_read_from_cavra_console_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    assert GatewaySettings().console_demo is False
    monkeypatch.setenv("CAVRA_CONSOLE_DEMO", "true")
    assert GatewaySettings().console_demo is True
    monkeypatch.setenv("CAVRA_CONSOLE_DEMO", "false")
    assert GatewaySettings().console_demo is False


def test_demo_mode_refuses_external_servers_and_points_connectors_at_the_sink(tmp_path: Path) -> None:
    with pytest.raises(demo_seed.DemoError, match="CAVRA_DATABASE_URL"):
        demo.demo_environment({"CAVRA_DATABASE_URL": "postgresql://real"}, tmp_path, "http://127.0.0.1:1")
    env = demo.demo_environment({}, tmp_path / "demo", "http://127.0.0.1:9")
    assert env["CAVRA_CONSOLE_DEMO"] == "true"
    config = json.loads(Path(env["CAVRA_CONNECTOR_CONFIG"]).read_text())["connectors"]
    assert {c["url"].split("/")[2] for c in config.values()} == {"127.0.0.1:9"}
    assert env["CAVRA_EMBEDDED_PG_PORT"] != "5433", "never the real embedded PostgreSQL's default port"


async def test_seeding_fills_every_console_list_once(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    clock = FakeClock()

    async def tick() -> None:
        clock.advance(minutes=1)
        await asyncio.sleep(0.2)

    operator_token = (await create_token(nats_url, "operator", "demo-operator"))[0]
    approver_token = (await create_token(nats_url, "approver", "demo-approver"))[0]
    with DemoSink() as sink:
        config = tmp_path / "connectors.json"
        config.write_text(json.dumps(demo.connector_config(sink.url)))
        async with (
            running_service("scheduler", nats_url, database_url, clock=clock),
            running_service("router", nats_url, database_url, clock=clock),
            running_service(
                "delivery",
                nats_url,
                database_url,
                clock=clock,
                connector_config=str(config),
                recovery_escalation_providers="teams",
            ),
            running_service("acknowledgement", nats_url, database_url, clock=clock, home=tmp_path),
            running_service("escalation", nats_url, database_url, clock=clock, escalation_tick_seconds=0.2),
            running_service("reporting", nats_url, database_url, clock=clock),
            gateway_client(nats_url, database_url, token=operator_token) as operator,
            gateway_client(nats_url, database_url, token=approver_token) as approver,
        ):
            started = time.monotonic()
            first = await demo_seed.seed(operator, approver, tick=tick, wait_seconds=60)
            seconds = time.monotonic() - started
            print(f"\ndemo seeding took {seconds:.1f}s: {first.steps}")
            assert not first.already_seeded and len(first.steps) == 8, first.steps
            lists = await _settled(operator)
            empty = [name for name, total in lists.items() if not total]
            assert empty == [], f"console lists without rows: {empty} ({lists})"
            assert sink.requests["jira"] >= 1, "the ITSM route was delivered"
            assert sink.requests["down"] >= 2, "the failing connector was tried (notification and audit)"
            assert (
                sink.requests["slack"] >= 1 and sink.requests["teams"] >= 1 and sink.requests["webhook"] >= 1
            )

            assert lists["outstanding routes"] < lists["route states"], "some routes were acknowledged"

            again = await demo_seed.seed(operator, approver, tick=tick, wait_seconds=60)
            assert again.already_seeded and again.steps == []
            assert await _console_lists(operator) == lists, "seeding again recorded nothing new"

            resumed = await demo_seed.seed(operator, approver, tick=tick, wait_seconds=60, resume=True)
            assert len(resumed.steps) == 8
            assert await _settled(operator) == lists, "every step replayed: nothing recorded twice"
