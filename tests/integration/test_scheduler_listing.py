"""The schedule list in one statement: the same page the list query answers, without a query per schedule.

``repository.list_schedules_with_drills`` + ``evaluation.schedule_list`` replace, in the
``list_schedules`` query handler, ``count_schedules`` + ``list_schedules`` + one ``drills_for``
per schedule (N + 2 statements).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg

from cavra_runtime.db import create_pool
from cavra_scheduler import repository as repo
from cavra_scheduler.evaluation import EvaluationConfig, schedule_list
from tests.support.harness import FakeClock, gateway_client, running_service

BASE = "/runtime/go-pilot"
CONFIG = EvaluationConfig(
    mode="disabled", schedule_path="", history_path="", due_soon_days=14.0, max_age_days=90.0
)


def schedule(**changes: Any) -> dict[str, Any]:
    return {
        "schema_version": "cavra.go-backend-rollback-drill-schedule.v1",
        "interval_days": 30,
        "next_due_at": "2026-11-20T00:00:00Z",
        "owners": ["release-governance"],
        "notification_providers": ["slack"],
        "runbook_ref": "docs/runbook.md",
    } | changes


def drill(drill_id: str, executed_at: str, schedule_id: str | None) -> dict[str, Any]:
    body = {
        "drill_id": drill_id,
        "executed_at": executed_at,
        "status": "pass",
        "target_mode": "disabled",
        "fallback_verified": True,
        "recovery_minutes": 7,
        "max_recovery_minutes": 15,
        "runbook_ref": "docs/runbook.md",
        "evidence_refs": ["ci://fallback"],
    }
    return body | ({"schedule_id": schedule_id} if schedule_id else {})


async def test_one_statement_lists_a_page_of_schedules_with_their_drills(
    nats_url: str, database_url: str
) -> None:
    clock = FakeClock()
    async with (
        running_service("scheduler", nats_url, database_url, clock=clock),
        gateway_client(nats_url, database_url, services=("scheduler",)) as api,
    ):
        for name in ("alpha", "beta", "gamma", "delta"):
            assert (
                await api.put(f"{BASE}/rollback-drill-schedules/{name}", json=schedule())
            ).status_code == 201
        recorded = [
            drill("d-alpha", "2026-10-01T00:00:00Z", None),  # no schedule_id: the first schedule's
            drill("d-beta-2", "2026-10-20T00:00:00Z", "beta"),
            drill("d-beta-1", "2026-10-10T00:00:00Z", "beta"),
            drill("d-gamma", "2026-10-15T00:00:00Z", "gamma"),
        ]
        for body in recorded:
            response = await api.post(
                f"{BASE}/rollback-drills", json=body | {"environment": body["drill_id"]}
            )
            assert response.status_code == 201, response.text
        conn = await asyncpg.connect(database_url)
        try:  # a shared drill (no schedule): counts for every schedule
            await conn.execute(
                """INSERT INTO scheduler.drill_runs (drill_id, schedule_id, environment, executed_at, status,
                                                     document, source)
                   VALUES ('d-shared', NULL, 'shared', '2026-10-12T00:00:00Z', 'pass', $1::jsonb, 'f')""",
                json.dumps(drill("d-shared", "2026-10-12T00:00:00Z", None)),
            )
        finally:
            await conn.close()
        answered = (
            await api.get(f"{BASE}/rollback-drill-schedules", params={"limit": 3, "offset": 1})
        ).json()

    pool = await create_pool(database_url, schema="scheduler", application="test")
    try:
        async with pool.acquire() as conn:
            statements: list[str] = []
            conn.add_query_logger(lambda query: statements.append(query.query))
            page, total = await repo.list_schedules_with_drills(conn, 3, 1)
            await asyncio.sleep(0)  # asyncpg calls query loggers soon, not at once
            assert len(statements) == 1, statements
            assert total == 4 and [item.stored.schedule_id for item in page] == ["beta", "delta", "gamma"]
            for item in page:
                assert (item.drills, item.environment) == await repo.drills_for(conn, item.stored.schedule_id)
            assert [[d["drill_id"] for d in item.drills] for item in page] == [
                ["d-beta-1", "d-shared", "d-beta-2"],
                ["d-shared"],
                ["d-shared", "d-gamma"],
            ]
            assert [item.environment for item in page] == ["d-beta-2", "shared", "d-gamma"]

            listing = schedule_list(page, total=total, limit=3, offset=1, config=CONFIG, now=clock())
            assert listing.model_dump(mode="json") == answered, "the same answer as the list query"

            await asyncio.sleep(0)
            statements.clear()
            empty, total = await repo.list_schedules_with_drills(conn, 10, 50)
            await asyncio.sleep(0)
            assert (empty, total, len(statements)) == ([], 4, 1)
    finally:
        await pool.close()

    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("TRUNCATE scheduler.drill_runs, scheduler.schedules")
    finally:
        await conn.close()
    pool = await create_pool(database_url, schema="scheduler", application="test")
    try:
        async with pool.acquire() as conn:
            assert await repo.list_schedules_with_drills(conn, 10, 0) == ([], 0)
    finally:
        await pool.close()
