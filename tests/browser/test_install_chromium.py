"""``install_chromium.sh``, the step of ``make test`` that brings Chromium: it stamps a Chromium
that is there, says what is missing (and still lets ``make test`` go on) when it is not, and
installs nothing when the browser tests are skipped. The apt path itself runs only for the
default /usr/bin/chromium as root, which these tests never point it at."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent / "install_chromium.sh"


def run(stamp: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), str(stamp)],
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_a_chromium_that_is_there_is_stamped(tmp_path: Path) -> None:
    chromium = tmp_path / "chromium"
    chromium.write_text("#!/bin/sh\n")
    chromium.chmod(0o755)
    done = run(tmp_path / "stamp", CAVRA_CHROMIUM=str(chromium))
    assert done.returncode == 0 and (tmp_path / "stamp").exists()


def test_a_missing_chromium_is_named_with_how_to_install_it(tmp_path: Path) -> None:
    done = run(tmp_path / "stamp", CAVRA_CHROMIUM=str(tmp_path / "nowhere"))
    assert done.returncode == 0, "make test goes on; the browser tests then fail with the reason"
    assert f"MISSING Chromium at {tmp_path / 'nowhere'}" in done.stderr
    assert "apt-get install -y chromium" in done.stderr and "CAVRA_BROWSER_TESTS=skip" in done.stderr
    assert not (tmp_path / "stamp").exists(), "the next make test tries again"


def test_skipped_browser_tests_install_nothing(tmp_path: Path) -> None:
    done = run(tmp_path / "stamp", CAVRA_CHROMIUM=str(tmp_path / "nowhere"), CAVRA_BROWSER_TESTS="skip")
    assert done.returncode == 0 and "not installing chromium" in done.stdout
    assert not (tmp_path / "stamp").exists()
