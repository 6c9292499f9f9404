"""The reporting service's read queries (``$n`` parameters only): history pages and totals, dashboard parts.

Pages walk an index in position order (newest first) and fetch only the page's documents; totals and
dashboard figures are counters, read in constant time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from cavra_contracts.reporting import HistoryPosition
from cavra_contracts.sorting import HISTORY_DEFAULT_SORT, split
from cavra_reporting.domain.model import MAX_COUNTED_FILTERS, facet_pair

PARTIAL = frozenset(
    {"acknowledgement_state", "source_key", "alert_level", "audit_id", "delivery_id", "cadence"}
)
"""Columns whose page index leaves out the items without a value (``WHERE column <> ''``)."""


@dataclasses.dataclass(frozen=True)
class HistoryFilter:
    """The history's filters, as columns of ``history_items`` (``provider`` through ``item_providers``)."""

    item_id: str = ""
    schedule_id: str = ""
    provider: str = ""
    metadata_kind: str = ""
    acknowledgement_state: str = ""
    source_key: str = ""
    delivery_success: bool | None = None
    alert_level: str = ""
    audit_id: str = ""
    delivery_id: str = ""
    cadence: str = ""
    family_source: str = ""
    """A family's source: one more ``source_key`` condition (none matches beside another source)."""

    @property
    def uncounted(self) -> bool:
        """Filters no counter covers (audit_id, delivery_id, cadence): the total counts over their index."""
        return bool(self.item_id or self.audit_id or self.delivery_id or self.cadence)

    def clauses(self, params: list[Any]) -> list[str]:
        """The WHERE clauses (``h`` is ``history_items``); ``params`` gets their values."""
        found: list[str] = []
        for column in (
            "item_id",
            "schedule_id",
            "metadata_kind",
            "acknowledgement_state",
            "source_key",
            "alert_level",
            "audit_id",
            "delivery_id",
            "cadence",
        ):
            value = getattr(self, column)
            if value:
                params.append(value)
                found.append(f"h.{column} = ${len(params)}")
                if column in PARTIAL:
                    found.append(f"h.{column} <> ''")  # lets a generic plan use the partial index too
        if self.delivery_success is not None:
            params.append(self.delivery_success)
            found += [f"h.delivery_success = ${len(params)}", "h.delivery_success IS NOT NULL"]
        if self.family_source:
            params.append(self.family_source)
            found += [f"h.source_key = ${len(params)}", "h.source_key <> ''"]
        return found

    def facets(self) -> list[str]:
        """The counter of each filter that is set (the total of a one-filter query is its counter)."""
        found = [
            f"{facet}:{value}"
            for facet, value in (
                ("schedule", self.schedule_id),
                ("provider", self.provider),
                ("kind", self.metadata_kind),
                ("state", self.acknowledgement_state),
                ("source", self.source_key),
                ("alert", self.alert_level),
            )
            if value
        ]
        if self.delivery_success is not None:
            found.append(f"success:{str(self.delivery_success).lower()}")
        if self.family_source:
            found.append(f"source:{self.family_source}")  # beside another source: no such counter, 0
        return found


SORT_COLUMNS = {
    "created": "",
    "kind": "metadata_kind",
    "schedule": "schedule_id",
    "state": "acknowledgement_state",
}
"""A history sort's column of ``history_items`` (``created`` is the position alone)."""
POSITION = ("created_at", "seq", "ordinal")


def _history_sql(
    where: HistoryFilter, params: list[Any], *, sorted_by: bool = False
) -> tuple[str, str, list[str]]:
    """FROM clause, the alias whose position orders the page, and the WHERE clauses; ``sorted_by``: a
    sort column of ``history_items`` orders the page, so the provider filter is a per-item check
    (the sort index is walked in order) rather than a join whose every row must then be sorted."""
    clauses = where.clauses(params)
    if where.provider:
        params.append(where.provider)
        if sorted_by:
            n = len(params)
            matches = f"SELECT 1 FROM item_providers p WHERE p.item_id = h.item_id AND p.provider = ${n}"
            clauses.insert(0, f"EXISTS ({matches})")
            return "history_items h", "h", clauses
        clauses.insert(0, f"p.provider = ${len(params)}")
        if len(clauses) == 1:
            return "item_providers p", "p", clauses
        return "item_providers p JOIN history_items h ON h.item_id = p.item_id", "p", clauses
    return "history_items h", "h", clauses


def history_order(sort: str) -> tuple[str, list[tuple[str, str]]]:
    """The sort column of ``history_items`` (empty: the position alone) and the ORDER BY terms
    ``(name, direction)`` of a sort (``""``: newest first). ``-x`` is the exact reverse of ``x``, ties
    included: one index walks both ways."""
    column_name, descending = split(sort, HISTORY_DEFAULT_SORT)
    column = SORT_COLUMNS[column_name]
    if not column:
        way = "DESC" if descending else "ASC"
        return "", [(name, way) for name in POSITION]
    first, rest = ("DESC", "ASC") if descending else ("ASC", "DESC")
    return column, [("sort_key", first), *((name, rest) for name in POSITION)]


