"""console.js in a real headless Chromium, over the console's own templates rendered in-process (no
server: the page's requests are answered by Playwright routes, under the console's CSP): times in UTC
and in the viewer's zone with ages, the keyboard (j/k/x/a/Enter, /, t, ?, Esc), the current row and
selection kept across a table swap, ``cavra:changed`` refreshing only the tables of its topics, the
theme following the system until chosen, and the layout at 1280, 1366 and 1000 px."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from cavra_gateway.console.filters import Paging
from cavra_gateway.console.render import SECURITY_HEADERS, STATIC, render, vendored
from cavra_gateway.console.tables.base import Cell, Row, TablePage
from cavra_gateway.console.tables.registry import TABLES
from tests.unit.test_console_templates import CREATED, context

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

pytestmark = pytest.mark.browser
ORIGIN = "http://console.test"


def history_rows(numbers: list[int]) -> list[Row]:
    return [
        Row(
            record_id=f"gordn-{n:016x}",
            label=f"gordn-{n:016x}",
            record={},
            cells={
                "record": Cell(text=f"gordn-{n:016x}", mono=True),
                "kind": Cell(text="plan"),
                "provider": Cell(text="slack"),
                "status": Cell(text="outstanding", tone="attention"),
                "schedule": Cell(text="go_backend_python_fallback_monthly", mono=True),
                "created": Cell(time=CREATED),
            },
        )
        for n in numbers
    ]


def table_html(numbers: list[int]) -> str:
    result = TablePage(history_rows(numbers), total=len(numbers), has_more=False)
    return render("console/table.html", **context(), table=TABLES["history"], paging=Paging(), result=result)


@dataclass
class Site:
    """What the page asks for and what it gets: the console page, the history table fragment (its rows
    set by the test), and a detail panel; every answer carries the console's CSP."""

    rows: list[int] = field(default_factory=lambda: [0, 1, 2])
    requests: list[str] = field(default_factory=list)

    def fragments(self) -> int:
        return sum(1 for path in self.requests if path.startswith("/console/fragments/tables/history?"))

    def answer(self, path: str) -> tuple[int, str, str]:
        if path.startswith("/console/static/"):
            name = path.removeprefix("/console/static/").split("?")[0]
            found = STATIC / name
            if not found.is_file():
                return 404, "text/plain", ""
            kind = "text/css" if name.endswith(".css") else "text/javascript"
            return 200, kind, found.read_text()
        if path.startswith("/console/fragments/tables/history/rows/") and "/detail" in path:
            return 200, "text/html", '<div class="detail-body" id="detail-shown"><h2>Details</h2></div>'
        if path.startswith("/console/fragments/tables/history"):
            return 200, "text/html", table_html(self.rows)
        if path.startswith("/console/events"):
            return 204, "text/plain", ""
        result = TablePage(history_rows(self.rows), total=len(self.rows), has_more=False)
        page = render(
            "console/console.html",
            **context(),
            card_groups=[],
            tables=[(TABLES["history"], Paging(), result)],
        )
        return 200, "text/html", page


@pytest.fixture
def chromium(browser: Browser) -> Browser:
    """The harness's session browser (it fails, never skips, when Chromium is missing)."""
    assert vendored("htmx"), "the vendored htmx is not in console/static/vendor"
    return browser


@dataclass
class Console:
    page: Page
    site: Site
    complaints: list[str]

    async def open(self) -> None:
        await self.page.goto(f"{ORIGIN}/console")
        await self.page.wait_for_function("() => window.htmx && window.cavraConsole")

    async def current(self) -> Any:
        return await self.page.evaluate("(window.cavraConsole.currentRow() || {}).id || null")

    async def focused(self) -> Any:
        return await self.page.evaluate("document.activeElement.id || document.activeElement.tagName")


