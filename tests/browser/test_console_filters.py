"""Filters and exports in a real Chromium against the whole system: filtering by owner and provider
changes the URL and shows exactly the API's rows for that scope, a reload and a bookmark opened by
another person (after signing in) show the same rows; the CSV and JSON exports of the notification
history under a filter hold exactly the filtered records."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from playwright.async_api import Browser, Page

from tests.browser.helpers import BrowserLog, column_texts, record_ids, sign_in, signed_in_page
from tests.browser.system import NP, ConsoleSystem

OWNERS = ("release-governance", "platform")


async def filtered_routes(system: ConsoleSystem, **scope: str) -> set[str]:
    answer = await system.api.get(f"{NP}/acknowledgements/routes", params={**scope, "limit": 500})
    assert answer.status_code == 200, answer.text
    return {item["route_id"] for item in answer.json()["items"]}


async def history_ids(system: ConsoleSystem, **scope: str) -> tuple[set[str], int]:
    answer = await system.api.get(NP, params={**scope, "limit": 200})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return {record_id(item) for item in body["items"]}, body["total"]


def record_id(record: dict[str, Any]) -> str:
    """The id a history row is keyed by (spec §7.1: session, plan, acknowledgement or event id)."""
    keys = ("item_id", "session_id", "plan_id", "acknowledgement_id", "event_id")
    return str(next(record[key] for key in keys if record.get(key)))


async def test_filter_by_owner_and_provider_is_in_the_url_and_shows_the_matching_rows(
    console_system: ConsoleSystem, page: Page, browser: Browser, browser_log: BrowserLog
) -> None:
    await console_system.put_schedule("payments", owners=OWNERS, providers=("webhook", "slack"))
    await console_system.put_schedule("billing", owners=OWNERS, providers=("slack", "teams"))
    expected = await filtered_routes(console_system, owner="platform", provider="slack")
    assert len(expected) == 2 and len(await filtered_routes(console_system)) == 8

    base = console_system.base_url
    token = await console_system.token("viewer", "auditor-ana")
    await sign_in(page, base, token)
    await page.goto(f"{base}/console?view=routes")
    assert len(await record_ids(page, "routes")) == 8
    await page.fill("#f-owner", "platform")
    await page.select_option("#f-provider", "slack")
    async with page.expect_navigation():
        await page.click("#filters button[type=submit]")
    query = parse_qs(urlsplit(page.url).query)
    assert (query["view"], query["owner"], query["provider"]) == (["routes"], ["platform"], ["slack"])

    async def shown_rows(on: Page) -> set[str]:
        owners = await column_texts(on, "routes", "owner")
        providers = await column_texts(on, "routes", "provider")
        assert set(owners.values()) == {"platform"} and set(providers.values()) == {"slack"}
        return set(owners)

    assert await shown_rows(page) == expected
    assert await page.input_value("#f-owner") == "platform"
    await page.reload()
    assert await shown_rows(page) == expected and await page.input_value("#f-provider") == "slack"

    bookmark = page.url
    async with signed_in_page(browser, base, token, browser_log) as other:
        await other.goto(bookmark)
        assert other.url == bookmark
        assert await shown_rows(other) == expected
        await other.context.clear_cookies()
        await other.goto(bookmark)
        assert "/console/sign-in?next=" in other.url, "no session: the sign-in form, then the bookmark"
        await other.fill("#token", token)
        async with other.expect_navigation(url=bookmark):
            await other.click("form[action='/console/sign-in'] button[type=submit]")
        assert await shown_rows(other) == expected


async def test_csv_and_json_exports_of_the_history_hold_exactly_the_filtered_records(
    console_system: ConsoleSystem, page: Page, tmp_path: Path
) -> None:
    await console_system.put_schedule("payments", owners=OWNERS, providers=("webhook", "slack"))
    await console_system.put_schedule("billing", owners=("platform",), providers=("teams",))
    expected, total = await history_ids(console_system, provider="teams")
    _, everything = await history_ids(console_system)
    assert 0 < total < everything, "the filter leaves records out"

    base = console_system.base_url
    await sign_in(page, base, await console_system.token("viewer", "auditor-ana"))
    await page.goto(f"{base}/console?view=notifications&provider=teams")
    assert set(await record_ids(page, "history")) == expected

    async with page.expect_download() as csv_download:
        await page.click("#table-history .table-tools a:text-is('CSV')")
    csv_file = await (await csv_download.value).path()
    rows = list(csv.DictReader(io.StringIO(Path(csv_file).read_text(encoding="utf-8"))))
    assert {row["record_id"] for row in rows} == expected and len(rows) == total
    assert all("teams" in row["Provider"].split(", ") for row in rows)
    assert (await csv_download.value).suggested_filename == "history-teams.csv"

    async with page.expect_download() as json_download:
        await page.click("#table-history .table-tools a:text-is('JSON')")
    exported = json.loads(Path(await (await json_download.value).path()).read_text(encoding="utf-8"))
    assert exported["filters"] == {"provider": "teams"} and exported["row_count"] == total
    assert {record_id(record) for record in exported["rows"]} == expected
    assert all(record["schedule_id"] == "billing" for record in exported["rows"])
