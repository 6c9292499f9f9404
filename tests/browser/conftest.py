"""Browser-test fixtures: one headless Debian Chromium per session (Playwright, ``executable_path``),
a fresh page per test that fails the test on any uncaught page error, the whole system served over
real HTTP (``console_system``) and ``screenshot``. Every test that uses the browser is marked
``browser``. Chromium or playwright missing: the tests fail saying what to install, or are skipped
with CAVRA_BROWSER_TESTS=skip."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.browser.helpers import BrowserLog
from tests.browser.settings import CHROMIUM_ARGS, INSTALL_HINT, browser_test_settings
from tests.browser.system import ConsoleSystem
from tests.browser.system import console_system as whole_system

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page, ViewportSize

    from tests.browser.helpers import Screenshots

BROWSER_FIXTURES = frozenset({"browser", "page", "browser_log"})
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if BROWSER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    settings = browser_test_settings()
    missing = "; ".join(settings.missing())
    if settings.browser_tests == "skip":
        pytest.skip(f"CAVRA_BROWSER_TESTS=skip{f' ({missing})' if missing else ''}")
    if missing:
        pytest.fail(f"browser tests cannot run: {missing}; {INSTALL_HINT}", pytrace=False)
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        started = time.monotonic()
        launched = await playwright.chromium.launch(
            executable_path=str(settings.chromium),
            headless=True,
            args=list(CHROMIUM_ARGS),
            timeout=settings.browser_launch_timeout_seconds * 1000,
        )
        print(f"chromium {launched.version} launched in {time.monotonic() - started:.2f} s")
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
def browser_log() -> BrowserLog:
    return BrowserLog()


@pytest.fixture
async def page(browser: Browser, browser_log: BrowserLog) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport=VIEWPORT)
    opened = await context.new_page()
    opened.on("pageerror", browser_log.on_page_error)
    opened.on("console", browser_log.on_console)
    try:
        yield opened
    finally:
        await context.close()
    if browser_log.page_errors:
        pytest.fail("uncaught errors in the page:\n  " + "\n  ".join(browser_log.page_errors), pytrace=False)


@pytest.fixture
async def console_system(
    request: pytest.FixtureRequest, nats_url: str, database_url: str, tmp_path: Path
) -> AsyncIterator[ConsoleSystem]:
    """The whole system; ``@pytest.mark.console_system(services=..., settings=...)`` narrows it
    (e.g. without the escalation service, so breached routes wait for a person)."""
    marker = request.node.get_closest_marker("console_system")
    home = tmp_path / "cavra-home"
    home.mkdir()
    async with whole_system(nats_url, database_url, home, **(marker.kwargs if marker else {})) as system:
        yield system


@pytest.fixture
def screenshot(tmp_path: Path) -> Screenshots:
    from tests.browser.helpers import Screenshots

    return Screenshots(tmp_path / "screenshots")
