"""Console actions (spec §7.5) over real NATS and PostgreSQL: each is the API request of its button made
as the signed-in actor; success answers the §7.5 message and an HX-Trigger naming what changed; a
failure answers the API's own status and message and stores nothing; CSRF is required; controls a role
may not use are absent and the API refuses a forged request; bulk actions count first and a stale count
is refused (409); Ack selected acknowledges exactly the selected routes; the audit package downloads."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from cavra_contracts.envelope import make_envelope
from cavra_contracts.notifications import NotificationPlannedV1
from cavra_contracts.retries import RetryPlanGeneratedV1
from cavra_gateway.console.actions.registry import ACTIONS, offered
from cavra_gateway.console.render import render
from cavra_gateway.console.tables.base import Row
from cavra_runtime.bus import Bus
from tests.integration.test_console_pages import sign_in
from tests.integration.test_notification_delivery import SIGNING_SECRET
from tests.support.acks import plan_event
from tests.support.auth import create_token
from tests.support.fake_providers import FakeProviders
from tests.support.harness import FakeClock, eventually, gateway_client, running_service, stored_events

NP = "/runtime/go-pilot/rollback-drill-notifications"
NOW = datetime.now(UTC).replace(microsecond=0)
HX = {"HX-Request": "true"}
PATIENT: dict[str, Any] = {"command_wait_seconds": 30.0, "delivery_wait_seconds": 30.0}
"""Waits of the console's gateway: on a loaded machine a 5 s wait answers 202 (queued) instead."""


@dataclass
class Console:
    client: httpx.AsyncClient
    bus: Bus
    database_url: str
    nats_url: str
    csrf: str = ""

    async def plan(self, planned: NotificationPlannedV1) -> list[dict[str, Any]]:
        await self.bus.publish(make_envelope(planned, producer="router"))
        plan_id = planned.plan.plan_id

        async def tracked() -> bool:
            return await self.scalar("SELECT count(*) FROM plans WHERE plan_id = $1", plan_id) == 1

        await eventually(tracked, what=f"plan {plan_id} tracked")
        return [r for r in (await self.routes(limit=500))["items"] if r["plan_id"] == plan_id]

    async def scalar(self, sql: str, *args: Any) -> Any:
        conn = await asyncpg.connect(self.database_url, server_settings={"search_path": "acknowledgement"})
        try:
            return await conn.fetchval(sql, *args)
        finally:
            await conn.close()

    async def stored(self) -> int:
        return int(await self.scalar("SELECT count(*) FROM acknowledgements"))

    async def routes(self, **params: Any) -> dict[str, Any]:
        async with gateway_client(self.nats_url, self.database_url) as admin:
            answer = await admin.get(f"{NP}/acknowledgements/routes", params=params)
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    async def signed_in(self, role: str, name: str) -> str:
        token, _ = await create_token(self.nats_url, role=role, name=name)
        self.client.cookies.clear()
        assert (await sign_in(self.client, token)).status_code == 303
        page = await self.client.get("/console?view=routes")
        assert page.status_code == 200, page.text
        found = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text)
        assert found
        self.csrf = found.group(1)
        return page.text

    async def act(self, name: str, **form: Any) -> httpx.Response:
        return await self.client.post(
            f"/console/actions/{name}", data=form, headers={**HX, "X-CSRF-Token": self.csrf}
        )


@pytest.fixture
async def console(nats_url: str, database_url: str) -> AsyncIterator[Console]:
    bus = await Bus.connect(nats_url, name="test-router")
    try:
        async with (
            running_service("acknowledgement", nats_url, database_url),
            gateway_client(nats_url, database_url, token=None, **PATIENT) as client,
        ):
            yield Console(client, bus, database_url, nats_url)
    finally:
        await bus.close()


def key(n: int) -> str:
    return f"test-form-key-{n:08d}-abcdef"


