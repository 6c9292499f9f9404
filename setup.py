"""Which packages the project installs: every package under ``libs/*/src``, ``apps/*/src`` and
``services/*/src``. Everything else is in pyproject.toml; only this list is computed, so a new
service (``services/<name>/src/<package>`` plus its entry in ``cavra_runtime.services``) needs no
packaging edit."""

from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).resolve().parent
SOURCES = sorted(src for top in ("libs", "apps", "services") for src in (ROOT / top).glob("*/src"))
PACKAGES = {package: src for src in SOURCES for package in find_packages(str(src))}

setup(
    packages=sorted(PACKAGES),
    # Top-level packages only; setuptools finds each subpackage inside its parent's folder.
    package_dir={
        package: (src / package).relative_to(ROOT).as_posix()
        for package, src in PACKAGES.items()
        if "." not in package
    },
)
