"""Routing History (spec §7.1): every route decision the router made, newest first, from
``GET NP/routes`` (the router's route history), filtered on the server by owner (a case-insensitive
substring of owner or escalation owner), provider, action and suppression category.

Rows never change once written and carry no actions, so a row is not re-fetched on its own: the
section refreshes when a new plan is routed.
"""

from __future__ import annotations

from typing import Final

from cavra_gateway.console.api import ApiAnswer, ConsoleApi
from cavra_gateway.console.filters import ConsoleFilters, Paging
from cavra_gateway.console.tables.base import Cell, Column, Record, Row, Table, first_text, listed

ROUTE_HISTORY: Final = "/runtime/go-pilot/rollback-drill-notifications/routes"


async def fetch(api: ConsoleApi, filters: ConsoleFilters, paging: Paging) -> ApiAnswer:
    params: dict[str, str | int | bool] = {
        "owner": filters.owner,
        "provider": filters.provider,
        "action": filters.action,
        "category": filters.category,
        "limit": paging.size,
        "offset": paging.offset,
        "sort": paging.sort,
        # A count over a million rows costs more than the page; the pager goes by has_more.
        "with_total": False,
    }
    return await api.get(ROUTE_HISTORY, params)


def to_row(route: Record) -> Row:
    identifier = first_text(route, "route_id", "plan_id")
    action = first_text(route, "action")
    return Row(
        record_id=identifier,
        label=identifier,
        type_label="Route decision",
        record=route,
        cells={
            "route": Cell(text=identifier, mono=True),
            "owner": Cell(text=first_text(route, "owner")),
            "provider": Cell(text=first_text(route, "provider")),
            "action": Cell(text=action, tone="attention" if action == "suppress" else ""),
            "category": Cell(text=first_text(route, "category") or "none"),
            "reason": Cell(text=first_text(route, "reason")),
            "created": Cell(time=first_text(route, "created_at")),
        },
    )


TABLE = Table(
    name="routing",
    title="Routing History",
    view="routing",
    live=("route",),
    empty_text="No routing history rows match the current filters.",
    columns=(
        Column("route", "Route"),
        Column("owner", "Owner", sort="owner"),
        Column("provider", "Provider", sort="provider"),
        Column("action", "Action", sort="action"),
        Column("category", "Category", sort="category"),
        Column("reason", "Reason"),
        Column("created", "Generated", sort="generated"),
    ),
    applies=("owner", "provider", "action", "category"),
    fetch=fetch,
    items=listed("items"),
    to_row=to_row,
    live_mode="log",
    description="Every route decision of every plan (deliver or suppress, with its reason), newest first.",
)
