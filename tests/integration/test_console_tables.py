"""The console's tables over the real system (real NATS and PostgreSQL, every service a table needs run
with its real bootstrap): escalation routes, routing history and suppression summary from a routed
schedule; retry decisions, approvals, executions, worker runs, the recovery SLO, playbooks, recovery
escalations and executive runs from a governed retry and a broken connector. Each table shows the
API's rows, applies its filters on the server, pages, answers one row and its detail, and shows an
API failure as its status; the executive documents come through the console for the session."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from cavra_contracts.deliveries import MessageDeliveredV1
from cavra_contracts.envelope import make_envelope
from cavra_runtime.bus import Bus
from tests.integration.test_console_pages import sign_in
from tests.integration.test_notification_delivery import SIGNING_SECRET
from tests.integration.test_recovery_scenario import audit_job, connectors
from tests.integration.test_router_service import stale_schedule
from tests.support.auth import create_token
from tests.support.fake_providers import FakeProviders
from tests.support.harness import (
    ADMIN_TOKEN,
    FakeClock,
    eventually,
    gateway_client,
    running_service,
    stored_events,
)

NP = "/runtime/go-pilot/rollback-drill-notifications"
TABLES = "/console/fragments/tables"
OWNERS = [f"owner-{n:02d}" for n in range(14)]
"""14 owners x (teams, webhook) delivered = 28 routes: a second page of 25."""


def record_ids(html: str) -> list[str]:
    return re.findall(r'<tr id="row-[a-z_]+-\d+" data-record-id="([^"]+)"', html)


def cells(html: str) -> list[str]:
    return re.findall(r"<td data-column=.*?</td>", html)


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
    # No total (a count is dearer than the page at scale): the pager offers Next from has_more.
    assert (
        "Rows 1–25<" in first.text and 'rel="next"' in first.text and "wait for acknowledgement" in first.text
    )
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

    page = await console.get("/console", params={"view": "routes", "provider": "teams"})
    assert page.status_code == 200 and 'id="table-routes"' in page.text
    assert len(record_ids(page.text)) == 14


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
    assert (
        len(record_ids(history.text)) == 25 and "Rows 1–25<" in history.text and 'rel="next"' in history.text
    )
    assert len(record_ids((await console.get(f"{TABLES}/routing", params={"page_routing": 2})).text)) == 17

    frozen = await console.get(f"{TABLES}/routing", params={"category": "maintenance_window"})
    assert "Rows 1–14<" in frozen.text and 'rel="next"' not in frozen.text and "teams" not in frozen.text
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
    page = await console.get("/console", params={"view": "routing", "owner": "owner-05"})
    assert (
        page.status_code == 200
        and 'id="table-routing"' in page.text
        and 'id="table-suppression"' in page.text
    )
    assert set(record_ids(page.text)) >= {"maintenance_window"} and len(record_ids(page.text)) == 3 + 1
    exported = await console.get("/console/export/routing.csv", params={"action": "suppress"})
    assert exported.status_code == 200 and len(exported.text.strip().splitlines()) == 1 + 14
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


AD = f"{NP}/acknowledgements/audit-delivery"
VIEWS = {
    "retries": ("retry_decisions", "retry_approvals", "recovery_slo", "retry_executions", "worker_runs"),
    "recovery": ("playbooks", "recovery_escalations"),
    "executive": ("executive_runs",),
}
EMPTY = {
    "retry_decisions": "No retry plan has been generated yet.",
    "retry_approvals": "No retry execution approvals are currently indexed.",
    "retry_executions": "No retry executions are currently indexed.",
    "worker_runs": "No retry worker runs are currently indexed.",
    "recovery_slo": "No retry recovery SLO rows are currently indexed.",
    "playbooks": "No connector recovery playbooks are currently indexed.",
    "recovery_escalations": "No recovery escalations are currently indexed.",
    "executive_runs": "No executive report schedule runs are currently indexed.",
}
IMMEDIATE = {"allow_immediate_retry": True, "retry_delay_minutes": 0}


async def ok(response: Awaitable[httpx.Response]) -> dict[str, Any]:
    answer = await response
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def test_retry_recovery_and_executive_tables_follow_a_governed_retry_and_a_broken_connector(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    clock = FakeClock()
    async with FakeProviders(webhook_secret=SIGNING_SECRET) as fake:
        config = connectors(fake, tmp_path / "connectors.json")
        tokens = {
            name: (await create_token(nats_url, role, name))[0]  # type: ignore[arg-type]
            for role, name in (("operator", "olivia-operator"), ("approver", "carol-approver"))
        }
        async with (
            running_service(
                "delivery",
                nats_url,
                database_url,
                clock=clock,
                connector_config=config,
                retry_tick_seconds=0.2,
                recovery_escalation_providers="teams",
            ),
            running_service("reporting", nats_url, database_url, clock=clock),
            gateway_client(nats_url, database_url, token=tokens["olivia-operator"]) as operator,
            gateway_client(nats_url, database_url, token=tokens["carol-approver"]) as carol,
            gateway_client(nats_url, database_url, token=None) as console,
        ):
            assert (await sign_in(console, ADMIN_TOKEN)).status_code == 303
            bus = await Bus.connect(nats_url, name="test-console-tables")
            try:

                async def delivered(count: int) -> None:
                    async def enough() -> bool:
                        subject = MessageDeliveredV1.MESSAGE.subject
                        return len(await stored_events(nats_url, subject)) >= count

                    await eventually(enough, what=f"{count} deliveries")

                async def table(name: str, **params: Any) -> str:
                    answer = await console.get(f"{TABLES}/{name}", params=params)
                    assert answer.status_code == 200, answer.text
                    return answer.text

                for name, text in EMPTY.items():
                    assert text in await table(name), name

                fake.script("webhook", [503])
                await bus.publish(
                    make_envelope(
                        audit_job("gordackdelivery-00000000000000a1", "webhook"), producer="acknowledgement"
                    )
                )
                await delivered(1)
                plan = (await ok(operator.post(f"{AD}/retry-plan", json={"retry_policy": IMMEDIATE})))["plan"]

                async def in_history() -> bool:
                    return plan["retry_plan_id"] in await table("retry_decisions")

                await eventually(in_history, what="the retry plan in the history")
                decisions = await table("retry_decisions")
                assert "gordackdelivery-00000000000000a1" in decisions and 'data-column="action"' in decisions

                await ok(operator.post(f"{AD}/worker-run", json={"retry_policy": IMMEDIATE}))
                await ok(
                    carol.post(
                        f"{AD}/retry-plans/{plan['retry_plan_id']}/acknowledgements",
                        json={"provider": "webhook"},
                    )
                )
                approvals = (await ok(operator.post(f"{AD}/retry-execution-approval-plan", json={})))["plan"]
                pending = await table("retry_approvals")
                assert "pending" in pending and "olivia-operator" in pending
                decide = f"{AD}/retry-execution-approval-plans/{approvals['approval_plan_id']}/decisions"
                other, _ = await create_token(nats_url, "approver", "bob-approver")
                async with gateway_client(nats_url, database_url, token=other) as bob:
                    await ok(bob.post(decide, json={"provider": "webhook"}))
                live = await ok(
                    operator.post(f"{AD}/worker-run", json={"execute": True, "retry_policy": IMMEDIATE})
                )

                async def executed() -> bool:
                    return "delivered" in await table("retry_executions")

                await eventually(executed, what="the execution record")
                consumed = await table("retry_approvals")
                assert "consumed" in consumed and "bob-approver" in consumed and ">pending<" not in consumed
                [approval_id] = record_ids(consumed)
                one = await console.get(f"{TABLES}/retry_approvals/rows/{approval_id}")
                assert one.status_code == 200 and cells(one.text) == cells(consumed)
                detail = await console.get(f"{TABLES}/retry_approvals/rows/{approval_id}/detail")
                assert (
                    detail.status_code == 200
                    and "&#34;decided_by&#34;: &#34;bob-approver&#34;" in detail.text
                )
                unknown = await console.get(f"{TABLES}/retry_approvals/rows/gordackretryapprovalreq-0")
                assert unknown.status_code == 404
                runs = await table("worker_runs")
                assert live["run"]["run_id"] in runs and "dry run" in runs and "execute" in runs

                fake.script("hec", [503, 503])
                for n, job in enumerate(
                    ("gordackdelivery-00000000000000b1", "gordackdelivery-00000000000000b2")
                ):
                    await bus.publish(make_envelope(audit_job(job, "siem"), producer="acknowledgement"))
                    await delivered(3 + n)
                playbook = (
                    await ok(
                        operator.post(f"{AD}/connector-recovery-playbook", json={"min_failure_count": 2})
                    )
                )["playbook"]
                playbooks = await table("playbooks")
                assert playbook["playbook_id"] in playbooks and "siem" in playbooks and ">open<" in playbooks
                slo = await table("recovery_slo")
                assert record_ids(slo) == ["siem", "webhook"]
                assert re.search(r'data-column="open"><span class="tone attention">1<', slo)
                siem = await console.get(f"{TABLES}/recovery_slo/rows/siem")
                assert siem.status_code == 200 and cells(siem.text) == cells(slo)[: len(cells(siem.text))]
                detail = await console.get(f"{TABLES}/recovery_slo/rows/siem/detail")
                assert detail.status_code == 200 and "&#34;open_recovery_count&#34;: 1" in detail.text
                assert (await console.get(f"{TABLES}/recovery_slo/rows/jira")).status_code == 404

                clock.advance(minutes=241)
                escalation = (await ok(operator.post(f"{AD}/recovery-escalation-plan", json={})))["plan"]
                escalations = await table("recovery_escalations")
                assert record_ids(escalations) == [escalation["plan_id"]] and "critical" in escalations
                row = await console.get(f"{TABLES}/recovery_escalations/rows/{escalation['plan_id']}")
                assert row.status_code == 200 and cells(row.text) == cells(escalations)
                detail = await console.get(
                    f"{TABLES}/recovery_escalations/rows/{escalation['plan_id']}/detail"
                )
                assert detail.status_code == 200 and "&#34;acknowledgements&#34;: []" in detail.text

                closed = f"{AD}/connector-recovery-playbooks/{playbook['playbook_id']}/closures"
                await ok(operator.post(closed, json={"provider": "siem", "external_ref": "INC-1"}))
                after = await table("playbooks")
                assert ">resolved<" in after
                row_id = f"{playbook['playbook_id']}|siem"
                one = await console.get(f"{TABLES}/playbooks/rows/{row_id}")
                assert one.status_code == 200 and cells(one.text) == cells(after) and ">resolved<" in one.text
                assert (
                    await console.get(f"{TABLES}/playbooks/rows/{playbook['playbook_id']}|jira")
                ).status_code == 404

                run = (await ok(operator.post(f"{AD}/recovery-executive-report/schedule-run", json={})))[
                    "run"
                ]
                run_id, level = run["run_id"], run["alert_level"]
                runs_table = await table("executive_runs")
                assert record_ids(runs_table) == [run_id]
                assert f'data-column="status"><span class="tone good">{level}<' in runs_table
                assert f'href="/console/documents/executive-runs/{run_id}.pdf" download' in runs_table
                one = await console.get(f"{TABLES}/executive_runs/rows/{run_id}")
                assert one.status_code == 200
                assert cells(one.text) == cells(runs_table) and "Connector recovery" not in one.text
                html = await console.get(f"/console/documents/executive-runs/{run_id}.html")
                assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
                assert "siem" in html.text and run["executive_report"]["executive_report_id"] in html.text
                pdf = await console.get(f"/console/documents/executive-runs/{run_id}.pdf")
                assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
                assert pdf.headers["content-disposition"] == f'attachment; filename="{run_id}.pdf"'
                now = await console.get("/console/documents/executive-report.html")
                assert now.status_code == 200 and "siem" in now.text
                for view, names in VIEWS.items():
                    page = await console.get("/console", params={"view": view})
                    assert page.status_code == 200, page.text
                    assert all(f'id="table-{name}"' in page.text for name in names), view
                    assert 'class="problem"' not in page.text, view
                gone = await console.get(
                    "/console/documents/executive-runs/gordackexecsched-0000000000000000.html"
                )
                assert gone.status_code == 404 and "not found" in gone.text
            finally:
                await bus.close()
