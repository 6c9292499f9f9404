"""All SQL of the router (``$n`` parameters only). Tables live in the ``router`` schema."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from cavra_contracts.sorting import ROUTE_HISTORY_DEFAULT_SORT, split

ROW_COLUMNS = (
    "route_id, plan_id, schedule_id, alert_level, provider, owner, escalation_owner, action, category, "
    "reason, acknowledgement_minutes, maintenance_window_id, maintenance_window_reason, owner_available, "
    "owner_availability_reason, next_due_at, created_at"
)


async def claim_auto_plan(
    conn: asyncpg.Connection, schedule_id: str, status: str, next_due_at: str, plan_id: str
) -> bool:
    """True when no automatic plan exists yet for this schedule, readiness and due date."""
    inserted = await conn.fetchval(
        """INSERT INTO auto_plans (schedule_id, status, next_due_at, plan_id) VALUES ($1, $2, $3, $4)
           ON CONFLICT DO NOTHING RETURNING 1""",
        schedule_id,
        status,
        next_due_at,
        plan_id,
    )
    return inserted is not None


async def insert_plan(
    conn: asyncpg.Connection,
    plan: dict[str, Any],
    event: dict[str, Any],
    *,
    trigger: str,
    generated_at: datetime,
    rows: Sequence[dict[str, Any]],
) -> None:
    """Store a plan and all its route decisions (one batched insert)."""
    await conn.execute(
        """INSERT INTO plans (plan_id, schedule_id, status, alert_level, trigger, generated_by, generated_at,
                              document, event)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
        plan["plan_id"],
        plan["schedule_id"],
        plan["status"],
        plan["alert_level"],
        trigger,
        plan["generated_by"],
        generated_at,
        plan,
        event,
    )
    columns = [
        [row[name] for row in rows]
        for name in (
            "route_key",
            "route_id",
            "owner",
            "escalation_owner",
            "provider",
            "action",
            "category",
            "reason",
            "acknowledgement_minutes",
            "owner_available",
            "owner_availability_reason",
        )
    ]
    windows = [
        [row[name] or None for row in rows] for name in ("maintenance_window_id", "maintenance_window_reason")
    ]
    # One statement for every route of the plan (unnest), not one per route.
    await conn.execute(
        """INSERT INTO route_decisions (plan_id, schedule_id, alert_level, next_due_at, created_at, route_key,
               route_id, owner, escalation_owner, provider, action, category, reason, acknowledgement_minutes,
               owner_available, owner_availability_reason, maintenance_window_id, maintenance_window_reason)
           SELECT $1, $2, $3, $4, $5, d.*
           FROM unnest($6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[],
                       $12::text[], $13::text[], $14::integer[], $15::boolean[], $16::text[], $17::text[],
                       $18::text[]) AS d""",
        plan["plan_id"],
        plan["schedule_id"],
        plan["alert_level"],
        plan["next_due_at"],
        generated_at,
        *columns,
        *windows,
    )


async def get_plan(conn: asyncpg.Connection, plan_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT document, trigger, generated_at, generated_by FROM plans WHERE plan_id = $1", plan_id
    )


def like_literal(text: str) -> str:
    """``text`` as a LIKE pattern that matches exactly itself (``\\`` is the escape character)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _filters(filters: dict[str, str], *, suppressed_only: bool = False) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for column in ("schedule_id", "provider", "action", "category"):
        if filters.get(column):
            params.append(filters[column])
            clauses.append(f"{column} = ${len(params)}")
    if filters.get("owner"):
        # A case-insensitive substring (spec 3.7): the filter's own % _ \ are literal characters.
        params.append(f"%{like_literal(filters['owner'].lower())}%")
        n = len(params)
        clauses.append(
            f"(lower(owner) LIKE ${n} ESCAPE '\\' OR lower(escalation_owner) LIKE ${n} ESCAPE '\\')"
        )
    if suppressed_only:
        clauses.append("action = 'suppress'")
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


HISTORY_SORT_COLUMNS = {
    "generated": "",
    "owner": "owner",
    "provider": "provider",
    "action": "action",
    "category": "category",
}
"""A route history sort's column (``generated`` is the position ``created_at, route_id`` alone)."""