async def test_a_row_ack_is_the_route_action_of_the_api_as_the_signed_in_actor(console: Console) -> None:
    routes = await console.plan(plan_event("s1", "gordn-00000000000000c1", NOW, providers=("slack", "teams")))
    await console.signed_in("operator", "ops-olga")
    slack = next(r for r in routes if r["provider"] == "slack")
    answer = await console.act(
        "route_ack", table="routes", record_id=slack["route_id"], idempotency_key=key(1)
    )
    assert answer.status_code == 200, answer.text
    assert "Recorded acknowledged for slack as ops-olga." in answer.text
    assert json.loads(answer.headers["hx-trigger"]) == {
        "cavra:changed": {"topics": ["acknowledgement", "route", "escalation"]}
    }
    assert 'id="action-key"' in answer.text and 'hx-swap-oob="true"' in answer.text
    again = await console.act(
        "route_ack", table="routes", record_id=slack["route_id"], idempotency_key=key(1)
    )
    assert again.status_code == 200
    assert await console.stored() == 1, "a double submit is one action"
    after = await console.routes(route_id=slack["route_id"])
    assert after["items"][0]["state"] == "acknowledged"
    assert after["items"][0]["acknowledged_by"] == "ops-olga"
    escalated = await console.act(
        "route_escalate",
        table="routes",
        record_id=slack["route_id"],
        idempotency_key=key(2),
        external_ref="CHG-9",
    )
    assert "Recorded escalated for slack as ops-olga." in escalated.text
    assert (await console.routes(route_id=slack["route_id"]))["items"][0]["external_ref"] == "CHG-9"


async def test_a_failure_shows_the_servers_status_and_message_and_stores_nothing(console: Console) -> None:
    routes = await console.plan(plan_event("s1", "gordn-00000000000000c2", NOW))
    await console.signed_in("operator", "ops-olga")
    missing = await console.act(
        "route_ack", table="routes", record_id="gordroute-missing", idempotency_key=key(3)
    )
    assert missing.status_code == 404
    assert "hx-trigger" not in missing.headers
    assert "gordroute-missing" in missing.text and "Recorded" not in missing.text
    too_long = await console.act(
        "route_ack", table="routes", record_id=routes[0]["route_id"], notes="x" * 2001, idempotency_key=key(4)
    )
    assert too_long.status_code == 422 and "notes" in too_long.text
    assert await console.stored() == 0


async def test_an_action_without_the_csrf_token_is_refused(console: Console) -> None:
    routes = await console.plan(plan_event("s1", "gordn-00000000000000c3", NOW))
    await console.signed_in("operator", "ops-olga")
    refused = await console.client.post(
        "/console/actions/route_ack", data={"table": "routes", "record_id": routes[0]["route_id"]}, headers=HX
    )
    assert refused.status_code == 403 and "CSRF" in refused.text
    assert await console.stored() == 0


async def test_a_viewer_sees_no_controls_and_the_api_refuses_its_forged_post(console: Console) -> None:
    routes = await console.plan(plan_event("s1", "gordn-00000000000000c4", NOW))
    operator_page = await console.signed_in("operator", "ops-olga")
    assert 'id="mutation-inputs"' in operator_page and 'data-action="bulk_ack"' in operator_page
    page = await console.signed_in("viewer", "auditor-ana")
    assert "data-action=" not in page and 'id="mutation-inputs"' not in page
    forged = await console.act(
        "route_ack", table="routes", record_id=routes[0]["route_id"], idempotency_key=key(5)
    )
    assert forged.status_code == 403, forged.text
    assert "operator" in forged.text
    forged_bulk = await console.act("bulk_ack", expected_count="1", idempotency_key=key(6))
    assert forged_bulk.status_code == 403
    assert await console.stored() == 0


async def test_bulk_ack_counts_the_scope_first_and_a_stale_count_is_refused(console: Console) -> None:
    await console.plan(
        plan_event(
            "s1", "gordn-00000000000000c5", NOW, owners=("team-a", "team-b"), providers=("slack", "teams")
        )
    )
    await console.signed_in("operator", "ops-olga")
    preview = await console.client.get("/console/actions/bulk_ack/preview?provider=slack", headers=HX)
    assert preview.status_code == 200, preview.text
    assert "Acknowledge 2 outstanding routes for every owner, provider slack?" in preview.text
    assert "&#34;expected_count&#34;: &#34;2&#34;" in preview.text or '"expected_count": "2"' in preview.text
    none = await console.client.get("/console/actions/bulk_ack/preview?provider=jira", headers=HX)
    assert "No outstanding drill routes match the current filters." in none.text
    stale = await console.act("bulk_ack", provider="slack", expected_count="3", idempotency_key=key(7))
    assert stale.status_code == 409, stale.text
    assert await console.stored() == 0
    done = await console.act("bulk_ack", provider="slack", expected_count="2", idempotency_key=key(8))
    assert done.status_code == 200, done.text
    assert "Recorded 2 acknowledged acknowledgement(s)." in done.text
    assert (await console.routes(state="outstanding"))["total"] == 2


