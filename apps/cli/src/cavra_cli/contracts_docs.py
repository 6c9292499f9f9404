"""``cavra contracts``: regenerate the committed JSON Schema snapshots and docs/asyncapi.yaml."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from cavra_contracts import compatibility, registry

CONTRACTS_ROOT = Path(registry.__file__).resolve().parents[2]
SCHEMA_DIR = CONTRACTS_ROOT / "schemas"
ASYNCAPI_PATH = CONTRACTS_ROOT.parents[1] / "docs" / "asyncapi.yaml"


def expected_files() -> dict[Path, str]:
    """Every generated file and the text it must hold."""
    files = {
        SCHEMA_DIR / f"{version}.json": registry.schema_snapshot_text(schema)
        for version, schema in registry.json_schemas().items()
    }
    files[ASYNCAPI_PATH] = yaml.safe_dump(registry.asyncapi_document(), sort_keys=False, width=110)
    return files


def committed_schemas() -> dict[str, dict[str, Any]]:
    """The committed JSON Schema snapshots, keyed by schema_version."""
    return {path.stem: json.loads(path.read_text()) for path in sorted(SCHEMA_DIR.glob("*.json"))}


class IncompatibleContracts(Exception):
    """The code changed a contract in a way its committed snapshot does not allow."""


def write_all(*, allow_breaking: bool = False) -> list[Path]:
    """Write every generated file and remove stale snapshots; returns what changed.

    Refuses (``IncompatibleContracts``) when a contract changed incompatibly with its committed
    snapshot, unless ``allow_breaking``: such a change needs a new V2 contract instead.
    """
    problems = compatibility.compare_all(committed_schemas(), registry.json_schemas())
    if problems and not allow_breaking:
        raise IncompatibleContracts("; ".join(problems))
    changed: list[Path] = []
    expected = expected_files()
    SCHEMA_DIR.mkdir(parents=True, exist_ok=True)
    for stale in set(SCHEMA_DIR.glob("*.json")) - set(expected):
        stale.unlink()
        changed.append(stale)
    for path, text in expected.items():
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            changed.append(path)
    return changed
