"""Which packages the project installs: every package under ``libs/*/src``, ``apps/*/src`` and
``services/*/src``, each with every non-Python file inside it (SQL, templates, static files, vendored
scripts). Everything else is in pyproject.toml; only these lists are computed, so a new service
(``services/<name>/src/<package>`` plus its entry in ``cavra_runtime.services``) or a new data folder
needs no packaging edit."""

from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).resolve().parent
SOURCES = sorted(src for top in ("libs", "apps", "services") for src in (ROOT / top).glob("*/src"))
PACKAGES = {package: src for src in SOURCES for package in find_packages(str(src))}
CODE = {".py", ".pyc", ".pyo"}


def data_files(folder: Path) -> list[str]:
    """Every file under ``folder`` that is not Python code, relative to it."""
    return sorted(
        path.relative_to(folder).as_posix()
        for path in folder.rglob("*")
        if path.is_file() and path.suffix not in CODE and "__pycache__" not in path.parts
    )


setup(
    packages=sorted(PACKAGES),
    # Top-level packages only; setuptools finds each subpackage inside its parent's folder.
    package_dir={
        package: (src / package).relative_to(ROOT).as_posix()
        for package, src in PACKAGES.items()
        if "." not in package
    },
    package_data={
        package: files
        for package, src in PACKAGES.items()
        if "." not in package and (files := data_files(src / package))
    },
)