async def test_bulk_escalate_touches_the_breached_routes(console: Console) -> None:
    await console.plan(plan_event("old", "gordn-00000000000000c6", NOW - timedelta(days=2)))
    await console.plan(plan_event("new", "gordn-00000000000000c7", NOW))
    await console.signed_in("operator", "ops-olga")
    preview = await console.client.get("/console/actions/bulk_escalate/preview", headers=HX)
    assert "Escalate 1 breached route for every owner, every provider?" in preview.text
    done = await console.act("bulk_escalate", expected_count="1", idempotency_key=key(9))
    assert "Recorded 1 escalated acknowledgement(s)." in done.text, done.text
    escalated = await console.routes(state="escalated")
    assert [r["schedule_id"] for r in escalated["items"]] == ["old"]


async def test_ack_selected_acknowledges_exactly_the_selected_routes(console: Console) -> None:
    routes = await console.plan(
        plan_event("s1", "gordn-00000000000000c8", NOW, owners=("a", "b", "c"), providers=("slack",))
    )
    await console.signed_in("operator", "ops-olga")
    chosen = [routes[0]["route_id"], routes[2]["route_id"]]
    done = await console.act("route_ack_selected", selected=",".join(chosen), idempotency_key=key(10))
    assert done.status_code == 200, done.text
    assert "Recorded 2 acknowledged acknowledgement(s)." in done.text
    acked = await console.routes(state="acknowledged")
    assert sorted(r["route_id"] for r in acked["items"]) == sorted(chosen)
    unknown = await console.act(
        "route_ack_selected", selected=f"{routes[1]['route_id']},gordroute-nope", idempotency_key=key(11)
    )
    assert unknown.status_code == 404
    assert (await console.routes(state="acknowledged"))["total"] == 2


async def test_export_audit_downloads_the_apis_package_as_json(console: Console) -> None:
    await console.plan(plan_event("s1", "gordn-00000000000000c9", NOW, providers=("slack",)))
    await console.signed_in("operator", "ops-olga")
    download = await console.client.post(
        "/console/actions/export_audit",
        data={"csrf_token": console.csrf, "idempotency_key": key(12), "provider": "slack"},
    )
    assert download.status_code == 200, download.text
    body = download.json()
    audit_id = body["audit_package"]["audit_id"]
    assert download.headers["content-disposition"] == f'attachment; filename="{audit_id}.json"'
    assert body["actor"]["actor"] == "ops-olga"


def _approval_buttons(actor: str, role: str, record: dict[str, Any]) -> str:
    from cavra_gateway.auth.permissions import permissions_of

    row = Row(record_id="gordapproval-1", cells={}, record=record, label="x", actions=("approve_retry",))

    @dataclass
    class Actor:
        actor: str
        role: str

    @dataclass
    class Table:
        name: str = "approvals"

    return render(
        "console/row_actions.html",
        row=row,
        table=Table(),
        permissions=permissions_of(role),
        actor=Actor(actor, role),
    )


def test_approve_is_absent_for_the_requester_and_the_acknowledger_present_for_another_approver() -> None:
    record = {"approval_id": "gordapproval-1", "requested_by": "ops-olga", "acknowledged_by": "ops-omar"}
    assert 'data-action="approve_retry"' in _approval_buttons("approver-ava", "approver", record)
    assert "data-action" not in _approval_buttons("ops-olga", "approver", record)
    assert "data-action" not in _approval_buttons("ops-omar", "approver", record)
    assert "data-action" not in _approval_buttons("ops-pat", "operator", record)
    assert offered(ACTIONS["approve_retry"], {"approve_retries": True}, "approver-ava", record)


