"""All SQL of governed execution (``$n`` parameters only): retry acknowledgements, approval plans and
their rows, approval requests."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from cavra_delivery.retries.repository import DECISION_COLUMNS, DECISION_JOIN, with_digest


async def insert_ack(conn: asyncpg.Connection, ack: Mapping[str, Any]) -> bool:
    inserted = await conn.fetchval(
        """INSERT INTO retry_acks (acknowledgement_id, family, retry_plan_id, origin_job_id, provider, digest,
               acknowledgement_state, acknowledged_by, acknowledged_at, document)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::text::jsonb)
           ON CONFLICT (acknowledgement_id) DO NOTHING RETURNING 1""",
        ack["acknowledgement_id"],
        ack["family"],
        ack["retry_plan_id"],
        ack["origin_job_id"],
        ack["provider"],
        ack["digest"],
        ack["acknowledgement_state"],
        ack["acknowledged_by"],
        ack["acknowledged_at"],
        json.dumps(ack["document"]),
    )
    return inserted is not None


async def acknowledgers(conn: asyncpg.Connection, family: str, origin_job_id: str, provider: str) -> set[str]:
    """Everyone who acknowledged a retry of this failed delivery and provider (whatever the state)."""
    rows = await conn.fetch(
        """SELECT DISTINCT acknowledged_by FROM retry_acks
           WHERE family = $1 AND origin_job_id = $2 AND provider = $3""",
        family,
        origin_job_id,
        provider,
    )
    return {row["acknowledged_by"] for row in rows}


async def latest_decisions(conn: asyncpg.Connection, family: str, limit: int) -> list[dict[str, Any]]:
    """The latest decision per (origin job, provider) over the family's retry plans, when it is a
    ``retry`` or a ``wait`` (a suppressed chain cannot be approved), oldest keys first."""
    rows = await conn.fetch(
        f"""SELECT * FROM (
                    SELECT DISTINCT ON (d.origin_job_id, d.provider) {DECISION_COLUMNS}, p.generated_at
                    FROM retry_decisions d JOIN retry_plans p ON p.retry_plan_id = d.retry_plan_id
                    {DECISION_JOIN}
                    WHERE d.family = $1
                    ORDER BY d.origin_job_id, d.provider, p.generated_at DESC, d.retry_plan_id DESC
                ) latest WHERE action IN ('retry', 'wait')
                ORDER BY latest_delivery_at, origin_job_id, provider LIMIT $2""",
        family,
        limit,
    )
    return [with_digest(row) for row in rows]


async def acks_for(conn: asyncpg.Connection, family: str) -> dict[tuple[str, str], asyncpg.Record]:
    """The latest acknowledgement of every (origin job, provider) of the family."""
    rows = await conn.fetch(
        """SELECT DISTINCT ON (origin_job_id, provider) origin_job_id, provider, acknowledgement_state,
                  acknowledged_by, digest
           FROM retry_acks WHERE family = $1
           ORDER BY origin_job_id, provider, acknowledged_at DESC, acknowledgement_id""",
        family,
    )
    return {(row["origin_job_id"], row["provider"]): row for row in rows}


async def approved_digests(conn: asyncpg.Connection, family: str, now: datetime) -> set[str]:
    """Digests with an approval that may still be executed."""
    rows = await conn.fetch(
        "SELECT digest FROM approvals WHERE family = $1 AND state = 'approved' AND execute_by >= $2",
        family,
        now,
    )
    return {row["digest"] for row in rows}


async def insert_plan(
    conn: asyncpg.Connection,
    plan: Mapping[str, Any],
    rows: Sequence[Mapping[str, Any]],
    approvals: Sequence[Mapping[str, Any]],
) -> bool:
    inserted = await conn.fetchval(
        """INSERT INTO approval_plans (approval_plan_id, family, generated_at, generated_by,
               require_retry_ack, document) VALUES ($1, $2, $3, $4, $5, $6::text::jsonb)
           ON CONFLICT (approval_plan_id) DO NOTHING RETURNING 1""",
        plan["approval_plan_id"],
        plan["family"],
        plan["generated_at"],
        plan["generated_by"],
        plan["require_retry_ack"],
        json.dumps(plan["document"]),
    )
    if inserted is None:
        return False
    await conn.executemany(
        """INSERT INTO approval_plan_rows (approval_plan_id, ordinal, origin_job_id, provider, action, digest,
               approval_id, row) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::text::jsonb)""",
        [
            (
                plan["approval_plan_id"],
                ordinal,
                row["origin_job_id"],
                row["provider"],
                row["action"],
                row["digest"],
                row.get("approval_id"),
                json.dumps(row),
            )
            for ordinal, row in enumerate(rows, start=1)
        ],
    )
    await conn.executemany(
        """INSERT INTO approvals (approval_id, approval_plan_id, family, retry_plan_id, origin_job_id,
               provider, attempt, digest, state, requested_by, requested_at, decide_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, $10, $11)""",
        [
            (
                a["approval_id"],
                plan["approval_plan_id"],
                plan["family"],
                a["retry_plan_id"],
                a["origin_job_id"],
                a["provider"],
                a["attempt"],
                a["digest"],
                plan["generated_by"],
                plan["generated_at"],
                a["decide_by"],
            )
            for a in approvals
        ],
    )
    return True


async def approval_plan(conn: asyncpg.Connection, approval_plan_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT approval_plan_id, family, generated_at, generated_by, require_retry_ack, document "
        "FROM approval_plans WHERE approval_plan_id = $1",
        approval_plan_id,
    )


async def plan_row(
    conn: asyncpg.Connection, approval_plan_id: str, provider: str, origin_job_id: str
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT origin_job_id, provider, action, digest, approval_id, row FROM approval_plan_rows
           WHERE approval_plan_id = $1 AND provider = $2 AND ($3 = '' OR origin_job_id = $3)
           ORDER BY ordinal LIMIT 1""",
        approval_plan_id,
        provider,
        origin_job_id,
    )


