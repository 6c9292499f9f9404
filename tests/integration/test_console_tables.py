"""The console's tables over the real system (real NATS and PostgreSQL, every service a table needs run
with its real bootstrap): escalation routes, routing history and suppression summary from a routed
schedule; retry decisions, approvals, executions, worker runs, the recovery SLO, playbooks, recovery
escalations and executive runs from a governed retry and a broken connector. Each table shows the
API's rows, applies its filters on the server, pages, answers one row and its detail, and shows an
API failure as its status; the executive documents come through the console for the session."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.integration.test_console_pages import sign_in
from tests.integration.test_router_service import stale_schedule
from tests.support.harness import (
    ADMIN_TOKEN,
    FakeClock,
    eventually,
    gateway_client,
    running_service,
)

NP = "/runtime/go-pilot/rollback-drill-notifications"
TABLES = "/console/fragments/tables"
OWNERS = [f"owner-{n:02d}" for n in range(14)]
"""14 owners x (teams, webhook) delivered = 28 routes: a second page of 25."""


def record_ids(html: str) -> list[str]:
    return re.findall(r'<tr id="row-[a-z_]+-\d+" data-record-id="([^"]+)"', html)


def routed_schedule() -> dict[str, Any]:
    """Slack is frozen by the maintenance window; owner-00 has a 15-minute SLO and an escalation owner."""
    schedule = stale_schedule()
    schedule["owners"] = OWNERS
    schedule["notification_providers"] = ["slack", "teams", "webhook"]
    schedule["owner_routes"] = {
        "owner-00": {"acknowledgement_minutes": 15, "escalation_owner": "lead-zero"},
    }
    schedule["owner_calendars"] = {}
    return schedule


@dataclass
class Routed:
    console: httpx.AsyncClient
    api: httpx.AsyncClient
    clock: FakeClock


@pytest.fixture
async def routed(nats_url: str, database_url: str) -> AsyncIterator[Routed]:
    clock = FakeClock()
    async with (
        running_service("scheduler", nats_url, database_url, clock=clock),
        running_service("router", nats_url, database_url, clock=clock, query_timeout_seconds=0.3),
        running_service("acknowledgement", nats_url, database_url, clock=clock),
        gateway_client(nats_url, database_url) as api,
        gateway_client(nats_url, database_url, token=None) as console,
    ):
        created = await api.put("/runtime/go-pilot/rollback-drill-schedules/monthly", json=routed_schedule())
        assert created.status_code in (200, 201), created.text

        async def tracked() -> bool:
            answer = await api.get(f"{NP}/acknowledgements/routes", params={"limit": 0})
            return answer.status_code == 200 and answer.json()["total"] == 28

        await eventually(tracked, what="the routed plan's 28 routes at the acknowledgement service")
        assert (await sign_in(console, ADMIN_TOKEN)).status_code == 303
        yield Routed(console, api, clock)


async def test_escalation_routes_come_from_the_route_states_filtered_paged_and_found_by_id(
    routed: Routed,
) -> None:
    console = routed.console
    first = await console.get(f"{TABLES}/routes")
    assert first.status_code == 200, first.text
    ids = record_ids(first.text)
    assert len(ids) == 25 and all(i.startswith("gordroute-") for i in ids)
    assert "Rows 1–25 of 28" in first.text and "wait for acknowledgement" in first.text
    assert "15m / 15m" not in first.text and re.search(r"0m / 60m", first.text)
    second = await console.get(f"{TABLES}/routes", params={"page_routes": 2})
    assert len(record_ids(second.text)) == 3 and not set(record_ids(second.text)) & set(ids)

    teams = await console.get(f"{TABLES}/routes", params={"provider": "teams", "owner": "owner-03"})
    assert len(record_ids(teams.text)) == 1 and "owner-03" in teams.text and "webhook" not in teams.text
    nothing = await console.get(f"{TABLES}/routes", params={"provider": "jira"})
    assert "No escalation routes are currently indexed." in nothing.text

    routed.clock.advance(minutes=20)  # past owner-00's 15-minute SLO only
    breached = await console.get(f"{TABLES}/routes", params={"state": "critical"})
    assert len(record_ids(breached.text)) == 2 and "owner-00" in breached.text
    assert "escalate missed drill notification" in breached.text and "breached" in breached.text
    assert "shows the breached routes" in breached.text

    [route_id] = record_ids(teams.text)
    row = await console.get(f"{TABLES}/routes/rows/{route_id}")
    assert row.status_code == 200 and f'data-record-id="{route_id}"' in row.text and "owner-03" in row.text
    detail = await console.get(f"{TABLES}/routes/rows/{route_id}/detail")
    assert detail.status_code == 200 and "Escalation route" in detail.text
    assert f"&#34;route_id&#34;: &#34;{route_id}&#34;" in detail.text
    missing = await console.get(f"{TABLES}/routes/rows/gordroute-0000000000000000")
    assert missing.status_code == 404


async def test_the_route_states_api_finds_one_route_by_id(routed: Routed) -> None:
    every = (await routed.api.get(f"{NP}/acknowledgements/routes", params={"limit": 2})).json()["items"]
    one = (
        await routed.api.get(f"{NP}/acknowledgements/routes", params={"route_id": every[1]["route_id"]})
    ).json()
    assert one["total"] == 1 and one["items"][0] == every[1]


async def test_routing_history_and_suppression_summary_come_from_the_router(routed: Routed) -> None:
    console = routed.console
    history = await console.get(f"{TABLES}/routing")
    assert history.status_code == 200, history.text
    assert len(record_ids(history.text)) == 25 and "Rows 1–25 of 42" in history.text
    assert len(record_ids((await console.get(f"{TABLES}/routing", params={"page_routing": 2})).text)) == 17

    frozen = await console.get(f"{TABLES}/routing", params={"category": "maintenance_window"})
    assert "Rows 1–14 of 14" in frozen.text and "teams" not in frozen.text
    delivered = await console.get(
        f"{TABLES}/routing", params={"action": "deliver", "owner": "lead-zero", "provider": "webhook"}
    )
    assert len(record_ids(delivered.text)) == 1 and "owner-00" in delivered.text
    assert 'data-column="category">deliver<' in delivered.text
    none = await console.get(f"{TABLES}/routing", params={"category": "owner_calendar"})
    assert "No routing history rows match the current filters." in none.text

    summary = await console.get(f"{TABLES}/suppression")
    assert summary.status_code == 200, summary.text
    assert record_ids(summary.text) == ["maintenance_window"]
    assert re.search(r'data-column="events">14<', summary.text)
    assert "owner-00 (1)" in summary.text and "slack (14)" in summary.text
    one_owner = await console.get(f"{TABLES}/suppression", params={"owner": "owner-05"})
    assert re.search(r'data-column="events">1<', one_owner.text) and "owner-05 (1)" in one_owner.text
    no_slack = await console.get(f"{TABLES}/suppression", params={"provider": "teams"})
    assert record_ids(no_slack.text) == ["none"] and re.search(r'data-column="events">0<', no_slack.text)


async def test_a_table_whose_service_is_down_shows_the_apis_status(nats_url: str, database_url: str) -> None:
    async with gateway_client(nats_url, database_url, token=None, query_timeout_seconds=0.3) as console:
        assert (await sign_in(console, ADMIN_TOKEN)).status_code == 303
        for table in (
            "routes",
            "routing",
            "suppression",
            "retry_approvals",
            "recovery_slo",
            "executive_runs",
        ):
            answer = await console.get(f"{TABLES}/{table}")
            assert answer.status_code == 200, (table, answer.text)
            assert 'class="problem"' in answer.text and "503" in answer.text, (table, answer.text)
            assert "data-record-id" not in answer.text
