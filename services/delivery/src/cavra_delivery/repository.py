"""All SQL of the delivery service (``$n`` parameters only). Tables live in the ``delivery`` schema."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import asyncpg
import pydantic_core

from cavra_delivery.connectors.quarantine import QuarantineState
from cavra_delivery.connectors.redaction import scrub
from cavra_delivery.evidence import RouteOutcome

if TYPE_CHECKING:
    from cavra_delivery.jobs import Job

DELIVERY_COLUMNS = (
    "delivery_id, job_id, source, plan_id, route_id, route_key, schedule_id, provider, owner, connector, "
    "connector_type, target_host, status, attempt_count, status_code, external_ref, deduplicated, attempts, "
    "completed_at"
)


async def store_job(
    conn: asyncpg.Connection, job: Job, now: datetime, pattern: re.Pattern[str] | None
) -> None:
    """Keep the job's message (once: a redelivered job keeps its first row), with any secret inside its
    chosen strings redacted like its evidence (``pattern``: the pipeline's secret pattern)."""
    stored = job.stored
    assert stored is not None
    message, _ = scrub(stored.message, pattern)
    ids, _ = scrub(dict(job.ids), pattern)
    await conn.execute(
        """INSERT INTO delivery_jobs (job_id, source, origin_job_id, attempt, message_type, message,
                                      payload_hash, ids, created_at)
           VALUES ($1, $2, $3, $4, $5, $6::text::jsonb, $7, $8::text::jsonb, $9)
           ON CONFLICT (job_id) DO NOTHING""",
        job.job_id,
        job.source,
        stored.origin_job_id,
        stored.attempt,
        stored.message_type,
        json.dumps(message, separators=(",", ":")),
        stored.payload_hash,
        json.dumps(ids, separators=(",", ":")),
        now,
    )


async def job(conn: asyncpg.Connection, job_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT job_id, source, origin_job_id, attempt, message_type, message, payload_hash, ids "
        "FROM delivery_jobs WHERE job_id = $1",
        job_id,
    )


async def final_outcomes(conn: asyncpg.Connection, job_id: str) -> list[asyncpg.Record]:
    """The job's targets whose outcome is final (a redelivered job sends only the others)."""
    return list(
        await conn.fetch(
            f"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE job_id = $1 AND status <> 'pending'", job_id
        )
    )


async def for_job(conn: asyncpg.Connection, job_id: str) -> list[asyncpg.Record]:
    """Every stored delivery of the job (a plan is its own job; also rows an older release left
    pending), by delivery id."""
    return list(
        await conn.fetch(
            f"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE job_id = $1 ORDER BY delivery_id", job_id
        )
    )


OUTCOME_STAGING = "delivery_outcome_staging"
OUTCOME_COLUMNS = (
    "delivery_id",
    "job_id",
    "source",
    "plan_id",
    "route_id",
    "route_key",
    "schedule_id",
    "provider",
    "owner",
    "connector",
    "connector_type",
    "target_host",
    "status",
    "attempts",
    "attempt_count",
    "status_code",
    "external_ref",
    "deduplicated",
    "completed_at",
)
_WRITE_OUTCOMES = f"""
INSERT INTO deliveries ({", ".join(OUTCOME_COLUMNS)})
SELECT {", ".join("attempts::jsonb" if c == "attempts" else c for c in OUTCOME_COLUMNS)}
FROM {OUTCOME_STAGING} ORDER BY delivery_id
ON CONFLICT (delivery_id) DO UPDATE SET
    route_id = EXCLUDED.route_id, owner = EXCLUDED.owner, schedule_id = EXCLUDED.schedule_id,
    status = EXCLUDED.status, attempts = EXCLUDED.attempts, attempt_count = EXCLUDED.attempt_count,
    status_code = EXCLUDED.status_code, external_ref = EXCLUDED.external_ref,
    deduplicated = EXCLUDED.deduplicated, completed_at = EXCLUDED.completed_at
WHERE deliveries.status = 'pending'
RETURNING delivery_id
"""


async def prepare_outcome_writes(conn: asyncpg.Connection) -> None:
    """Create this session's staging table for :func:`write_outcomes` (once per connection)."""
    await conn.execute(
        f"""CREATE TEMP TABLE IF NOT EXISTS {OUTCOME_STAGING} (
                delivery_id text, job_id text, source text, plan_id text, route_id text,
                route_key text, schedule_id text, provider text, owner text, connector text,
                connector_type text, target_host text,
                status text, attempts text, attempt_count integer, status_code integer,
                external_ref text, deduplicated boolean, completed_at timestamptz
            ) ON COMMIT DELETE ROWS"""
    )


async def write_outcomes(conn: asyncpg.Connection, outcomes: Sequence[RouteOutcome]) -> set[str]:
    """Store final outcomes in one statement (binary COPY into the session's staging table, then
    one INSERT ... SELECT). Inside a transaction, on a connection :func:`prepare_outcome_writes`
    prepared. A route that already has a final outcome keeps it; returns the ids written now."""
    await conn.copy_records_to_table(
        OUTCOME_STAGING,
        columns=OUTCOME_COLUMNS,
        records=[
            (
                o.delivery_id,
                o.job_id,
                o.source,
                o.plan_id,
                o.route_id,
                o.route_key,
                o.schedule_id,
                o.provider,
                o.owner,
                o.connector,
                o.connector_type,
                o.target_host,
                o.status,
                pydantic_core.to_json(o.attempts).decode(),
                len(o.attempts),
                o.status_code,
                o.external_ref,
                o.deduplicated,
                o.completed_at,
            )
            for o in outcomes
        ],
    )
    return {row[0] for row in await conn.fetch(_WRITE_OUTCOMES)}


async def outcomes_by_id(conn: asyncpg.Connection, delivery_ids: Sequence[str]) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            f"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE delivery_id = ANY($1::text[])", delivery_ids
        )
    )