APPROVAL_COLUMNS = (
    "approval_id, approval_plan_id, family, retry_plan_id, origin_job_id, provider, attempt, digest, state, "
    "requested_by, requested_at, decide_by, decision_id, decided_by, decided_at, execute_by, consumed_at, "
    "execution_id, external_ref"
)


async def lock_approval(conn: asyncpg.Connection, approval_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {APPROVAL_COLUMNS} FROM approvals WHERE approval_id = $1 FOR UPDATE", approval_id
    )


async def approved_for_key(
    conn: asyncpg.Connection, family: str, origin_job_id: str, provider: str
) -> asyncpg.Record | None:
    """The latest approved (unconsumed) approval of a key, locked."""
    return await conn.fetchrow(
        f"""SELECT {APPROVAL_COLUMNS} FROM approvals
            WHERE family = $1 AND origin_job_id = $2 AND provider = $3 AND state = 'approved'
            ORDER BY decided_at DESC LIMIT 1 FOR UPDATE""",
        family,
        origin_job_id,
        provider,
    )


async def decide(
    conn: asyncpg.Connection,
    approval_id: str,
    *,
    state: str,
    decision_id: str,
    decided_by: str,
    decided_at: datetime,
    execute_by: datetime | None,
    external_ref: str,
) -> None:
    await conn.execute(
        """UPDATE approvals SET state = $2, decision_id = $3, decided_by = $4, decided_at = $5,
               execute_by = $6, external_ref = $7 WHERE approval_id = $1""",
        approval_id,
        state,
        decision_id,
        decided_by,
        decided_at,
        execute_by,
        external_ref,
    )


async def expire(conn: asyncpg.Connection, approval_id: str) -> None:
    await conn.execute("UPDATE approvals SET state = 'expired' WHERE approval_id = $1", approval_id)


async def consume_many(conn: asyncpg.Connection, executions: Mapping[str, str], now: datetime) -> set[str]:
    """One-shot: mark approved approvals consumed by their execution (approval id -> execution id); the
    ids consumed now (an approval no longer ``approved`` is left as it is)."""
    rows = await conn.fetch(
        """UPDATE approvals AS a SET state = 'consumed', consumed_at = $3, execution_id = c.execution_id
           FROM unnest($1::text[], $2::text[]) AS c(approval_id, execution_id)
           WHERE a.approval_id = c.approval_id AND a.state = 'approved' RETURNING a.approval_id""",
        list(executions),
        list(executions.values()),
        now,
    )
    return {row["approval_id"] for row in rows}


async def expired_pending(conn: asyncpg.Connection, now: datetime, batch: int) -> list[asyncpg.Record]:
    """Approvals whose time ran out (to decide, or to execute), locked; other replicas skip them."""
    return list(
        await conn.fetch(
            f"""SELECT {APPROVAL_COLUMNS} FROM approvals
                WHERE (state IN ('pending', 'deferred') AND decide_by < $1)
                   OR (state = 'approved' AND execute_by < $1)
                ORDER BY requested_at LIMIT $2 FOR UPDATE SKIP LOCKED""",
            now,
            batch,
        )
    )


async def approvals(
    conn: asyncpg.Connection,
    state: str | None,
    family: str | None,
    limit: int,
    offset: int,
    approval_id: str = "",
) -> tuple[list[asyncpg.Record], int]:
    where = (
        "($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR family = $2) "
        "AND ($3::text = '' OR approval_id = $3)"
    )
    # Who acknowledged each retry: separation of duties refuses them as its approvers, and the console
    # offers Approve only to the others.
    rows = await conn.fetch(
        f"""SELECT {APPROVAL_COLUMNS},
                   ARRAY(SELECT DISTINCT k.acknowledged_by FROM retry_acks k
                         WHERE k.family = a.family AND k.origin_job_id = a.origin_job_id
                           AND k.provider = a.provider ORDER BY 1) AS acknowledged_by_all
            FROM approvals a WHERE {where} ORDER BY requested_at DESC, approval_id
            LIMIT $4 OFFSET $5""",
        state,
        family,
        approval_id,
        limit,
        offset,
    )
    total = await conn.fetchval(f"SELECT count(*) FROM approvals WHERE {where}", state, family, approval_id)
    return list(rows), int(total)
