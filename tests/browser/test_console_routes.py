"""Acting on escalation routes in a real Chromium against the whole system: a row's Ack shows the §7.5
message, the row's new state and the Outstanding card one lower without a reload; Bulk Escalate
Breached states its exact count, asks once and escalates exactly the breached routes; the keyboard
moves, selects and acknowledges; a request the API refuses shows its status and message and changes
nothing."""

from __future__ import annotations

from typing import Any, Final

import pytest
from playwright.async_api import Page, Request, expect

from tests.browser.governed import ACTION_WAIT_MS, PATIENT
from tests.browser.helpers import Screenshots, card_value, column_texts, record_ids, sign_in
from tests.browser.system import NP, SERVICES, ConsoleSystem

WAIT_MS: Final = ACTION_WAIT_MS
NO_ESCALATION_SERVICE: Final = tuple(name for name in SERVICES if name != "escalation")

pytestmark = pytest.mark.console_system(settings=PATIENT)


async def mark_page(page: Page) -> None:
    """A value that lives only as long as this document: still there means no navigation or reload."""
    await page.evaluate("() => { window.cavraTestMark = 'same document' }")


async def same_page(page: Page) -> bool:
    return bool(await page.evaluate("() => window.cavraTestMark === 'same document'"))


async def route_states(system: ConsoleSystem, schedule_id: str) -> dict[str, str]:
    answer = await system.api.get(f"{NP}/acknowledgements/routes", params={"schedule_id": schedule_id})
    assert answer.status_code == 200, answer.text
    return {item["route_id"]: item["state"] for item in answer.json()["items"]}


async def test_a_row_ack_shows_its_message_the_new_state_and_one_outstanding_less(
    console_system: ConsoleSystem, page: Page
) -> None:
    await console_system.put_schedule(
        "payments", owners=("release-governance",), providers=("webhook", "slack")
    )
    base = console_system.base_url
    await sign_in(page, base, await console_system.token("operator", "ops-olga"))
    await page.goto(f"{base}/console?view=routes")
    assert await card_value(page, "drills", "Outstanding") == "2"
    await mark_page(page)

    providers = await column_texts(page, "routes", "provider")
    route_id = (await record_ids(page, "routes"))[0]
    row = page.locator(f'#table-routes tr[data-record-id="{route_id}"]')
    await row.locator("[data-action=route_ack]").click()
    await expect(page.locator("#status .result.ok")).to_have_text(
        f"Recorded acknowledged for {providers[route_id]} as ops-olga.", timeout=WAIT_MS
    )
    await expect(row.locator("td[data-column=state]")).to_have_text("acknowledged", timeout=WAIT_MS)
    await expect(page.locator('#cards-drills [data-card="Outstanding"] .card-value')).to_have_text(
        "1", timeout=WAIT_MS
    )
    assert await same_page(page), "no reload"
    states = await route_states(console_system, "payments")
    assert sorted(states.values()) == ["acknowledged", "outstanding"] and states[route_id] == "acknowledged"


async def test_the_keyboard_moves_selects_acknowledges_filters_and_opens_the_help(
    console_system: ConsoleSystem, page: Page
) -> None:
    await console_system.put_schedule(
        "payments", owners=("release-governance", "platform"), providers=("webhook",)
    )
    base = console_system.base_url
    await sign_in(page, base, await console_system.token("operator", "ops-olga"))
    await page.goto(f"{base}/console?view=routes")
    first, second = await record_ids(page, "routes")
    current = page.locator("#table-routes tr.current")

    await page.keyboard.press("j")
    await expect(current).to_have_attribute("data-record-id", first)
    await page.keyboard.press("j")
    await expect(current).to_have_attribute("data-record-id", second)
    await page.keyboard.press("k")
    await expect(current).to_have_attribute("data-record-id", first)
    await page.keyboard.press("x")
    await expect(page.locator('#table-routes tr[aria-selected="true"]')).to_have_attribute(
        "data-record-id", first
    )
    assert await page.input_value("#selected-records") == first
    await expect(page.locator("[data-action=route_ack_selected] [data-selected-count]")).to_have_text("1")

    owner = (await column_texts(page, "routes", "owner"))[first]
    provider = (await column_texts(page, "routes", "provider"))[first]
    await page.keyboard.press("a")
    await expect(page.locator("#status .result.ok")).to_have_text(
        f"Recorded acknowledged for {provider} as ops-olga.", timeout=WAIT_MS
    )
    await expect(
        page.locator(f'#table-routes tr[data-record-id="{first}"] td[data-column=state]')
    ).to_have_text("acknowledged", timeout=WAIT_MS)
    assert (await route_states(console_system, "payments"))[first] == "acknowledged", owner

    await page.keyboard.press("/")
    assert await page.evaluate("() => document.activeElement.id") == "f-owner"
    await page.keyboard.press("Escape")
    await page.keyboard.press("?")
    await expect(page.locator("#help")).to_have_attribute("open", "")
    await expect(page.locator("#help kbd[data-key=j]")).to_be_visible()
    await page.keyboard.press("Escape")
    await expect(page.locator("#help")).not_to_have_attribute("open", "")