async def history_page(
    conn: asyncpg.Connection,
    where: HistoryFilter,
    limit: int,
    offset: int,
    after: HistoryPosition | None,
    sort: str = "",
) -> tuple[list[dict[str, Any]], HistoryPosition | None, bool]:
    """A page of items in ``sort`` order (newest first by default), and the position to continue after
    when more follow (default order only: a cursor is a position, not a sort key), and whether more
    follow (any order).

    The positions are found first (an index-only walk, however deep the offset), then only the page's
    documents are fetched."""
    params: list[Any] = []
    column, terms = history_order(sort)
    source, alias, clauses = _history_sql(where, params, sorted_by=bool(column))
    if after is not None:
        params += [after.created_at, after.sequence, after.ordinal]
        n = len(params)
        clauses.append(f"({alias}.created_at, {alias}.seq, {alias}.ordinal) < (${n - 2}, ${n - 1}, ${n})")
    condition = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    params += [limit + 1, offset]
    inner = ", ".join(
        f"{'h.' + column if name == 'sort_key' else alias + '.' + name} {way}" for name, way in terms
    )
    outer = ", ".join(f"k.{name} {way}" for name, way in terms)
    sort_key = f", h.{column} AS sort_key" if column else ""
    rows = await conn.fetch(
        f"""SELECT d.document, d.item_id, k.created_at, k.seq, k.ordinal
            FROM (SELECT {alias}.item_id, {alias}.created_at, {alias}.seq, {alias}.ordinal{sort_key}
                  FROM {source}{condition}
                  ORDER BY {inner}
                  LIMIT ${len(params) - 1} OFFSET ${len(params)}) k
            JOIN history_items d ON d.item_id = k.item_id
            ORDER BY {outer}""",
        *params,
    )
    page = rows[:limit]
    position = None
    if len(rows) > limit and (sort or HISTORY_DEFAULT_SORT) == HISTORY_DEFAULT_SORT:
        last = page[-1]
        position = HistoryPosition(last["created_at"], last["seq"], last["ordinal"])
    return [{**row["document"], "item_id": row["item_id"]} for row in page], position, len(rows) > limit


async def history_total(conn: asyncpg.Connection, where: HistoryFilter) -> int:
    """Items matching ``where``: a counter for up to three filters, else a count over an index."""
    facets = where.facets()
    if len(facets) <= MAX_COUNTED_FILTERS and not where.uncounted:
        return await counter(conn, facet_pair(*facets) if facets else "items")
    params: list[Any] = []
    source, _, clauses = _history_sql(where, params)
    total = await conn.fetchval(f"SELECT count(*) FROM {source} WHERE {' AND '.join(clauses)}", *params)
    return int(total)


async def counter(conn: asyncpg.Connection, name: str) -> int:
    value = await conn.fetchval("SELECT value FROM counters WHERE name = $1", name)
    return int(value or 0)


async def counters(conn: asyncpg.Connection, names: Sequence[str], prefix: str) -> dict[str, int]:
    """The counters named, zero when absent, and those above zero whose name starts with ``prefix``."""
    following = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    rows = await conn.fetch(
        """SELECT name, value FROM counters
           WHERE name = ANY($1::text[]) OR (name >= $2 AND name < $3 AND value > 0) ORDER BY name""",
        list(names),
        prefix,
        following,
    )
    found = {name: 0 for name in names}
    found.update({row["name"]: int(row["value"]) for row in rows})
    return found


@dataclasses.dataclass(frozen=True)
class DashboardState:
    """The dashboard's parts that are not counters, read in one statement."""

    latest_event_at: datetime | None
    latest_escalation_plan: dict[str, Any] | None
    outstanding: list[dict[str, Any]]


async def dashboard_state(conn: asyncpg.Connection, escalation_plan_kind: str, listed: int) -> DashboardState:
    """The latest event's time, the newest escalation plan, and the first ``listed`` outstanding routes
    of current plans (by schedule, provider, owner, route)."""
    row = await conn.fetchrow(
        """SELECT
             (SELECT latest_event_at FROM read_model_state WHERE id = 1) AS latest_event_at,
             (SELECT document FROM history_items WHERE metadata_kind = $1
              ORDER BY created_at DESC, seq DESC, ordinal DESC LIMIT 1) AS latest_escalation_plan,
             (SELECT coalesce(jsonb_agg(to_jsonb(o) ORDER BY o.schedule_id, o.provider, o.owner, o.route_id),
                              '[]'::jsonb)
              FROM (SELECT schedule_id, provider, plan_id, route_id, owner,
                           ack_state AS acknowledgement_state, escalated
                    FROM routes WHERE outstanding
                    ORDER BY schedule_id, provider, owner, route_id LIMIT $2) o) AS outstanding""",
        escalation_plan_kind,
        listed,
    )
    assert row is not None
    return DashboardState(row["latest_event_at"], row["latest_escalation_plan"], row["outstanding"])