@pytest.fixture
async def console(chromium: Browser) -> AsyncIterator[Console]:
    browser_context = await chromium.new_context(
        timezone_id="Europe/Berlin",
        locale="en-GB",
        viewport={"width": 1280, "height": 800},
        color_scheme="dark",
    )
    site = Site()

    async def answer(route: Any) -> None:
        path = route.request.url.removeprefix(ORIGIN)
        site.requests.append(path)
        status, kind, body = site.answer(path)
        await route.fulfill(status=status, content_type=kind, body=body, headers=SECURITY_HEADERS)

    await browser_context.route(f"{ORIGIN}/**", answer)
    page = await browser_context.new_page()
    complaints: list[str] = []
    page.on("pageerror", lambda error: complaints.append(str(error)))
    page.on(
        "console",
        lambda message: (
            complaints.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    opened = Console(page, site, complaints)
    await opened.open()
    try:
        yield opened
    finally:
        await browser_context.close()
        assert not complaints, f"page errors or CSP refusals: {complaints}"


async def test_times_show_utc_then_the_viewers_zone_remembered(console: Console) -> None:
    page = console.page
    first = page.locator("time").first
    shown = await first.inner_text()
    assert shown.startswith("2026-12-01 16:21:26 UTC") and "ago" in shown, shown
    title = await first.get_attribute("title") or ""
    assert "2026-12-01 16:21:26 UTC" in title and "2026-12-01 17:21:26 CET" in title
    await page.click("#time-zone")
    assert (await first.inner_text()).startswith("2026-12-01 17:21:26 CET")
    assert await page.get_attribute("#time-zone", "aria-pressed") == "true"
    assert await page.evaluate("window.cavraConsole.timeMode") == "local"
    await console.open()
    assert (await page.locator("time").first.inner_text()).startswith("2026-12-01 17:21:26 CET")
    await page.keyboard.press("t")
    assert (await page.locator("time").first.inner_text()).startswith("2026-12-01 16:21:26 UTC")


async def test_keys_move_select_and_act_on_the_current_row(console: Console) -> None:
    page = console.page
    await page.evaluate(
        """() => {
          const input = document.createElement("input");
          Object.assign(input, {type: "hidden", id: "selected-records"});
          const count = Object.assign(document.createElement("span"), {id: "count"});
          count.setAttribute("data-selected-count", "");
          document.body.append(input, count);
          window.acked = [];
          document.querySelectorAll("tr[data-record-id] td.row-actions").forEach(cell => {
            const ack = Object.assign(document.createElement("button"), {type: "button", textContent: "Ack"});
            ack.dataset.action = "route_ack";
            ack.addEventListener("click", () => window.acked.push(cell.parentElement.dataset.recordId));
            cell.prepend(ack);
          });
        }"""
    )
    await page.keyboard.press("j")
    assert await console.current() == "row-history-1" and await console.focused() == "row-history-1"
    for _ in range(4):
        await page.keyboard.press("j")
    assert await console.current() == "row-history-3", "j stops at the last row"
    await page.keyboard.press("k")
    await page.keyboard.press("x")
    await page.keyboard.press("k")
    await page.keyboard.press("x")
    chosen = ["gordn-0000000000000001", "gordn-0000000000000000"]
    assert await page.evaluate("window.cavraConsole.selected()") == chosen
    assert await page.input_value("#selected-records") == ",".join(chosen)
    assert await page.inner_text("#count") == "2"
    assert await page.get_attribute("#row-history-2", "aria-selected") == "true"
    assert "current" in (await page.get_attribute("#row-history-1", "class") or "")
    await page.keyboard.press("a")
    assert await page.evaluate("window.acked") == ["gordn-0000000000000000"]
    await page.keyboard.press("Enter")
    await page.wait_for_selector("#detail-shown", timeout=5_000)

    await page.keyboard.press("/")
    assert await console.focused() == "f-owner"
    await page.keyboard.type("jx")
    assert await page.input_value("#f-owner") == "jx", "keys typed in a field stay text"
    assert await page.evaluate("window.cavraConsole.selected().length") == 2
    await page.keyboard.press("Escape")
    assert await console.focused() == "row-history-1", "Esc leaves the field for the current row"
    await page.keyboard.press("Control+j")
    assert await console.current() == "row-history-1", "keys with a modifier are the browser's"

    await page.keyboard.press("?")
    assert await page.evaluate("document.getElementById('help').open")
    await page.keyboard.press("j")
    assert await console.current() == "row-history-1", "keys wait while the help is open"
    await page.keyboard.press("Escape")
    assert not await page.evaluate("document.getElementById('help').open")


async def test_changes_refresh_their_tables_and_keep_the_current_row_and_selection(console: Console) -> None:
    page = console.page
    await page.keyboard.press("j")
    await page.keyboard.press("x")
    await page.keyboard.press("j")
    await page.keyboard.press("x")
    # what htmx does with an action answer's HX-Trigger: {"cavra:changed": {"topics": [...]}}
    changed = (
        "topics => document.body.dispatchEvent("
        "new CustomEvent('cavra:changed', {bubbles: true, detail: {topics}}))"
    )

    await page.evaluate(changed, ["route"])
    await page.wait_for_timeout(300)
    assert console.site.fragments() == 0, "the history table does not listen to route changes"

    await page.evaluate(changed, ["acknowledgement", "delivery"])
    await page.wait_for_timeout(400)
    assert console.site.fragments() == 1, "one refresh per table, however many of its topics changed"
    assert await console.current() == "row-history-2"
    assert await console.focused() == "row-history-2", "focus returns to the current row after the swap"
    assert await page.evaluate("window.cavraConsole.selected()") == [
        "gordn-0000000000000000",
        "gordn-0000000000000001",
    ]
    assert "selected" in (await page.get_attribute("#row-history-1", "class") or "")
    assert "ago" in await page.locator("time").first.inner_text(), "times rendered again after the swap"

    console.site.rows = [1, 2]
    await page.evaluate(changed, ["acknowledgement"])
    await page.wait_for_timeout(400)
    assert console.site.fragments() == 2
    assert await page.evaluate("window.cavraConsole.selected()") == ["gordn-0000000000000001"]
    assert await console.current() == "row-history-1", "the current record moved up a place"
    assert await console.focused() == "row-history-1", "focus follows the record, not the row's position"

    console.site.rows = [2]
    await page.click("#refresh")
    await page.wait_for_timeout(400)
    assert await page.evaluate("window.cavraConsole.selected()") == []
    assert await page.text_content("[data-selected-count]") == "0"
    assert await console.current() is None, "the current row left the table"


async def test_a_row_refresh_stays_with_its_row(console: Console) -> None:
    page = console.page
    await page.evaluate("htmx.trigger(document.getElementById('row-history-1'), 'cavra:refresh')")
    await page.wait_for_timeout(400)
    assert console.site.fragments() == 0
    assert [p for p in console.site.requests if "/rows/" in p]


async def test_the_theme_follows_the_system_until_chosen(console: Console) -> None:
    page = console.page
    background = "getComputedStyle(document.body).backgroundColor"
    assert await page.evaluate(background) == "rgb(15, 20, 25)"
    assert await page.get_attribute("#theme", "aria-pressed") == "true"
    await page.click("#theme")
    assert await page.evaluate("document.documentElement.dataset.theme") == "light"
    await console.open()
    assert await page.evaluate(background) == "rgb(246, 247, 249)", "the choice outlives a reload"
    assert await page.get_attribute("#theme", "aria-pressed") == "false"


@pytest.mark.parametrize(
    ("width", "height", "beside"), [(1280, 800, True), (1366, 768, True), (1000, 700, False)]
)
async def test_the_layout_fits_laptops_and_moves_the_detail_below_when_narrow(
    console: Console, width: int, height: int, beside: bool
) -> None:
    page = console.page
    await page.set_viewport_size({"width": width, "height": height})
    assert await page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    # Until a row's details are open, the tables take the whole width and the hint sits below them.
    tables = await page.locator(".tables").bounding_box()
    detail = await page.locator("#detail").bounding_box()
    assert tables and detail and detail["y"] >= tables["y"] + tables["height"] - 1
    await page.evaluate("document.querySelector('#detail').innerHTML = '<div class=\"detail-body\">x</div>'")
    tables = await page.locator(".tables").bounding_box()
    detail = await page.locator("#detail").bounding_box()
    assert tables and detail
    assert (detail["x"] >= tables["x"] + tables["width"] - 1) is beside
    wide = await page.evaluate("(s => s.scrollWidth - s.clientWidth)(document.querySelector('.scroll'))")
    assert wide <= 0 or not beside, f"{width} px: the history table scrolls sideways by {wide} px"