TOOLBAR_SUCCESS = {
    "plan_audit_retry": r"Planned \d+ retryable audit deliveries\.",
    "run_audit_worker": r"Worker dry-run selected \d+ retry deliveries\.",
    "plan_retry_approval": r"Planned \d+ retry execution approvals\.",
    "recovery_playbook": r"Built \d+ connector recovery playbooks\.",
    "plan_recovery_escalation": r"Planned \d+ recovery escalations\.",
    "plan_escalation_retry": r"Planned \d+ recovery escalation retries\.",
    "run_escalation_retry": r"Recovery escalation retry worker selected \d+ retries\.",
    "schedule_executive_report": r"Scheduled executive report run gordackexecsched-[0-9a-f]+\.",
    "plan_exec_delivery_retry": r"Planned \d+ executive delivery retries\.",
}


async def test_every_toolbar_action_reaches_its_api_and_answers_its_message_or_the_apis_failure(
    nats_url: str, database_url: str
) -> None:
    bus = await Bus.connect(nats_url, name="test-router")
    try:
        async with (
            running_service("acknowledgement", nats_url, database_url),
            running_service("delivery", nats_url, database_url),
            running_service("reporting", nats_url, database_url),
            gateway_client(nats_url, database_url, token=None, **PATIENT) as client,
        ):
            console = Console(client, bus, database_url, nats_url)
            await console.signed_in("operator", "ops-olga")
            outcomes = {}
            for n, name in enumerate(
                (*TOOLBAR_SUCCESS, "deliver_audit", "send_worker_alert", "execute_retry")
            ):
                outcomes[name] = await console.act(name, idempotency_key=key(100 + n))
            for name, pattern in TOOLBAR_SUCCESS.items():
                answer = outcomes[name]
                assert answer.status_code == 200, (name, answer.text)
                assert re.search(pattern, answer.text), (name, answer.text)
                assert "cavra:changed" in answer.headers["hx-trigger"]
            assert "Executed 0 approved retry records." in outcomes["execute_retry"].text
            for name in ("deliver_audit", "send_worker_alert"):
                answer = outcomes[name]
                assert answer.status_code == 400, (name, answer.text)
                assert "connector config is not configured" in answer.text
                assert "hx-trigger" not in answer.headers and "Delivered" not in answer.text
    finally:
        await bus.close()


