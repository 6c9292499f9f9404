"""The Evidence Console's server side over real NATS and PostgreSQL: sign-in sessions (HttpOnly,
SameSite=Strict cookie, CSRF on every mutation, revoked tokens end their session), the page and its
fragments rendered from the real API (filters applied on the server and kept in links), honest
failures, and exports."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.support.auth import create_token, revoke_token
from tests.support.console import csrf_of, sign_in
from tests.support.harness import ADMIN_TOKEN, answering, eventually, gateway_client, running_service
from tests.support.reporting_events import delivered, envelope, plan, publish, settled

NP = "/runtime/go-pilot/rollback-drill-notifications"


@pytest.fixture
async def console(nats_url: str, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        running_service("reporting", nats_url, database_url),
        gateway_client(nats_url, database_url, token=None) as client,
    ):
        yield client


async def applied(nats_url: str) -> None:
    async def done() -> bool:
        return await settled(nats_url)

    await eventually(done, what="the reporting consumer to apply every event")


async def test_a_page_without_a_session_goes_to_sign_in(console: httpx.AsyncClient) -> None:
    page = await console.get("/console?provider=slack")
    assert page.status_code == 303
    assert page.headers["location"] == "/console/sign-in?next=%2Fconsole%3Fprovider%3Dslack"
    fragment = await console.get("/console/fragments/tables/history", headers={"HX-Request": "true"})
    assert fragment.status_code == 401
    assert fragment.headers["hx-redirect"].startswith("/console/sign-in")


async def test_sign_in_sets_a_strict_http_only_cookie_and_the_page_names_the_actor(
    console: httpx.AsyncClient, nats_url: str
) -> None:
    token, _ = await create_token(nats_url, role="viewer", name="auditor-ana")
    signed = await sign_in(console, token, "/console?provider=slack")
    assert signed.status_code == 303, signed.text
    assert signed.headers["location"] == "/console?provider=slack"
    cookie = signed.headers["set-cookie"]
    assert "cavra_console=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert token not in cookie
    page = await console.get("/console?provider=slack")
    assert page.status_code == 200, page.text
    assert "auditor-ana" in page.text and "viewer" in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    assert 'option value="slack" selected' in page.text


async def test_a_wrong_token_is_refused_with_the_servers_reason(console: httpx.AsyncClient) -> None:
    refused = await sign_in(console, "cavra_not-a-real-token-at-all-000000000000000000")
    assert refused.status_code == 401
    assert "unknown API token" in refused.text
    assert "cavra_console=" not in refused.headers.get("set-cookie", "")


async def test_sign_in_without_the_forms_csrf_value_is_refused(console: httpx.AsyncClient) -> None:
    refused = await console.post("/console/sign-in", data={"token": ADMIN_TOKEN, "csrf_token": "x"})
    assert refused.status_code == 403


async def test_a_revoked_token_ends_its_session(console: httpx.AsyncClient, nats_url: str) -> None:
    token, record = await create_token(nats_url, role="operator", name="ops-olga")
    assert (await sign_in(console, token)).status_code == 303
    assert (await console.get("/console")).status_code == 200
    await revoke_token(nats_url, record.token_id)

    async def signed_out() -> bool:
        return (await console.get("/console")).status_code == 303

    await eventually(signed_out, timeout=5, what="the revoked token's session to end")


async def test_sign_out_needs_the_csrf_token_and_ends_the_session(console: httpx.AsyncClient) -> None:
    assert (await sign_in(console, ADMIN_TOKEN)).status_code == 303
    page = await console.get("/console")
    assert (await console.post("/console/sign-out", data={})).status_code == 403
    out = await console.post("/console/sign-out", data={"csrf_token": csrf_of(page.text)})
    assert out.status_code == 303
    console.cookies.clear()
    assert (await console.get("/console")).status_code == 303


async def test_history_rows_come_from_the_api_filtered_on_the_server(
    console: httpx.AsyncClient, nats_url: str
) -> None:
    slack_plan = plan("sched-console", "gordplan-console-1", 0, providers=("slack",))
    teams_plan = plan("sched-other", "gordplan-other-1", 1, owners=("platform",), providers=("teams",))
    await publish(
        nats_url,
        [
            envelope(slack_plan, 0),
            envelope(delivered(slack_plan), 0.5),
            envelope(teams_plan, 1),
            envelope(delivered(teams_plan, failed=["teams"]), 1.5),
        ],
    )
    await applied(nats_url)
    assert (await sign_in(console, ADMIN_TOKEN)).status_code == 303
    await answering(console, "/console/fragments/tables/history")

    every = await console.get("/console/fragments/tables/history")
    assert "sched-console" in every.text and "sched-other" in every.text

    slack = await console.get("/console/fragments/tables/history", params={"provider": "slack"})
    assert "sched-console" in slack.text and "sched-other" not in slack.text
    failed = await console.get("/console/fragments/tables/history", params={"state": "delivery_failed"})
    assert "sched-other" in failed.text and "sched-console" not in failed.text
    assert "delivery failed" in failed.text
    assert "provider=slack" in slack.text  # links keep the filter

    empty = await console.get("/console/fragments/tables/history", params={"provider": "jira"})
    assert "No rollback drill notification records match the current filters." in empty.text


async def test_a_filter_outside_its_choices_is_a_422_naming_it(console: httpx.AsyncClient) -> None:
    assert (await sign_in(console, ADMIN_TOKEN)).status_code == 303
    bad = await console.get("/console?state=sideways")
    assert bad.status_code == 422
    assert "state" in bad.text
    sort = await console.get("/console/fragments/tables/history?sort_history=password")
    assert sort.status_code == 422 and "sort_history" in sort.text


async def test_an_api_failure_is_shown_as_it_is(console: httpx.AsyncClient, nats_url: str) -> None:
    token, _ = await create_token(nats_url, role="viewer", name="viewer-vic")
    assert (await sign_in(console, token)).status_code == 303
    # No router service runs: the suppression trend the routing cards need has no responder.
    page = await console.get("/console?view=routing")
    assert page.status_code == 200
    assert 'class="problem"' in page.text and "503" in page.text


async def test_cards_show_the_dashboard_counts(console: httpx.AsyncClient, nats_url: str) -> None:
    slack_plan = plan("sched-cards", "gordplan-cards-1", 0)
    await publish(nats_url, [envelope(slack_plan, 0), envelope(delivered(slack_plan, failed=["teams"]), 0.5)])
    await applied(nats_url)
    assert (await sign_in(console, ADMIN_TOKEN)).status_code == 303
    cards = await console.get("/console/fragments/cards/drills")
    assert cards.status_code == 200
    assert re.search(r'data-card="Failed Delivery">\s*<span class="card-label">Failed Delivery</span>'
                     r'<span class="card-value">1</span>', cards.text), cards.text  # fmt: skip


async def test_exports_follow_the_filters(console: httpx.AsyncClient, nats_url: str) -> None:
    first = plan("sched-export", "gordplan-export-1", 0, providers=("slack",))
    second = plan("sched-export-2", "gordplan-export-2", 1, providers=("teams",))
    await publish(nats_url, [envelope(first, 0), envelope(second, 1)])
    await applied(nats_url)
    assert (await sign_in(console, ADMIN_TOKEN)).status_code == 303
    as_csv = await console.get("/console/export/history.csv", params={"provider": "slack"})
    assert as_csv.status_code == 200
    assert as_csv.headers["content-disposition"] == 'attachment; filename="history-slack.csv"'
    lines = as_csv.text.strip().splitlines()
    assert lines[0].startswith("record_id,Record,Kind,Provider")
    assert len(lines) == 2 and "sched-export" in lines[1]
    as_json = (await console.get("/console/export/history.json", params={"provider": "teams"})).json()
    assert as_json["filters"] == {"provider": "teams"} and as_json["row_count"] == 1
    assert as_json["rows"][0]["schedule_id"] == "sched-export-2"


async def test_a_history_row_and_its_detail_are_found_by_item_id(
    console: httpx.AsyncClient, nats_url: str
) -> None:
    older = plan("sched-older", "gordplan-older-1", 0, providers=("slack",))
    newer = plan("sched-newer", "gordplan-newer-1", 1, providers=("slack",))
    await publish(nats_url, [envelope(older, 0), envelope(newer, 1)])
    await applied(nats_url)
    assert (await sign_in(console, ADMIN_TOKEN)).status_code == 303
    row = await console.get("/console/fragments/tables/history/rows/gordplan-older-1")
    assert row.status_code == 200, row.text
    assert 'data-record-id="gordplan-older-1"' in row.text and "sched-older" in row.text
    assert "sched-newer" not in row.text
    detail = await console.get("/console/fragments/tables/history/rows/gordplan-older-1/detail")
    assert "&#34;schedule_id&#34;: &#34;sched-older&#34;" in detail.text
    missing = await console.get("/console/fragments/tables/history/rows/gordplan-nowhere/detail")
    assert missing.status_code == 404 and "gordplan-nowhere" in missing.text
