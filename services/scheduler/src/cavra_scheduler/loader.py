"""Load the schedule and history files named in the environment, idempotently, at start."""

from __future__ import annotations

from typing import Any

import asyncpg
import structlog
from pydantic import ValidationError

from cavra_contracts.schedules import RollbackDrillHistoryV1, RollbackDrillScheduleV1
from cavra_scheduler import domain
from cavra_scheduler import repository as repo
from cavra_scheduler.store import Context, Rejected, record_drill, store_schedule

log = structlog.get_logger()


def _problems(exc: ValidationError) -> list[str]:
    return [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]


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


async def _load_history(conn: asyncpg.Connection, ctx: Context, path: str, counts: dict[str, int]) -> None:
    loaded = domain.load_json_document(path)
    if loaded.problem or not isinstance(loaded.document, dict):
        log.warning("history_file.unusable", path=path, problem=loaded.problem)
        return
    try:
        history = RollbackDrillHistoryV1.model_validate(loaded.document)
    except ValidationError as exc:
        counts["rejected"] += 1
        log.error("history_file.invalid", path=path, problems=_problems(exc))
        return
    for drill in history.drills:
        try:
            async with conn.transaction():  # a savepoint: one bad drill does not undo the others
                recorded = await record_drill(
                    conn,
                    drill,
                    ctx,
                    environment=history.environment,
                    source=f"file:{path}",
                    requested_by="file",
                    cause=None,
                    default_to_first_schedule=False,
                )
        except Rejected as exc:
            counts["rejected"] += 1
            log.error("history_file.drill_rejected", path=path, drill_id=drill.drill_id, problem=str(exc))
            continue
        counts["drills"] += recorded is not None


async def _load_schedules(conn: asyncpg.Connection, ctx: Context, path: str, counts: dict[str, int]) -> None:
    loaded = domain.load_json_document(path, allow_list=True)
    if loaded.problem:
        log.warning("schedule_file.unusable", path=path, problem=loaded.problem)
        return
    items: list[Any] = loaded.document if isinstance(loaded.document, list) else [loaded.document]
    for index, item in enumerate(items):
        try:
            schedule = RollbackDrillScheduleV1.model_validate(item)
        except ValidationError as exc:
            counts["rejected"] += 1
            log.error("schedule_file.invalid", path=path, index=index, problems=_problems(exc))
            continue
        state = await store_schedule(
            conn, schedule, ctx, source=f"file:{path}", requested_by="file", cause=None
        )
        counts["schedules"] += state is not None