async def test_deliver_ack_audit_sends_the_package_to_the_chosen_destination(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    bus = await Bus.connect(nats_url, name="test-router")
    try:
        async with FakeProviders(webhook_secret=SIGNING_SECRET) as fake:
            config = tmp_path / "connectors.json"
            config.write_text(
                json.dumps(
                    {
                        "connectors": {
                            "webhook": {"url": fake.url("webhook", "/audit"), "secret": SIGNING_SECRET}
                        }
                    }
                )
            )
            async with (
                running_service("acknowledgement", nats_url, database_url),
                running_service("delivery", nats_url, database_url, connector_config=str(config)),
                gateway_client(nats_url, database_url, token=None, **PATIENT) as client,
            ):
                console = Console(client, bus, database_url, nats_url)
                await console.plan(plan_event("s1", "gordn-00000000000000d1", NOW, providers=("webhook",)))
                await console.signed_in("operator", "ops-olga")
                unknown = await console.act("deliver_audit", destination="jira", idempotency_key=key(200))
                assert unknown.status_code == 400 and "jira" in unknown.text
                sent = await console.act("deliver_audit", destination="webhook", idempotency_key=key(201))
                assert sent.status_code == 200, sent.text
                assert re.search(
                    r"Delivered acknowledgement audit package gordackaudit-[0-9a-f]{16} to webhook\.",
                    sent.text,
                )

                async def received() -> bool:
                    return bool(fake.requests_for("webhook"))

                await eventually(received, what="the audit package at the webhook")
    finally:
        await bus.close()


async def test_a_governed_retry_from_the_console_with_separation_of_duties(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    """Plan, ack (carol), approval plan (olivia): olivia may not approve (operator), carol neither (she
    acknowledged the retry: the API's 403 shown as is), bob approves; Execute Retry re-sends once."""
    from tests.integration.test_retry_governed import AD, audit_job

    clock = FakeClock()
    bus = await Bus.connect(nats_url, name="test-retries")
    try:
        async with FakeProviders(webhook_secret=SIGNING_SECRET) as fake:
            config = tmp_path / "connectors.json"
            config.write_text(
                json.dumps(
                    {
                        "connectors": {
                            "webhook": {"url": fake.url("webhook", "/audit"), "secret": SIGNING_SECRET}
                        }
                    }
                )
            )
            async with (
                running_service(
                    "delivery", nats_url, database_url, clock=clock, connector_config=str(config)
                ),
                gateway_client(nats_url, database_url, token=None, **PATIENT) as client,
                gateway_client(nats_url, database_url) as admin,
            ):
                await bus.ensure_streams()
                console = Console(client, bus, database_url, nats_url)
                fake.script("webhook", [503])
                await bus.publish(make_envelope(audit_job(), producer="acknowledgement"))

                async def failed_once() -> bool:
                    return len(fake.requests_for("webhook")) == 1

                await eventually(failed_once, what="the failing audit delivery")
                clock.advance(minutes=16)  # past the retry delay of Plan Audit Retry's policy (15)

                await console.signed_in("operator", "olivia-operator")
                planned = await console.act("plan_audit_retry", idempotency_key=key(300))
                assert "Planned 1 retryable audit deliveries." in planned.text, planned.text
                [generated] = await stored_events(nats_url, RetryPlanGeneratedV1.MESSAGE.subject)
                retry_plan_id = generated.payload["retry_plan_id"]

                await console.signed_in("approver", "carol-approver")
                acked = await console.act(
                    "ack_retry", table="retry_plans", record_id=retry_plan_id, idempotency_key=key(301)
                )
                assert re.search(r"Acknowledged retry decision gordackretryack-[0-9a-f]+\.", acked.text), (
                    acked.text
                )

                await console.signed_in("operator", "olivia-operator")
                approvals = await console.act("plan_retry_approval", idempotency_key=key(302))
                assert "Planned 1 retry execution approvals." in approvals.text, approvals.text
                listed = (
                    await admin.get(f"{AD}/retry-execution-approvals", params={"state": "pending"})
                ).json()
                [approval] = listed["items"]
                assert approval["requested_by"] == "olivia-operator"

                as_operator = await console.act(
                    "approve_retry",
                    table="approvals",
                    record_id=approval["approval_id"],
                    idempotency_key=key(303),
                )
                assert as_operator.status_code == 403 and "approver" in as_operator.text
                await console.signed_in("approver", "carol-approver")
                as_acker = await console.act(
                    "approve_retry",
                    table="approvals",
                    record_id=approval["approval_id"],
                    idempotency_key=key(304),
                )
                assert as_acker.status_code == 403, as_acker.text
                assert "Approved" not in as_acker.text and "hx-trigger" not in as_acker.headers

                await console.signed_in("approver", "bob-approver")
                approved = await console.act(
                    "approve_retry",
                    table="approvals",
                    record_id=approval["approval_id"],
                    idempotency_key=key(305),
                )
                assert approved.status_code == 200, approved.text
                assert re.search(
                    r"Approved retry execution gordackretryapprovaldecision-[0-9a-f]+\.", approved.text
                )

                await console.signed_in("operator", "olivia-operator")
                executed = await console.act("execute_retry", idempotency_key=key(306))
                assert "Executed 1 approved retry records." in executed.text, executed.text

                async def resent() -> bool:
                    return len(fake.requests_for("webhook")) == 2

                await eventually(resent, what="the approved retry re-sent once")
    finally:
        await bus.close()


async def test_recovery_rows_close_acknowledge_and_deliver_from_the_console(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    """A failing audit delivery -> Recovery Playbook -> Plan Recovery Escalation -> Ack and Deliver the
    escalation (rows) -> Close Recovery (row): each the API's request, each ids from the API."""
    from tests.integration.test_retry_governed import AD, audit_job

    bus = await Bus.connect(nats_url, name="test-recovery")
    try:
        async with FakeProviders(webhook_secret=SIGNING_SECRET) as fake:
            config = tmp_path / "connectors.json"
            config.write_text(
                json.dumps(
                    {
                        "connectors": {
                            "webhook": {"url": fake.url("webhook", "/ops"), "secret": SIGNING_SECRET}
                        }
                    }
                )
            )
            async with (
                running_service("delivery", nats_url, database_url, connector_config=str(config)),
                gateway_client(nats_url, database_url, token=None, **PATIENT) as client,
                gateway_client(nats_url, database_url) as admin,
            ):
                await bus.ensure_streams()
                console = Console(client, bus, database_url, nats_url)
                fake.script("webhook", [503])
                await bus.publish(make_envelope(audit_job(), producer="acknowledgement"))

                async def failed_once() -> bool:
                    return len(fake.requests_for("webhook")) == 1

                await eventually(failed_once, what="the failing audit delivery")
                await console.signed_in("operator", "olivia-operator")
                built = await console.act("recovery_playbook", idempotency_key=key(400))
                assert "Built 1 connector recovery playbooks." in built.text, built.text
                [playbook] = (await admin.get(f"{AD}/connector-recovery-playbooks")).json()["items"]
                playbook_id = playbook["playbook"]["playbook_id"]

                planned = await console.act("plan_recovery_escalation", idempotency_key=key(401))
                assert "Planned 1 recovery escalations." in planned.text, planned.text
                [escalation] = (await admin.get(f"{AD}/recovery-escalations")).json()["items"]
                plan_id = escalation["plan"]["plan_id"]

                acked = await console.act(
                    "ack_recovery_escalation",
                    table="recovery_escalations",
                    record_id=plan_id,
                    idempotency_key=key(402),
                )
                assert re.search(
                    r"Acknowledged recovery escalation gordackrecoveryescack-[0-9a-f]+\.", acked.text
                ), acked.text
                delivered = await console.act(
                    "deliver_recovery_escalation",
                    table="recovery_escalations",
                    record_id=plan_id,
                    destination="webhook",
                    idempotency_key=key(403),
                )
                assert f"Delivered recovery escalation {plan_id}." in delivered.text, delivered.text
                missing = await console.act(
                    "deliver_recovery_escalation",
                    table="recovery_escalations",
                    record_id="gordackrecoveryesc-0000000000000000",
                    idempotency_key=key(404),
                )
                assert missing.status_code == 404 and "recovery escalation plan not found" in missing.text

                closed = await console.act(
                    "close_recovery", table="playbooks", record_id=playbook_id, idempotency_key=key(405)
                )
                assert re.search(r"Closed recovery gordackrecoveryclosure-[0-9a-f]+\.", closed.text), (
                    closed.text
                )
                again = await console.act(
                    "close_recovery", table="playbooks", record_id=playbook_id, idempotency_key=key(406)
                )
                assert again.status_code == 409 and "already closed" in again.text
    finally:
        await bus.close()


async def test_executive_runs_are_scheduled_and_delivered_from_the_console(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    async with FakeProviders(webhook_secret=SIGNING_SECRET) as fake:
        config = tmp_path / "connectors.json"
        config.write_text(
            json.dumps(
                {"connectors": {"webhook": {"url": fake.url("webhook", "/exec"), "secret": SIGNING_SECRET}}}
            )
        )
        bus = await Bus.connect(nats_url, name="test-executive")
        try:
            async with (
                running_service("delivery", nats_url, database_url, connector_config=str(config)),
                running_service("reporting", nats_url, database_url),
                gateway_client(nats_url, database_url, token=None, **PATIENT) as client,
            ):
                console = Console(client, bus, database_url, nats_url)
                await console.signed_in("operator", "olivia-operator")
                executive = await client.get("/console?view=executive")
                assert 'href="/console/documents/executive-report.html"' in executive.text
                assert 'data-action="schedule_executive_report"' in executive.text
                scheduled = await console.act("schedule_executive_report", idempotency_key=key(500))
                found = re.search(
                    r"Scheduled executive report run (gordackexecsched-[0-9a-f]+)\.", scheduled.text
                )
                assert found, scheduled.text
                delivered = await console.act(
                    "deliver_executive_run",
                    table="executive_runs",
                    record_id=found.group(1),
                    destination="webhook",
                    idempotency_key=key(501),
                )
                assert delivered.status_code == 200, delivered.text
                assert "Executive report delivery succeeded." in delivered.text, delivered.text
                assert len(fake.requests_for("webhook")) == 1
                unknown = await console.act(
                    "deliver_executive_run",
                    table="executive_runs",
                    record_id="gordackexecsched-0000000000000000",
                    idempotency_key=key(502),
                )
                assert unknown.status_code == 404 and "schedule run not found" in unknown.text
                latest = await console.act(
                    "deliver_executive_report", destination="jira", idempotency_key=key(503)
                )
                assert latest.status_code == 400 and "jira" in latest.text
        finally:
            await bus.close()