async def lock_health(conn: asyncpg.Connection, connector: str) -> QuarantineState:
    """The connector's breaker state, locked for this transaction (created on first use)."""
    await conn.execute(
        "INSERT INTO connector_health (connector) VALUES ($1) ON CONFLICT (connector) DO NOTHING", connector
    )
    row = await conn.fetchrow(
        """SELECT consecutive_failures, quarantined_until, last_success_at, last_failure_at
           FROM connector_health WHERE connector = $1 FOR UPDATE""",
        connector,
    )
    return QuarantineState(connector=connector, **dict(row))


async def save_health(conn: asyncpg.Connection, state: QuarantineState) -> None:
    await conn.execute(
        """UPDATE connector_health SET consecutive_failures = $2, quarantined_until = $3,
                  last_success_at = $4, last_failure_at = $5
           WHERE connector = $1""",
        state.connector,
        state.consecutive_failures,
        state.quarantined_until,
        state.last_success_at,
        state.last_failure_at,
    )


_HEALTH_COLUMNS = "connector, consecutive_failures, quarantined_until, last_success_at, last_failure_at"
_LOCK_HEALTH_MANY = (
    f"SELECT {_HEALTH_COLUMNS} FROM connector_health WHERE connector = ANY($1::text[]) "
    "ORDER BY connector FOR UPDATE"
)


async def lock_health_many(conn: asyncpg.Connection, connectors: Sequence[str]) -> dict[str, QuarantineState]:
    """Breaker states of ``connectors``, locked for this transaction in name order (replicas never
    deadlock on them), rows created on first use."""
    wanted = sorted(set(connectors))
    rows = await conn.fetch(_LOCK_HEALTH_MANY, wanted)
    if len(rows) < len(wanted):
        await conn.execute(
            "INSERT INTO connector_health (connector) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING",
            wanted,
        )
        rows = await conn.fetch(_LOCK_HEALTH_MANY, wanted)
    return {row["connector"]: QuarantineState(**dict(row)) for row in rows}


async def save_health_many(conn: asyncpg.Connection, states: Sequence[QuarantineState]) -> None:
    await conn.execute(
        """UPDATE connector_health AS h SET consecutive_failures = s.failures, quarantined_until = s.until,
                  last_success_at = s.ok_at, last_failure_at = s.failed_at
           FROM unnest($1::text[], $2::integer[], $3::timestamptz[], $4::timestamptz[], $5::timestamptz[])
                AS s(connector, failures, until, ok_at, failed_at)
           WHERE h.connector = s.connector""",
        [s.connector for s in states],
        [s.consecutive_failures for s in states],
        [s.quarantined_until for s in states],
        [s.last_success_at for s in states],
        [s.last_failure_at for s in states],
    )


async def all_health(conn: asyncpg.Connection) -> dict[str, QuarantineState]:
    rows = await conn.fetch(
        "SELECT connector, consecutive_failures, quarantined_until, last_success_at, last_failure_at "
        "FROM connector_health"
    )
    return {row["connector"]: QuarantineState(**dict(row)) for row in rows}


async def insert_record(
    conn: asyncpg.Connection,
    job_id: str,
    plan_id: str | None,
    record: dict[str, Any],
    text: str,
    created_at: datetime,
) -> bool:
    """Store the job's delivery record once (``text``: the record as JSON); True when it is new.
    ``plan_id``: the plan when the job is a plan's, else ``None``."""
    inserted = await conn.fetchval(
        """INSERT INTO delivery_records (record_id, job_id, plan_id, source, success, document, created_at)
           VALUES ($1, $2, $3, $4, $5, $6::text::jsonb, $7) ON CONFLICT (job_id) DO NOTHING RETURNING 1""",
        record["record_id"],
        job_id,
        plan_id,
        record["connector_delivery_source"],
        record["delivery_success"],
        text,
        created_at,
    )
    return inserted is not None


async def record_for_job(conn: asyncpg.Connection, job_id: str) -> dict[str, Any] | None:
    value = await conn.fetchval("SELECT document FROM delivery_records WHERE job_id = $1", job_id)
    return dict(value) if value is not None else None


async def insert_redaction_alarm(
    conn: asyncpg.Connection, job_id: str, record_id: str, places: Sequence[str], created_at: datetime
) -> None:
    await conn.execute(
        """INSERT INTO redaction_alarms (plan_id, record_id, places, created_at) VALUES ($1, $2, $3, $4)
           ON CONFLICT (plan_id) DO NOTHING""",
        job_id,
        record_id,
        list(places),
        created_at,
    )


async def redaction_alarms(conn: asyncpg.Connection) -> dict[str, Any]:
    """How many jobs needed a redaction in their evidence, and the latest one (``last_plan_id``:
    its job id, a plan's id for a plan)."""
    row = await conn.fetchrow(
        """SELECT (SELECT count(*) FROM redaction_alarms) AS count, plan_id, created_at
           FROM (SELECT 1) AS one LEFT JOIN LATERAL (
               SELECT plan_id, created_at FROM redaction_alarms ORDER BY created_at DESC LIMIT 1
           ) AS latest ON true"""
    )
    return {
        "count": int(row["count"]),
        "last_plan_id": row["plan_id"],
        "last_at": row["created_at"].isoformat() if row["created_at"] else None,
    }
