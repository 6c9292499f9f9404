"""Load the schedule and history files named in the environment, idempotently, at start.

A file is read entry by entry: an entry that fails validation, names an unknown schedule or
cannot be stored is logged (file, index, id, fields) and skipped, and the rest loads. Only a
file that cannot be used as a whole (missing, not JSON, too large, wrong schema_version, too
many entries) is skipped entirely. Either way the scheduler starts.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import asyncpg
import structlog
from pydantic import ValidationError

from cavra_contracts.limits import MAX_SCHEDULES_PER_FILE
from cavra_contracts.schedules import DrillRunV1, RollbackDrillHistoryV1, RollbackDrillScheduleV1
from cavra_scheduler import domain
from cavra_scheduler import repository as repo
from cavra_scheduler.store import Context, Rejected, record_drill, store_schedule

log = structlog.get_logger()

# Losing the database is not a problem of one entry: let it fail the start (and be retried).
_INFRASTRUCTURE_ERRORS = (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, OSError, TimeoutError)


def _fields(exc: ValidationError) -> list[str]:
    return [".".join(str(p) for p in e["loc"]) or "entry" for e in exc.errors()]


def _problems(exc: ValidationError) -> list[str]:
    return [f"{'.'.join(str(p) for p in e['loc']) or 'entry'}: {e['msg']}" for e in exc.errors()]


def _entry_id(item: object, key: str) -> str | None:
    value = item.get(key) if isinstance(item, dict) else None
    return value[:128] if isinstance(value, str) else None


async def load_files(
    pool: asyncpg.Pool, ctx: Context, *, schedule_path: str, history_path: str
) -> dict[str, int]:
    """Store what the files hold; unchanged items are skipped, bad items are logged and skipped."""
    counts = {"schedules": 0, "drills": 0, "rejected": 0}
    async with pool.acquire() as conn, conn.transaction():
        await repo.lock_file_loading(conn)
        # Schedules first: a drill in the history file may name one of them.
        if schedule_path:
            await _load_schedules(conn, ctx, schedule_path, counts)
        if history_path:
            await _load_history(conn, ctx, history_path, counts)
    log.info("files.loaded", **counts)
    return counts


async def _load_schedules(conn: asyncpg.Connection, ctx: Context, path: str, counts: dict[str, int]) -> None:
    loaded = domain.load_json_document(path, allow_list=True)
    if loaded.problem:
        log.warning("schedule_file.unusable", path=path, problem=loaded.problem)
        return
    items: list[Any] = loaded.document if isinstance(loaded.document, list) else [loaded.document]
    if len(items) > MAX_SCHEDULES_PER_FILE:
        counts["rejected"] += len(items)
        log.error(
            "schedule_file.invalid",
            path=path,
            fields=["entries"],
            problems=[
                f"entries: {len(items)} schedules; a schedule file holds at most {MAX_SCHEDULES_PER_FILE}"
            ],
        )
        return
    for index, item in enumerate(items):
        schedule_id = _entry_id(item, "schedule_id")
        try:
            schedule = RollbackDrillScheduleV1.model_validate(item)
        except ValidationError as exc:
            counts["rejected"] += 1
            log.error(
                "schedule_file.entry_rejected",
                path=path,
                index=index,
                schedule_id=schedule_id,
                fields=_fields(exc),
                problems=_problems(exc),
            )
            continue
        store = partial(
            store_schedule, conn, schedule, ctx, source=f"file:{path}", requested_by="file", cause=None
        )
        applied = await _apply(
            conn, store, file="schedule_file", path=path, index=index, entry_id=schedule_id
        )
        _count(counts, "schedules", applied)


async def _load_history(conn: asyncpg.Connection, ctx: Context, path: str, counts: dict[str, int]) -> None:
    loaded = domain.load_json_document(path)
    document = loaded.as_object()
    if loaded.problem or document is None:
        log.warning("history_file.unusable", path=path, problem=loaded.problem)
        return
    try:
        RollbackDrillHistoryV1.model_validate(document)
    except ValidationError as exc:
        whole_file = [e for e in exc.errors() if not _is_drill_entry(e["loc"])]
        if whole_file:
            counts["rejected"] += 1
            problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in whole_file]
            fields = [".".join(str(p) for p in e["loc"]) for e in whole_file]
            log.error("history_file.invalid", path=path, fields=fields, problems=problems)
            return
    environment = str(document.get("environment") or "")
    for index, item in enumerate(document["drills"]):
        drill_id = _entry_id(item, "drill_id")
        try:
            drill = DrillRunV1.model_validate(item)
        except ValidationError as exc:
            counts["rejected"] += 1
            log.error(
                "history_file.entry_rejected",
                path=path,
                index=index,
                drill_id=drill_id,
                fields=_fields(exc),
                problems=_problems(exc),
            )
            continue
        record = partial(
            record_drill,
            conn,
            drill,
            ctx,
            environment=environment,
            source=f"file:{path}",
            requested_by="file",
            cause=None,
            default_to_first_schedule=False,
        )
        applied = await _apply(conn, record, file="history_file", path=path, index=index, entry_id=drill_id)
        _count(counts, "drills", applied)


def _is_drill_entry(loc: tuple[int | str, ...]) -> bool:
    return len(loc) >= 2 and loc[0] == "drills" and isinstance(loc[1], int)


class _Outcome(enum.Enum):
    STORED = "stored"
    UNCHANGED = "unchanged"
    REJECTED = "rejected"


def _count(counts: dict[str, int], stored_key: str, outcome: _Outcome) -> None:
    if outcome is _Outcome.STORED:
        counts[stored_key] += 1
    elif outcome is _Outcome.REJECTED:
        counts["rejected"] += 1


async def _apply(
    conn: asyncpg.Connection,
    apply: Callable[[], Awaitable[object | None]],
    *,
    file: str,
    path: str,
    index: int,
    entry_id: str | None,
) -> _Outcome:
    """Apply one entry in a savepoint (``apply`` returns None when nothing changed); log a rejection."""
    id_key = "schedule_id" if file == "schedule_file" else "drill_id"
    try:
        async with conn.transaction():  # a savepoint: one bad entry does not undo the others
            result = await apply()
    except Rejected as exc:
        log.error(
            f"{file}.entry_rejected",
            path=path,
            index=index,
            **{id_key: entry_id},
            fields=[p.field for p in exc.problems],
            problems=[f"{p.field}: {p.message}" for p in exc.problems],
        )
        return _Outcome.REJECTED
    except _INFRASTRUCTURE_ERRORS:
        raise
    except Exception as exc:  # a bug must not keep the scheduler from starting; the entry is named
        log.exception(
            f"{file}.entry_failed",
            path=path,
            index=index,
            **{id_key: entry_id},
            error_class=type(exc).__name__,
        )
        return _Outcome.REJECTED
    return _Outcome.UNCHANGED if result is None else _Outcome.STORED
