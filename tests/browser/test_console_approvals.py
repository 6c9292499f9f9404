"""Separation of duties on the page, in a real Chromium against the whole system: Approve is absent for
the person who requested the retry's approval, refused by the API (403 shown as is) for the one who
acknowledged the retry, present for another approver, who approves and sees the §7.5 message; the row
then offers Approve to no one."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser.governed import ACTION_WAIT_MS, PATIENT, act, request_a_retry_approval
from tests.browser.helpers import BrowserLog, csrf_of, signed_in_page
from tests.browser.system import ConsoleSystem

pytestmark = pytest.mark.console_system(settings=PATIENT)
AD = "/runtime/go-pilot/rollback-drill-notifications/acknowledgements/audit-delivery"


async def test_approve_is_absent_for_the_requester_and_present_for_another_approver(
    console_system: ConsoleSystem, browser: Browser, browser_log: BrowserLog, page: Page
) -> None:
    governed = await request_a_retry_approval(console_system, browser, browser_log)
    base = console_system.base_url
    approval_row = f'#table-retry_approvals tr[data-record-id="{governed.approval_id}"]'

    requester = await console_system.token("approver", governed.requester)
    async with signed_in_page(browser, base, requester, browser_log) as ava:
        await ava.goto(f"{base}/console?view=retries")
        row = ava.locator(approval_row)
        await expect(row.locator("td[data-column=requested_by]")).to_have_text(governed.requester)
        await expect(row.locator("td[data-column=state]")).to_have_text("pending")
        assert await row.locator("[data-action]").count() == 0, "the requester is offered no Approve"
        assert await ava.locator("[data-action=approve_retry]").count() == 0

    # The retry's acknowledger may not approve it either: no Approve, and a forged one is the API's 403.
    acknowledger = await console_system.token("approver", governed.acknowledger)
    async with signed_in_page(browser, base, acknowledger, browser_log) as carol:
        await carol.goto(f"{base}/console?view=retries")
        row = carol.locator(approval_row)
        await expect(row.locator("td[data-column=state]")).to_have_text("pending")
        assert await row.locator("[data-action]").count() == 0, "the acknowledger is offered no Approve"
        forged = await carol.request.post(
            f"{base}/console/actions/approve_retry",
            form={
                "csrf_token": await csrf_of(carol),
                "table": "retry_approvals",
                "record_id": governed.approval_id,
            },
        )
        assert forged.status == 403, await forged.text()
        assert "separation" in (await forged.text()).lower()

    async with signed_in_page(
        browser, base, await console_system.token("approver", "bob-approver"), browser_log
    ) as bob:
        await bob.goto(f"{base}/console?view=retries")
        row = bob.locator(approval_row)
        await expect(row.locator("[data-action=approve_retry]")).to_have_text("Approve")
        await act(
            bob,
            "approve_retry",
            r"^Approved retry execution gordackretryapprovaldecision-[0-9a-f]+\.$",
            within=approval_row,
        )
        await expect(row.locator("td[data-column=state]")).to_have_text("approved", timeout=ACTION_WAIT_MS)
        await expect(row.locator("td[data-column=decided_by]")).to_have_text("bob-approver")
        await expect(row.locator("[data-action=approve_retry]")).to_have_count(0)

    listed = await console_system.api.get(
        f"{AD}/retry-execution-approvals", params={"approval_id": governed.approval_id}
    )
    [approval] = listed.json()["items"]
    assert (approval["state"], approval["decided_by"]) == ("approved", "bob-approver")
