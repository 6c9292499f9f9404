"""The vendored front-end files are the ones their README names (version, sha256, licence beside
them), and the console's templates and static files ship in the installed package."""

from __future__ import annotations

import hashlib
import re
import tomllib
from pathlib import Path

import pytest

from tests.browser.settings import AXE_SCRIPT, REPO

HTMX_VENDOR = REPO / "services/gateway/src/cavra_gateway/console/static/vendor"
ROW = re.compile(r"^\| `(?P<file>[^`]+)` \| .*? \| (?P<version>[0-9.]+) \| (?P<url>https://\S+) \| `(?P<sha>[0-9a-f]{64})` \|")


def readme_rows(folder: Path) -> list[re.Match[str]]:
    return [m for line in (folder / "README.md").read_text().splitlines() if (m := ROW.match(line))]


@pytest.mark.parametrize(
    ("folder", "licence"),
    [(HTMX_VENDOR, "LICENSE-htmx"), (AXE_SCRIPT.parent, "LICENSE-axe-core")],
    ids=["htmx", "axe-core"],
)
def test_each_vendored_file_matches_its_readme_and_has_its_licence(folder: Path, licence: str) -> None:
    rows = readme_rows(folder)
    assert rows, f"{folder}/README.md lists no vendored file"
    for row in rows:
        path = folder / row["file"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == row["sha"], f"{path} differs from its README"
        assert row["version"] in row["file"] and row["version"] in row["url"]
    assert (folder / licence).stat().st_size > 500
    listed = {row["file"] for row in rows}
    scripts = {path.name for path in folder.glob("*.js")}
    assert scripts == listed, "every script in the folder is listed, and only those"


def test_the_console_assets_are_package_data() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    shipped = config["tool"]["setuptools"]["package-data"]["cavra_gateway"]
    assert {"console/templates/**/*", "console/static/**/*", "documents/templates/*"} <= set(shipped)
