"""A governed retry made through the console by its people, in a real Chromium: a failing audit delivery,
Plan Audit Retry (olivia, operator), Ack Retry (carol, approver), Plan Retry Approval (ava, approver):
the state in which an approval request waits for someone who neither asked for it nor acknowledged it.
Shared by the approval test and the tour of every view."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from playwright.async_api import Browser, Page, expect

from tests.browser.helpers import BrowserLog, signed_in_page
from tests.browser.system import ConsoleSystem
from tests.support.harness import eventually

ACTION_WAIT_MS: Final = 30_000
"""An action waits for its service's answer; on a loaded machine that takes seconds."""
PATIENT: Final = {"gateway": {"command_wait_seconds": 30.0, "delivery_wait_seconds": 30.0}}
"""Gateway settings of tests that act: a loaded machine would answer 202 (queued) after the default 5 s."""
AUDIT_ATTEMPTS: Final = 3
"""Attempts of one audit delivery: the API's default of 2 retries."""


async def act(page: Page, action: str, message: str, *, within: str = "") -> str:
    """Click ``action`` (the first of ``within``'s, else of the page) and wait for its success message
    (a regular expression) in ``#status``; returns the message."""
    await page.locator(f"{within} [data-action={action}]".strip()).first.click()
    shown = page.locator("#status .result.ok, #status .problem")
    await expect(shown).to_have_text(re.compile(message), timeout=ACTION_WAIT_MS)
    return (await shown.inner_text()).strip()


@dataclass(frozen=True)
class GovernedRetry:
    approval_id: str
    requester: str
    acknowledger: str


async def request_a_retry_approval(system: ConsoleSystem, browser: Browser, log: BrowserLog) -> GovernedRetry:
    """Up to the pending approval request of ``ava-approver``; returns its id."""
    base = system.base_url
    await system.put_schedule("payments", owners=("release-governance",), providers=("webhook",))
    sent_before = len(system.fake.requests_for("webhook"))
    system.fake.script("webhook", [503] * AUDIT_ATTEMPTS)
    async with signed_in_page(browser, base, await system.token("operator", "olivia-operator"), log) as ops:
        await ops.goto(f"{base}/console?view=notifications")
        await ops.select_option("#m-destination", "webhook")
        await ops.click("[data-action=deliver_audit]")

        async def failed() -> bool:
            return len(system.fake.requests_for("webhook")) >= sent_before + AUDIT_ATTEMPTS

        await eventually(failed, what="the failing audit delivery")
        await expect(ops.locator("#status .result, #status .problem")).to_be_visible(timeout=ACTION_WAIT_MS)
        system.clock.advance(minutes=16)  # past Plan Audit Retry's retry delay (15 minutes)
        await act(ops, "plan_audit_retry", r"^Planned 1 retryable audit deliveries\.$")

    async with signed_in_page(browser, base, await system.token("approver", "carol-approver"), log) as carol:
        await carol.goto(f"{base}/console?view=retries")
        await act(carol, "ack_retry", r"^Acknowledged retry decision gordackretryack-[0-9a-f]+\.$")

    async with signed_in_page(browser, base, await system.token("approver", "ava-approver"), log) as ava:
        await ava.goto(f"{base}/console?view=retries")
        await act(ava, "plan_retry_approval", r"^Planned 1 retry execution approvals\.$")
        row = ava.locator("#table-retry_approvals tbody tr[data-record-id]")
        await expect(row.locator("td[data-column=requested_by]")).to_have_text("ava-approver")
        approval_id = await row.get_attribute("data-record-id")
        assert approval_id
    return GovernedRetry(approval_id, "ava-approver", "carol-approver")
