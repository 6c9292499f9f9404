"""How the browser tests find Chromium and where their screenshots go, read once from ``CAVRA_*``."""

from __future__ import annotations

import shutil
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO = Path(__file__).resolve().parents[2]
SCREENSHOT_DIR = REPO / "docs" / "console"
AXE_SCRIPT = Path(__file__).resolve().parent / "vendor" / "axe-4.14.1.min.js"

# Machine notes §6: headless Debian chromium, nothing reaching out to the network on its own.
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
)

INSTALL_HINT = (
    "install Debian's chromium as root (apt-get update && apt-get install -y chromium; `make test` "
    "does it when it may), or point CAVRA_CHROMIUM at a Chromium binary, or set "
    "CAVRA_BROWSER_TESTS=skip to skip the browser tests"
)


class BrowserTestSettings(BaseSettings):
    """``CAVRA_CHROMIUM``, ``CAVRA_BROWSER_TESTS`` (run | skip), ``CAVRA_CONSOLE_SCREENSHOTS``."""

    model_config = SettingsConfigDict(env_prefix="CAVRA_", frozen=True, extra="ignore")

    chromium: Path = Path("/usr/bin/chromium")
    browser_tests: Literal["run", "skip"] = "run"
    console_screenshots: bool = False
    browser_launch_timeout_seconds: float = Field(default=30.0, gt=0, le=300)

    def missing(self) -> list[str]:
        """What the browser tests lack on this machine; empty when nothing."""
        problems = []
        if not (self.chromium.is_file() and shutil.which(str(self.chromium))):
            problems.append(f"no Chromium executable at {self.chromium} (CAVRA_CHROMIUM)")
        try:
            import playwright.async_api  # noqa: F401
        except ImportError:
            problems.append("the playwright package is not installed (pip install -e '.[dev]')")
        return problems


@cache
def browser_test_settings() -> BrowserTestSettings:
    return BrowserTestSettings()
