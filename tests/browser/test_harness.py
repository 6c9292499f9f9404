"""The browser-test harness works before the console does: a real Chromium loads the real gateway
over real HTTP, credentials reach it, the seeding helper produces a delivered plan end to end, axe
finds what it should, and screenshots stay out of the clone unless asked for."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page

from tests.browser.helpers import BrowserLog, Screenshots, axe_violations, sign_in
from tests.browser.settings import SCREENSHOT_DIR, BrowserTestSettings
from tests.browser.system import NP, ConsoleSystem
from tests.support.harness import eventually

CLEAN_PAGE = """<!doctype html><html lang="en"><head><title>Drills</title></head>
<body><main><h1>Drills</h1><p>No routes.</p></main></body></html>"""
BROKEN_PAGE = """<!doctype html><html lang="en"><head><title>Drills</title></head>
<body><main><h1>Drills</h1><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="></main></body></html>"""


async def shown_json(page: Page, url: str) -> dict[str, Any]:
    answer = await page.goto(url)
    assert answer is not None and answer.status == 200, answer and await answer.text()
    body: dict[str, Any] = json.loads(await page.inner_text("body"))
    return body


async def test_the_browser_reaches_the_gateway_as_anonymous_then_as_a_viewer(
    console_system: ConsoleSystem, page: Page
) -> None:
    session_url = f"{console_system.base_url}/console/session"
    anonymous = await shown_json(page, session_url)
    assert anonymous["schema_version"] == "cavra.console.session.v1"
    assert (anonymous["authenticated"], anonymous["role"]) == (False, None)

    viewer = await console_system.token("viewer")
    await page.set_extra_http_headers({"Authorization": f"Bearer {viewer}"})
    signed_in = await shown_json(page, session_url)
    assert (signed_in["authenticated"], signed_in["role"]) == (True, "viewer")
    assert signed_in["actor"]["method"] == "api_token"

    violations = await axe_violations(page, impacts=("minor", "moderate", "serious", "critical"))
    assert isinstance(violations, list)
    assert all({"id", "impact", "help", "targets"} <= set(v) for v in violations)


async def test_sign_in_through_the_form_and_axe_under_the_console_csp(
    console_system: ConsoleSystem, page: Page
) -> None:
    operator = await console_system.token("operator", "ana")
    await sign_in(page, console_system.base_url, operator)
    assert page.url.startswith(f"{console_system.base_url}/console")
    assert "Signed in as ana" in await page.inner_text("body")
    answer = await page.request.get(f"{console_system.base_url}/console")
    assert "script-src 'self'" in answer.headers["content-security-policy"]

    assert await page.evaluate("() => window.htmx && window.htmx.version") == "2.0.11", "vendored htmx"

    violations = await axe_violations(page)
    assert await page.evaluate("() => window.axe.version") == "4.14.1"
    assert isinstance(violations, list)


async def test_the_seeding_helper_delivers_a_plan_that_the_api_lists(console_system: ConsoleSystem) -> None:
    delivered = await console_system.deliver_notification(
        "payments", owners=("release-governance", "platform"), providers=("webhook", "slack")
    )
    plan = delivered["plan"]
    assert delivered["success"] is True
    assert {(d["owner"], d["provider"]) for d in plan["route_decisions"]} == {
        (owner, provider) for owner in ("release-governance", "platform") for provider in ("webhook", "slack")
    }
    # The automatic plan of the stale schedule and the delivered one: two plans, four sends each.
    assert len(console_system.fake.requests_for("webhook")) == 4
    assert len(console_system.fake.requests_for("slack")) == 4

    history = (await console_system.api.get(NP, params={"schedule_id": "payments"})).json()
    plans = {item["plan_id"] for item in history["items"] if item.get("plan_id")}
    assert plan["plan_id"] in plans and len(plans) == 2
    outstanding = await console_system.outstanding_routes(schedule_id="payments")
    assert outstanding["total"] == 4
    assert {item["plan_id"] for item in outstanding["items"]} == {plan["plan_id"]}


async def test_axe_reports_a_serious_violation_and_passes_a_clean_page(page: Page) -> None:
    await page.set_content(CLEAN_PAGE)
    assert await axe_violations(page) == []
    await page.set_content(BROKEN_PAGE)
    violations = await axe_violations(page)
    assert [v["id"] for v in violations] == ["image-alt"]
    assert violations[0]["impact"] == "critical" and violations[0]["targets"] == [["img"]]


async def test_screenshots_go_to_the_test_directory_unless_asked_for(page: Page, tmp_path: Path) -> None:
    asked = Screenshots(tmp_path, BrowserTestSettings(console_screenshots=True))
    assert asked.directory == SCREENSHOT_DIR
    screenshot = Screenshots(tmp_path, BrowserTestSettings(console_screenshots=False))
    await page.set_content(CLEAN_PAGE)
    path = await screenshot(page, "harness-clean-page")
    assert path == tmp_path / "harness-clean-page.png"
    assert path.stat().st_size > 1000 and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="screenshot name"):
        await screenshot(page, "../escape")


async def test_a_breached_route_is_escalated_by_the_escalation_service(console_system: ConsoleSystem) -> None:
    await console_system.deliver_notification(
        "payments", owners=("release-governance",), providers=("webhook",), acknowledgement_minutes=30
    )
    breached = await console_system.breach("payments")
    [route] = breached["items"]
    assert (route["owner"], route["breached"], route["state"]) == ("release-governance", True, "outstanding")

    async def escalated() -> bool:
        cards = [r.raw.decode() for r in console_system.fake.requests_for("teams")]
        return any(route["route_id"] in card and "release-manager" in card for card in cards)

    await eventually(escalated, what="the escalation at the escalation owner's Teams channel")


@pytest.mark.console_system(services=("scheduler", "router", "delivery", "acknowledgement", "reporting"))
async def test_without_the_escalation_service_a_breached_route_waits_for_a_person(
    console_system: ConsoleSystem,
) -> None:
    await console_system.deliver_notification(
        "payments", owners=("release-governance",), providers=("webhook",), acknowledgement_minutes=30
    )
    breached = await console_system.breach("payments")
    assert breached["total"] == 1
    await asyncio.sleep(1)
    assert console_system.fake.requests_for("teams") == []


async def test_uncaught_page_errors_are_collected_to_fail_the_test(
    page: Page, browser_log: BrowserLog
) -> None:
    await page.set_content(
        '<!doctype html><html lang="en"><title>x</title><script>console.error("said");'
        'setTimeout(() => { throw new Error("boom") }, 0)</script></html>'
    )

    async def thrown() -> bool:
        return bool(browser_log.page_errors)

    await eventually(thrown, timeout=5, what="the page error")
    assert browser_log.page_errors == ["Error: boom"] and browser_log.console_errors == ["said"]
    browser_log.page_errors.clear()  # seen: the page fixture would fail this test on it
