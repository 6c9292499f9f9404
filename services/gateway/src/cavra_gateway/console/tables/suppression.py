"""Suppression Summary (spec §7.1): one row per suppression category of the suppression trend of the
current owner and provider, from ``GET NP/suppression-trends`` (the router counts suppressed routes).

The trend is one answer, not a list: the table is not paged and has no sortable column. The router
stores a trend only when its content changed, so a refresh of an unchanged view writes nothing. With
no suppressed route the table shows the single ``none / 0`` row of the original.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from cavra_gateway.console.api import ApiAnswer, ConsoleApi
from cavra_gateway.console.filters import ConsoleFilters, Paging
from cavra_gateway.console.tables.base import Cell, Column, Record, Row, Table, first_text

TRENDS: Final = "/runtime/go-pilot/rollback-drill-notifications/suppression-trends"


async def fetch(api: ConsoleApi, filters: ConsoleFilters, _: Paging) -> ApiAnswer:
    return await api.get(TRENDS, {"owner": filters.owner, "provider": filters.provider})


def top(counts: Any) -> str:
    """``label (n)`` of the largest count (ties: the first label in order), or ``none``."""
    if not isinstance(counts, Mapping) or not counts:
        return "none"
    label, count = max(sorted(counts.items()), key=lambda item: item[1])
    return f"{label} ({count})"


def items(body: Any) -> tuple[list[Record], int | None, bool]:
    trend = body.get("trend") if isinstance(body, Mapping) else None
    if not isinstance(trend, Mapping):
        return [], 0, False
    counts = trend.get("category_counts")
    counts = counts if isinstance(counts, Mapping) and counts else {"none": 0}
    shared = {
        "trend_id": trend.get("trend_id"),
        "generated_at": trend.get("generated_at"),
        "filters": trend.get("filters"),
        "top_owner": top(trend.get("owner_counts")),
        "top_provider": top(trend.get("provider_counts")),
    }
    rows: list[Record] = [
        {"category": category, "event_count": count, **shared} for category, count in counts.items()
    ]
    return rows, len(rows), False


def to_row(record: Record) -> Row:
    category = first_text(record, "category") or "none"
    return Row(
        record_id=category,
        label=f"{first_text(record, 'trend_id') or 'suppression'}-{category}",
        type_label="Suppression trend category",
        record=record,
        cells={
            "category": Cell(text=category),
            "events": Cell(text=str(record.get("event_count", 0))),
            "owner": Cell(text=first_text(record, "top_owner")),
            "provider": Cell(text=first_text(record, "top_provider")),
            "generated": Cell(time=first_text(record, "generated_at")),
        },
    )


TABLE = Table(
    name="suppression",
    title="Suppression Summary",
    view="routing",
    live=("route",),
    empty_text="No suppressed routes match the current filters.",
    columns=(
        Column("category", "Category"),
        Column("events", "Events"),
        Column("owner", "Top Owner"),
        Column("provider", "Top Provider"),
        Column("generated", "Generated"),
    ),
    applies=("owner", "provider"),
    fetch=fetch,
    items=items,
    to_row=to_row,
    live_mode="log",
    description="Suppressed routes by category (maintenance window, owner calendar, healthy schedule, "
    "other) for the current owner and provider; one trend, not paged.",
)
