"""What browser tests do to a page besides driving it: collect its errors (``BrowserLog``), check
it with the vendored axe-core, and take screenshots (into ``docs/console/`` only when asked, so a
test run leaves the clone clean)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from tests.browser.settings import AXE_SCRIPT, SCREENSHOT_DIR, BrowserTestSettings, browser_test_settings

if TYPE_CHECKING:  # imported lazily: without playwright the fixtures still say what is missing
    from playwright.async_api import Browser, ConsoleMessage, Error, Page

SERIOUS: tuple[str, ...] = ("serious", "critical")


async def axe_violations(page: Page, impacts: Sequence[str] = SERIOUS) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now, those of ``impacts`` only (id, impact, help,
    nodes' targets), so a failing assertion says what to fix."""
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        # Evaluated over the DevTools protocol, which the console's Content-Security-Policy
        # (script-src 'self') does not govern: add_script_tag's inline <script> is refused by it.
        await page.evaluate(f"{_axe_source()}\n;undefined")
    results = await page.evaluate("async () => (await axe.run(document)).violations")
    return [
        {
            "id": violation["id"],
            "impact": violation["impact"],
            "help": violation["help"],
            "targets": [node["target"] for node in violation["nodes"]],
        }
        for violation in cast(list[dict[str, Any]], results)
        if violation.get("impact") in impacts
    ]


async def sign_in(page: Page, base_url: str, token: str) -> None:
    """Sign in through the console's own form (``/console/sign-in``) and land on ``/console``."""
    await page.goto(f"{base_url}/console/sign-in")
    await page.fill("#token", token)
    async with page.expect_navigation(url=f"{base_url}/console**"):
        await page.click("form[action='/console/sign-in'] button[type=submit]")


@cache
def _axe_source() -> str:
    return AXE_SCRIPT.read_text(encoding="utf-8")


class Screenshots:
    """Saves page screenshots under ``docs/console/`` with CAVRA_CONSOLE_SCREENSHOTS=1, else under
    the test's own temporary directory."""

    def __init__(self, fallback: Path, settings: BrowserTestSettings | None = None) -> None:
        asked = (settings or browser_test_settings()).console_screenshots
        self.directory = SCREENSHOT_DIR if asked else fallback

    async def __call__(self, page: Page, name: str, *, full_page: bool = True) -> Path:
        if not name.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"screenshot name {name!r}: letters, digits, - and _ only")
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{name}.png"
        await page.screenshot(path=str(path), full_page=full_page)
        return path


@dataclass
class BrowserLog:
    """What the page said besides its content: uncaught errors fail the test; console errors are
    kept for tests to look at (a refused request logs one, and that is no bug)."""

    page_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def on_page_error(self, error: Error) -> None:
        self.page_errors.append(f"{error.name}: {error.message}")

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)


@asynccontextmanager
async def signed_in_page(browser: Browser, base_url: str, token: str, log: BrowserLog) -> AsyncIterator[Page]:
    """A page of a fresh browser context (its own cookies: another person), signed in through the
    form; its uncaught errors go to ``log`` (the ``page`` fixture fails the test on them)."""
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        opened = await context.new_page()
        opened.on("pageerror", log.on_page_error)
        opened.on("console", log.on_console)
        await sign_in(opened, base_url, token)
        yield opened
    finally:
        await context.close()


async def csrf_of(page: Page) -> str:
    """The session's CSRF token, as the page carries it (``<meta name="csrf-token">``)."""
    token = await page.get_attribute('meta[name="csrf-token"]', "content")
    assert token, "the page carries no CSRF token"
    return token


async def record_ids(page: Page, table: str) -> list[str]:
    """The record ids of the rows ``table`` shows now, top to bottom."""
    ids = await page.eval_on_selector_all(
        f"#table-{table} tbody tr[data-record-id]", "rows => rows.map(r => r.dataset.recordId)"
    )
    return cast(list[str], ids)


async def column_texts(page: Page, table: str, column: str) -> dict[str, str]:
    """``record id -> text`` of one column of the rows ``table`` shows now."""
    texts = await page.eval_on_selector_all(
        f"#table-{table} tbody tr[data-record-id]",
        f"rows => rows.map(r => [r.dataset.recordId, r.querySelector('td[data-column=\"{column}\"]')"
        ".innerText.trim()])",
    )
    return dict(cast(list[tuple[str, str]], texts))


async def card_value(page: Page, group: str, label: str) -> str:
    """The value of the metric card ``label`` of the card group ``group`` as shown now."""
    return (await page.inner_text(f'#cards-{group} [data-card="{label}"] .card-value')).strip()