def route_history_order(sort: str) -> str:
    """ORDER BY of a sort: ``column ASC`` then newest first, route id; ``-x`` is the exact reverse of
    ``x`` (one index ``(column, created_at DESC, route_id)`` walks both ways)."""
    name, descending = split(sort, ROUTE_HISTORY_DEFAULT_SORT)
    column = HISTORY_SORT_COLUMNS[name]
    position = [("created_at", "DESC"), ("route_id", "ASC")]
    terms = [(column, "ASC"), *position] if column else [("created_at", "ASC"), ("route_id", "DESC")]
    if descending:
        terms = [(term, "DESC" if way == "ASC" else "ASC") for term, way in terms]
    return ", ".join(f"{term} {way}" for term, way in terms)


async def route_history(
    conn: asyncpg.Connection,
    filters: dict[str, str],
    limit: int,
    offset: int,
    sort: str = "",
    *,
    with_total: bool = True,
) -> tuple[list[asyncpg.Record], int | None, bool]:
    """A page in ``sort`` order, how many rows match (None unless ``with_total``), and whether more
    follow (one row past the page: no count needed)."""
    where, params = _filters(filters)
    total = (
        await conn.fetchval(f"SELECT count(*) FROM route_decisions{where}", *params) if with_total else None
    )
    rows = await conn.fetch(
        f"SELECT {ROW_COLUMNS} FROM route_decisions{where} ORDER BY {route_history_order(sort)} "
        f"LIMIT ${len(params) + 1} OFFSET ${len(params) + 2}",
        *params,
        limit + 1,
        offset,
    )
    return rows[:limit], None if total is None else int(total), len(rows) > limit


SUPPRESSION_DIMENSIONS = {0b0111: "category", 0b1011: "owner", 0b1101: "provider", 0b1110: "schedule_id"}
"""GROUPING(category, owner, provider, schedule_id) of each grouping set -> the column it counts by."""


async def suppression_counts(
    conn: asyncpg.Connection, filters: dict[str, str]
) -> tuple[dict[str, dict[str, int]], list[asyncpg.Record]]:
    """Suppressed routes counted by category, owner, provider and schedule, plus the latest 20."""
    where, params = _filters(filters, suppressed_only=True)
    # One scan for the four counts (GROUPING says which set a row belongs to: its bit is 0).
    rows = await conn.fetch(
        f"""SELECT category, owner, provider, schedule_id,
                   GROUPING(category, owner, provider, schedule_id) AS grouped, count(*) AS n
            FROM route_decisions{where}
            GROUP BY GROUPING SETS ((category), (owner), (provider), (schedule_id))""",
        *params,
    )
    counts: dict[str, dict[str, int]] = {column: {} for column in SUPPRESSION_DIMENSIONS.values()}
    for row in rows:
        column = SUPPRESSION_DIMENSIONS[row["grouped"]]
        counts[column][row[column]] = int(row["n"])
    counts = {column: dict(sorted(found.items())) for column, found in counts.items()}
    latest = await conn.fetch(
        f"SELECT {ROW_COLUMNS} FROM route_decisions{where} ORDER BY created_at DESC, route_id LIMIT 20",
        *params,
    )
    return counts, latest


async def store_trend(conn: asyncpg.Connection, trend: dict[str, Any], created_at: datetime) -> bool:
    """Store a trend unless the same content is stored already; True when new."""
    inserted = await conn.fetchval(
        """INSERT INTO suppression_trends (trend_id, generated_by, document, created_at)
           VALUES ($1, $2, $3, $4)
           ON CONFLICT (trend_id) DO NOTHING RETURNING 1""",
        trend["trend_id"],
        trend["generated_by"],
        trend,
        created_at,
    )
    return inserted is not None


async def stored_trend_created_at(conn: asyncpg.Connection, trend_id: str) -> datetime | None:
    value = await conn.fetchval("SELECT created_at FROM suppression_trends WHERE trend_id = $1", trend_id)
    return value if isinstance(value, datetime) else None
