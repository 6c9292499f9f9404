"""Signing in to the console in a real Chromium against the whole system: the form with a token of each
role (the header names the actor and the role), a wrong token answered with the server's 401 message;
and a viewer, who is offered no mutation control and whose forged POST the API refuses (403) while
nothing is stored."""

from __future__ import annotations

from typing import Final

from playwright.async_api import Browser, Page

from cavra_contracts.actors import Role
from tests.browser.helpers import BrowserLog, Screenshots, csrf_of, record_ids, sign_in, signed_in_page
from tests.browser.system import NP, ConsoleSystem
from tests.support.auth import bearer

ROLES: Final[tuple[Role, ...]] = ("viewer", "operator", "approver", "admin")
WRONG_TOKEN: Final = "cavra_" + "0" * 40
VIEWS: Final = ("notifications", "routes", "routing", "retries", "recovery", "executive")


async def test_each_role_signs_in_through_the_form_and_a_wrong_token_shows_the_servers_401(
    console_system: ConsoleSystem, page: Page, screenshot: Screenshots
) -> None:
    base = console_system.base_url
    for role in ROLES:
        token = await console_system.token(role, f"{role}-person")
        await sign_in(page, base, token)
        who = page.locator("#who")
        assert (await who.locator("strong").inner_text()) == f"{role}-person"
        assert (await who.locator(".role").inner_text()) == role
        async with page.expect_navigation(url=f"{base}/console/sign-in**"):
            await page.click("form[action='/console/sign-out'] button[type=submit]")

    refused = await console_system.api.get(NP, headers=bearer(WRONG_TOKEN))
    assert refused.status_code == 401
    await page.fill("#token", WRONG_TOKEN)
    async with page.expect_response(f"{base}/console/sign-in") as answered:
        await page.click("form[action='/console/sign-in'] button[type=submit]")
    assert (await answered.value).status == 401
    error = (await page.inner_text("#sign-in-error")).strip()
    assert error == f"401: {refused.json()['detail']}", error
    assert await page.get_attribute("#token", "aria-invalid") == "true"
    assert "/console/sign-in" in page.url and await page.locator("#who").count() == 0
    await page.fill("#token", "")
    await screenshot(page, "sign-in", full_page=False)


async def test_a_viewer_sees_no_mutation_control_and_its_forged_post_is_refused(
    console_system: ConsoleSystem, page: Page, browser: Browser, browser_log: BrowserLog
) -> None:
    await console_system.put_schedule(
        "payments", owners=("release-governance",), providers=("webhook", "slack")
    )
    base = console_system.base_url
    async with signed_in_page(
        browser, base, await console_system.token("operator", "ops-olga"), browser_log
    ) as ops:
        await ops.goto(f"{base}/console?view=routes")
        assert await ops.locator("[data-action=route_ack]").count() == 2, "the operator is offered Ack"

    await sign_in(page, base, await console_system.token("viewer", "auditor-ana"))
    for view in VIEWS:
        await page.goto(f"{base}/console?view={view}")
        assert await page.locator("[data-action]").count() == 0, view
        assert await page.locator("#mutation-inputs, .actions-toolbar form, [hx-post]").count() == 0, view
    await page.goto(f"{base}/console?view=routes")
    routes = await record_ids(page, "routes")
    assert len(routes) == 2
    assert "may view only" in await page.inner_text("#status")
    history_before = (await console_system.api.get(NP, params={"limit": 1})).json()["total"]

    forged = await page.request.post(
        f"{base}/console/actions/route_ack",
        form={"csrf_token": await csrf_of(page), "table": "routes", "record_id": routes[0]},
        headers={"HX-Request": "true"},
    )
    shown = (await forged.text()).strip()
    print(f"forged POST as a viewer: {forged.status} {shown[:200]}")
    assert forged.status == 403, shown
    assert "operator" in shown and "Recorded" not in shown

    outstanding = await console_system.outstanding_routes(schedule_id="payments")
    assert outstanding["total"] == 2, "the forged acknowledgement was not stored"
    assert (await console_system.api.get(NP, params={"limit": 1})).json()["total"] == history_before
