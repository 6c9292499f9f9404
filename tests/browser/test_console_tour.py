"""Every view of the console with data, in a real Chromium against the whole system: axe-core finds no
serious or critical violation on the sign-in page and on every view, in the light and the dark theme
and with the detail panel open; the executive report opens as its HTML view in a new tab and downloads
as PDF. The same walk takes the screenshots of docs/console.md (``make screenshots``)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Final

import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser.governed import PATIENT, act, request_a_retry_approval
from tests.browser.helpers import BrowserLog, Screenshots, axe_violations, sign_in
from tests.browser.system import ConsoleSystem

VIEWS: Final = ("notifications", "routes", "routing", "retries", "recovery", "executive")
SCREENSHOTS: Final = {
    "routing": ("routing", "nav.tabs"),
    "retries": ("retries-approvals", "#table-retry_approvals"),
    "recovery": ("recovery", "nav.tabs"),
    "executive": ("executive", "nav.tabs"),
}
"""Screenshot name of a view, and what to scroll to the top first (the tables, below the cards)."""


async def seed_recovery_and_executive(page: Page, base: str) -> str:
    """A connector recovery playbook, its recovery escalation and an executive schedule run, made with
    the console's own buttons; returns the run id."""
    await page.goto(f"{base}/console?view=recovery")
    await act(page, "recovery_playbook", r"^Built 1 connector recovery playbooks\.$")
    await act(page, "plan_recovery_escalation", r"^Planned 1 recovery escalations\.$")
    await page.goto(f"{base}/console?view=executive")
    scheduled = await act(
        page, "schedule_executive_report", r"^Scheduled executive report run gordackexecsched-[0-9a-f]+\.$"
    )
    found = re.search(r"gordackexecsched-[0-9a-f]+", scheduled)
    assert found
    return found.group(0)


@pytest.mark.console_system(settings=PATIENT)
async def test_every_view_with_data_is_accessible_in_both_themes_and_opens_the_executive_report(
    console_system: ConsoleSystem,
    page: Page,
    browser: Browser,
    browser_log: BrowserLog,
    screenshot: Screenshots,
) -> None:
    await request_a_retry_approval(console_system, browser, browser_log)
    base = console_system.base_url
    found: dict[str, list[dict[str, Any]]] = {}

    await page.goto(f"{base}/console/sign-in")
    found["sign-in light"] = await axe_violations(page)
    await sign_in(page, base, await console_system.token("operator", "olivia-operator"))
    run_id = await seed_recovery_and_executive(page, base)

    for view in VIEWS:
        await page.goto(f"{base}/console?view={view}")
        assert await page.locator("section.table-section tbody tr[data-record-id]").count() > 0, view
        found[f"{view} light"] = await axe_violations(page)
        assert await page.locator("#demo-banner").count() == 0, "no sample-data banner outside demo mode"
        if view in SCREENSHOTS:
            name, top = SCREENSHOTS[view]
            await page.locator(top).evaluate("element => element.scrollIntoView({block: 'start'})")
            await screenshot(page, name, full_page=False)

    await page.goto(f"{base}/console?view=notifications")
    await page.locator("#table-history [data-role=details]").first.click()
    await expect(page.locator("#detail .detail-body pre.json")).to_be_visible()
    found["notifications detail light"] = await axe_violations(page)
    await page.locator("nav.tabs").evaluate("element => element.scrollIntoView({block: 'start'})")
    await screenshot(page, "notifications-detail", full_page=False)

    await page.click("#theme")
    await expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    found["notifications detail dark"] = await axe_violations(page)
    await screenshot(page, "dark-theme", full_page=False)
    for view in VIEWS:
        await page.goto(f"{base}/console?view={view}")
        assert await page.evaluate("() => window.cavraConsole.theme") == "dark", "the choice is kept"
        found[f"{view} dark"] = await axe_violations(page)

    await page.goto(f"{base}/console?view=executive")
    async with page.context.expect_page() as opened:
        await page.click("#actions-executive a[target=_blank]")
    report = await opened.value
    report.on("pageerror", browser_log.on_page_error)
    await report.wait_for_load_state()
    assert report.url == f"{base}/console/documents/executive-report.html"
    assert re.search(r"executive", await report.title(), re.IGNORECASE), await report.title()
    assert await report.locator("body").inner_text()
    await report.close()

    row = page.locator(f'#table-executive_runs tr[data-record-id="{run_id}"]')
    async with page.expect_download() as downloaded:
        await row.locator("a:text-is('PDF')").click()
    pdf = await downloaded.value
    assert pdf.suggested_filename == f"{run_id}.pdf"
    assert Path(await pdf.path()).read_bytes()[:5] == b"%PDF-"

    await page.click("form[action='/console/sign-out'] button[type=submit]")
    await expect(page.locator("#token")).to_be_visible()
    found["sign-in dark"] = await axe_violations(page)

    serious = {where: violations for where, violations in found.items() if violations}
    assert serious == {}, serious
    assert len(found) == 2 * len(VIEWS) + 4


@pytest.mark.console_system(settings={"gateway": {"console_demo": True}})
async def test_demo_mode_says_sample_data_on_every_page(
    console_system: ConsoleSystem, page: Page, screenshot: Screenshots
) -> None:
    await console_system.put_schedule("payments", owners=("release-governance",), providers=("webhook",))
    base = console_system.base_url
    await page.goto(f"{base}/console/sign-in")
    banner = page.locator("#demo-banner")
    await expect(banner).to_contain_text("Sample data.")
    await sign_in(page, base, await console_system.token("viewer", "auditor-ana"))
    for view in VIEWS:
        await page.goto(f"{base}/console?view={view}")
        await expect(banner).to_be_visible()
    assert await axe_violations(page) == []
    await page.goto(f"{base}/console?view=notifications")
    await screenshot(page, "demo-banner", full_page=False)