@pytest.mark.console_system(services=NO_ESCALATION_SERVICE, settings=PATIENT)
async def test_bulk_escalate_breached_states_the_exact_count_asks_once_and_escalates_them(
    console_system: ConsoleSystem, page: Page, screenshot: Screenshots
) -> None:
    await console_system.put_schedule(
        "payments", owners=("release-governance", "platform", "data"), providers=("webhook",)
    )
    routes = await route_states(console_system, "payments")
    cleared = sorted(routes)[0]
    acked = await console_system.api.post(f"{NP}/routes/{cleared}/actions", json={"action": "ack"})
    assert acked.status_code in (200, 201), acked.text
    breached = {item["route_id"] for item in (await console_system.breach("payments"))["items"]}
    assert len(breached) == 2 and cleared not in breached

    base = console_system.base_url
    await sign_in(page, base, await console_system.token("operator", "ops-olga"))
    await page.goto(f"{base}/console?view=routes")
    await mark_page(page)
    bulk_posts: list[str] = []

    def count_bulk(request: Request) -> None:
        if request.method == "POST" and request.url.endswith("/console/actions/bulk_escalate"):
            bulk_posts.append(request.url)

    page.on("request", count_bulk)
    await page.click("[data-action=bulk_escalate]")
    question = page.locator("#status dialog.confirm #confirm-question")
    await expect(question).to_have_text(
        "Escalate 2 breached routes for every owner, every provider?", timeout=WAIT_MS
    )
    assert bulk_posts == [], "nothing is sent before the confirmation"
    await screenshot(page, "escalation-routes-bulk-confirm", full_page=False)
    await page.click("[data-action=bulk_escalate-confirm]")
    await expect(page.locator("#status .result.ok")).to_have_text(
        "Recorded 2 escalated acknowledgement(s).", timeout=WAIT_MS
    )
    assert len(bulk_posts) == 1, "asked once, sent once"

    expected = {route_id: ("escalated" if route_id in breached else "acknowledged") for route_id in routes}
    states = page.locator("#table-routes td[data-column=state]")
    await expect(states).to_have_text(
        [expected[route_id] for route_id in await record_ids(page, "routes")], timeout=WAIT_MS
    )
    assert await column_texts(page, "routes", "state") == expected
    assert await route_states(console_system, "payments") == expected
    assert await same_page(page)


async def test_a_refused_request_shows_the_servers_status_and_message_and_changes_nothing(
    console_system: ConsoleSystem, page: Page, screenshot: Screenshots
) -> None:
    await console_system.put_schedule("payments", owners=("release-governance",), providers=("webhook",))
    history: dict[str, Any] = (await console_system.api.get(NP, params={"limit": 200})).json()
    sent_before = len(console_system.fake.requests)
    base = console_system.base_url
    await sign_in(page, base, await console_system.token("operator", "ops-olga"))
    await page.goto(f"{base}/console?view=notifications")
    rows_before = await record_ids(page, "history")
    cards_before = await page.inner_text("#cards-audit")
    await mark_page(page)

    await page.select_option("#m-destination", "datadog")
    async with page.expect_response(f"{base}/console/actions/deliver_audit") as answered:
        await page.click("[data-action=deliver_audit]")
    answer = await answered.value
    problem = page.locator("#status .problem[role=alert]")
    await expect(problem).to_be_visible(timeout=WAIT_MS)
    shown = (await problem.inner_text()).strip()
    print(f"refused action as shown: {shown}")
    assert answer.status >= 400 and await problem.get_attribute("data-status") == str(answer.status)
    assert shown.startswith(str(answer.status)) and "datadog" in shown and "Delivered" not in shown
    await screenshot(page, "failed-request", full_page=False)

    await page.wait_for_timeout(500)  # a refresh the page wrongly asked for would have landed by now
    assert await record_ids(page, "history") == rows_before
    assert await page.inner_text("#cards-audit") == cards_before
    assert await same_page(page)
    after: dict[str, Any] = (await console_system.api.get(NP, params={"limit": 200})).json()
    assert after["total"] == history["total"] and after["items"] == history["items"]
    assert len(console_system.fake.requests) == sent_before, "nothing was sent"
