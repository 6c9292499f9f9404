"""The vendored front-end files are the ones their README names (version, sha256, licence beside
them), and the console's templates and static files ship in the installed package."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.browser.settings import AXE_SCRIPT, REPO

HTMX_VENDOR = REPO / "services/gateway/src/cavra_gateway/console/static/vendor"
ROW = re.compile(
    r"^\| `(?P<file>[^`]+)` \| .*? \| (?P<version>[0-9.]+) \| (?P<url>https://\S+) "
    r"\| `(?P<sha>[0-9a-f]{64})` \|"
)


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


def test_the_built_package_ships_the_console_templates_and_static_files(tmp_path: Path) -> None:
    """What setuptools copies into a build (a wheel holds the same): every console asset and
    document template of the source tree. Built from a copy: in the clone, setuptools would also
    ship whatever an earlier build listed in its egg-info."""
    clone = tmp_path / "clone"
    for top in ("libs", "apps", "services"):
        shutil.copytree(REPO / top, clone / top, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(REPO / name, clone / name)
    built = subprocess.run(
        [sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(tmp_path / "lib")],
        cwd=clone,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    source = REPO / "services/gateway/src/cavra_gateway"
    assets = [
        path.relative_to(source)
        for folder in ("console/static", "console/templates", "documents/templates")
        for path in (source / folder).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    ]
    assert Path("console/static/vendor/htmx-2.0.11.min.js") in assets
    missing = [str(path) for path in assets if not (tmp_path / "lib/cavra_gateway" / path).is_file()]
    assert missing == [], "not shipped as package data"
