"""Live updates in a real Chromium against the whole system: a delivery made through the API appears in
the Notification History without a reload, pushed over the SSE feed (the time from the API's answer to
the row on screen is printed); when the stream is lost the page says so, a change made meanwhile
arrives by polling, and the page goes live again when the stream is back."""

from __future__ import annotations

import time
from typing import Any, Final

from playwright.async_api import Page, Route, expect

from tests.browser.helpers import sign_in
from tests.browser.system import NP, ConsoleSystem

LIVE_WAIT_MS: Final = 10_000
POLL_WAIT_MS: Final = 25_000
"""Polling refreshes every 10 s; the first refresh may come a whole period after the change."""


async def deliver(system: ConsoleSystem, schedule_id: str) -> tuple[str, float]:
    """``POST NP/deliver`` for a schedule already PUT: the new plan's id and when the API answered."""
    system.clock.advance(seconds=1)
    answer = await system.api.post(
        f"{NP}/deliver", json={"schedule_id": schedule_id, "provider": "webhook", "force": True}
    )
    answered = time.monotonic()
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return str(body["plan"]["plan_id"]), answered


async def test_a_delivery_made_through_the_api_appears_live_without_a_reload(
    console_system: ConsoleSystem, page: Page
) -> None:
    await console_system.put_schedule("payments", owners=("release-governance",), providers=("webhook",))
    base = console_system.base_url
    await sign_in(page, base, await console_system.token("viewer", "auditor-ana"))
    await page.goto(f"{base}/console?view=notifications")
    await expect(page.locator("#live-state")).to_have_attribute("data-state", "live", timeout=LIVE_WAIT_MS)
    await expect(page.locator("#live-state")).to_have_text("Live")
    await page.evaluate("() => { window.cavraTestMark = 'same document' }")
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))

    plan_id, answered = await deliver(console_system, "payments")
    row = page.locator(f'#table-history tr[data-record-id="{plan_id}"]')
    await row.wait_for(state="visible", timeout=LIVE_WAIT_MS)
    seen = time.monotonic()
    print(f"live: the API answered, the new plan row was visible {1000 * (seen - answered):.0f} ms later")

    assert await page.evaluate("() => window.cavraLive.state") == "live"
    assert await page.evaluate("() => window.cavraLive.changes") > 0, "pushed over the feed"
    assert await page.evaluate("() => window.cavraTestMark") == "same document" and navigations == []


async def test_a_lost_stream_is_said_and_polling_brings_the_changes_until_it_is_back(
    console_system: ConsoleSystem, page: Page
) -> None:
    await console_system.put_schedule("payments", owners=("release-governance",), providers=("webhook",))
    base = console_system.base_url
    await sign_in(page, base, await console_system.token("viewer", "auditor-ana"))
    await page.goto(f"{base}/console?view=notifications")
    state = page.locator("#live-state")
    await expect(state).to_have_attribute("data-state", "live", timeout=LIVE_WAIT_MS)

    async def lose(route: Route) -> None:
        await route.abort("connectionreset")

    await page.route("**/console/events", lose)
    await page.reload()
    await expect(state).to_have_attribute("data-state", "polling", timeout=LIVE_WAIT_MS)
    await expect(state).to_have_text("Live updates lost — refreshing every 10 s")
    await page.evaluate("() => { window.cavraTestMark = 'same document' }")

    plan_id, answered = await deliver(console_system, "payments")
    row = page.locator(f'#table-history tr[data-record-id="{plan_id}"]')
    await row.wait_for(state="visible", timeout=POLL_WAIT_MS)
    print(f"polling: the new plan row was visible {time.monotonic() - answered:.1f} s after the API answered")
    assert await page.evaluate("() => window.cavraLive.changes") == 0, "nothing came over the lost feed"
    assert await page.evaluate("() => window.cavraTestMark") == "same document"
    assert await state.get_attribute("data-state") == "polling"

    await page.unroute("**/console/events", lose)
    await expect(state).to_have_attribute("data-state", "live", timeout=POLL_WAIT_MS)
    assert await page.evaluate("() => window.cavraTestMark") == "same document"
