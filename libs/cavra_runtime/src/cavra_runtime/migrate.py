"""Forward-only SQL migrations, one PostgreSQL schema per service.

Files are named ``NNNN_description.sql`` and applied in order, all pending ones of a schema
in one transaction (so a failing file leaves the schema as it was), with ``search_path`` set
to the service schema. A ``schema_migrations`` table records the
version and a SHA-256 checksum; an applied file that was edited afterwards is refused.
Two component sets are applied to every schema: ``runtime`` (outbox and inbox, shipped in
this package) and ``service`` (the service's own ``migrations/`` folder). A transaction-level
advisory lock serialises concurrent runners (several replicas starting at once).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

RUNTIME_MIGRATIONS = Path(__file__).parent / "migrations"
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_SCHEMA = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class MigrationError(RuntimeError):
    """A migration folder or the recorded history is inconsistent."""


@dataclass(frozen=True)
class Migration:
    component: str
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover(folder: Path, component: str) -> list[Migration]:
    """Read the numbered SQL files of ``folder``; gaps and duplicates are errors."""
    if not folder.is_dir():
        raise MigrationError(f"{component} migrations folder is missing: {folder}")
    found: list[Migration] = []
    for path in sorted(folder.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise MigrationError(f"migration file name must be NNNN_name.sql: {path.name}")
        found.append(Migration(component, int(match.group(1)), match.group(2), path.read_text()))
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise MigrationError(f"{component} migrations must be numbered 0001.. without gaps: {versions}")
    return found


async def migrate(conn: asyncpg.Connection, schema: str, service_folder: Path) -> list[str]:
    """Bring ``schema`` up to date; returns the names of the migrations applied now."""
    if not _SCHEMA.match(schema):
        raise MigrationError(f"invalid schema name: {schema!r}")
    plan = discover(RUNTIME_MIGRATIONS, "runtime") + discover(service_folder, "service")
    applied_now: list[str] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"cavra-migrate:{schema}")
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        await conn.execute(
            f"""CREATE TABLE IF NOT EXISTS "{schema}".schema_migrations (
                component  text        NOT NULL,
                version    integer     NOT NULL,
                name       text        NOT NULL,
                checksum   text        NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (component, version))"""
        )
        rows = await conn.fetch(
            f'SELECT component, version, name, checksum FROM "{schema}".schema_migrations'
        )
        recorded = {(r["component"], r["version"]): r for r in rows}
        for migration in plan:
            row = recorded.get((migration.component, migration.version))
            if row is not None:
                if row["checksum"] != migration.checksum:
                    raise MigrationError(
                        f"{schema}: applied migration {migration.component}/{migration.version:04d}_"
                        f"{migration.name} was edited afterwards (checksum mismatch); "
                        "add a new migration instead"
                    )
                continue
            await conn.execute(f'SET LOCAL search_path TO "{schema}"')
            await conn.execute(migration.sql)
            await conn.execute(
                f'INSERT INTO "{schema}".schema_migrations (component, version, name, checksum) '
                "VALUES ($1, $2, $3, $4)",
                migration.component,
                migration.version,
                migration.name,
                migration.checksum,
            )
            applied_now.append(f"{migration.component}/{migration.version:04d}_{migration.name}")
    return applied_now
