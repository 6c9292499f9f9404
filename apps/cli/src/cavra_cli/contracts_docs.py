"""``cavra contracts``: regenerate the committed JSON Schema snapshots and docs/asyncapi.yaml."""

from __future__ import annotations

from pathlib import Path

import yaml

from cavra_contracts import registry

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


def write_all() -> list[Path]:
    """Write every generated file and remove stale snapshots; returns what changed."""
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
