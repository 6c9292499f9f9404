"""SQL of executive reports: stored reports and runs, and the cadence (``$1`` parameters only).

The tables are in schema ``reporting_executive`` (a record, not a read model: a rebuild of the read
models drops the ``reporting`` schema and leaves this one alone).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from cavra_contracts.evidence import EvidenceRecordV1

INSERT_REPORT = """
INSERT INTO reporting_executive.executive_reports (executive_report_id, generated_at, alert_level, record)
VALUES ($1, $2, $3, $4) ON CONFLICT (executive_report_id) DO NOTHING
"""
INSERT_RUN = """
INSERT INTO reporting_executive.executive_runs
    (run_id, executive_report_id, trigger, window_start, window_end, generated_at, alert_level, record)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (run_id) DO NOTHING
"""
RUN_SQL = """
SELECT r.record AS run_record, p.record AS report_record FROM reporting_executive.executive_runs r
JOIN reporting_executive.executive_reports p USING (executive_report_id) WHERE r.run_id = $1
"""
LATEST_RUN_SQL = """
SELECT r.record AS run_record, p.record AS report_record FROM reporting_executive.executive_runs r
JOIN reporting_executive.executive_reports p USING (executive_report_id)
ORDER BY r.generated_at DESC, r.seq DESC LIMIT 1
"""
RUNS_PAGE_SQL = """
SELECT record FROM reporting_executive.executive_runs ORDER BY generated_at DESC, seq DESC LIMIT $1 OFFSET $2
"""
UPSERT_SCHEDULE = """
INSERT INTO reporting_executive.executive_schedule (id, interval_minutes, cadence, time_zone, at_local_time,
    recovery_slo_minutes, providers, enabled, due_at, defined_by_run, defined_by, updated_at)
VALUES (true, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
ON CONFLICT (id) DO UPDATE SET interval_minutes = $1, cadence = $2, time_zone = $3, at_local_time = $4,
    recovery_slo_minutes = $5, providers = $6, enabled = $7, due_at = $8, defined_by_run = $9,
    defined_by = $10, updated_at = $11, last_problem = NULL
"""
DUE_SQL = "SELECT * FROM reporting_executive.executive_schedule WHERE enabled AND due_at <= $1"
LOCK_DUE_SQL = """
SELECT * FROM reporting_executive.executive_schedule WHERE enabled AND due_at = $1 FOR UPDATE SKIP LOCKED
"""
SCHEDULE_RAN = """
UPDATE reporting_executive.executive_schedule
SET due_at = $1, run_count = run_count + 1, last_run_id = $2, last_problem = $3 WHERE id
"""
SCHEDULE_SQL = "SELECT * FROM reporting_executive.executive_schedule"


async def insert_report(conn: asyncpg.Connection, record: EvidenceRecordV1) -> None:
    await conn.execute(
        INSERT_REPORT,
        record.session_id,
        record.created_at,
        record.alert_level,
        record.model_dump(mode="json"),
    )


async def insert_run(
    conn: asyncpg.Connection,
    record: EvidenceRecordV1,
    *,
    executive_report_id: str,
    trigger: str,
    window_start: datetime,
    window_end: datetime,
) -> bool:
    """Store a run; False when a run with its id is stored already (the same window or command)."""
    status: str = await conn.execute(
        INSERT_RUN,
        record.session_id,
        executive_report_id,
        trigger,
        window_start,
        window_end,
        record.created_at,
        record.alert_level,
        record.model_dump(mode="json"),
    )
    return status.endswith(" 1")


def _records(row: asyncpg.Record | None) -> tuple[EvidenceRecordV1, EvidenceRecordV1] | None:
    if row is None:
        return None
    return (
        EvidenceRecordV1.model_validate(row["run_record"]),
        EvidenceRecordV1.model_validate(row["report_record"]),
    )


async def run(conn: asyncpg.Connection, run_id: str) -> tuple[EvidenceRecordV1, EvidenceRecordV1] | None:
    """A stored run's record and its report's record (``latest``: the newest run)."""
    if run_id == "latest":
        return _records(await conn.fetchrow(LATEST_RUN_SQL))
    return _records(await conn.fetchrow(RUN_SQL, run_id))


async def runs_page(conn: asyncpg.Connection, limit: int, offset: int) -> tuple[list[EvidenceRecordV1], int]:
    rows = await conn.fetch(RUNS_PAGE_SQL, limit, offset)
    total: int = await conn.fetchval("SELECT count(*) FROM reporting_executive.executive_runs")
    return [EvidenceRecordV1.model_validate(row["record"]) for row in rows], total


async def define_schedule(conn: asyncpg.Connection, values: dict[str, Any]) -> None:
    await conn.execute(
        UPSERT_SCHEDULE,
        values["interval_minutes"],
        values["cadence"],
        values["time_zone"],
        values["at_local_time"],
        values["recovery_slo_minutes"],
        values["providers"],
        values["enabled"],
        values["due_at"],
        values["defined_by_run"],
        values["defined_by"],
        values["updated_at"],
    )


async def due_schedule(conn: asyncpg.Connection, now: datetime) -> asyncpg.Record | None:
    """The cadence when it is due (no lock: the recovery source is asked before any lock is taken)."""
    return await conn.fetchrow(DUE_SQL, now)


async def lock_due(conn: asyncpg.Connection, due_at: datetime) -> asyncpg.Record | None:
    """The cadence still due at ``due_at``, locked; None when another replica has it or ran it."""
    return await conn.fetchrow(LOCK_DUE_SQL, due_at)


async def schedule_ran(
    conn: asyncpg.Connection, *, due_at: datetime, run_id: str, problem: str | None
) -> None:
    await conn.execute(SCHEDULE_RAN, due_at, run_id, problem)


async def schedule(conn: asyncpg.Connection) -> dict[str, Any] | None:
    row = await conn.fetchrow(SCHEDULE_SQL)
    if row is None:
        return None
    values = dict(row)
    values.pop("id")
    return {key: value.isoformat() if isinstance(value, datetime) else value for key, value in values.items()}
