"""Escalation Routes (spec §7.1): the routes of the current plan of each schedule with their state,
age, SLO and breach, from ``GET NP/acknowledgements/routes`` (the acknowledgement service's route
states), filtered and sorted on the server.

The State filter maps to the API's: a route state (acknowledged, dismissed, escalated, resolved,
outstanding) is passed as ``state``; ``critical`` — the alert level a breached route raises — is passed
as ``breached=true`` and ``healthy`` as ``breached=false``, so the breached routes of the bulk action
can be shown before it runs. A row is found again by its route id (``route_id`` of the same API).
"""

from __future__ import annotations

from typing import Final

from cavra_contracts.escalations import ESCALATE, NO_ACTION, WAIT
from cavra_gateway.console.api import ApiAnswer, ConsoleApi
from cavra_gateway.console.filters import ConsoleFilters, Paging
from cavra_gateway.console.tables.base import (
    Cell,
    Column,
    Record,
    Row,
    Table,
    first_text,
    listed,
    status_cell,
)

ROUTES: Final = "/runtime/go-pilot/rollback-drill-notifications/acknowledgements/routes"
ROUTE_STATES: Final = ("acknowledged", "dismissed", "escalated", "resolved", "outstanding")
BREACH_STATES: Final = {"critical": True, "healthy": False}
"""States of the filter that select on the breach (critical: breached routes; healthy: the others)."""


def route_params(filters: ConsoleFilters) -> dict[str, str | int | bool]:
    params: dict[str, str | int | bool] = {"owner": filters.owner, "provider": filters.provider}
    if filters.state in ROUTE_STATES:
        params["state"] = filters.state
    elif filters.state in BREACH_STATES:
        params["breached"] = BREACH_STATES[filters.state]
    return params


async def fetch(api: ConsoleApi, filters: ConsoleFilters, paging: Paging) -> ApiAnswer:
    # No count (it costs more than the page at a million routes): the pager goes by has_more.
    extra: dict[str, str | int | bool] = {
        "limit": paging.size, "offset": paging.offset, "sort": paging.sort, "with_total": False
    }  # fmt: skip
    return await api.get(ROUTES, route_params(filters) | extra)


async def find(api: ConsoleApi, record_id: str) -> tuple[Record | None, ApiAnswer]:
    """The route ``record_id`` of a current plan as the API shows it, or None (also what the route
    actions act on: they never take a route's fields from the browser)."""
    answer = await api.get(ROUTES, {"route_id": record_id, "limit": 1})
    items = answer.body.get("items") if answer.ok and isinstance(answer.body, dict) else None
    found = items[0] if isinstance(items, list) and items and isinstance(items[0], dict) else None
    return (found if found is not None and found.get("route_id") == record_id else None), answer


def recommended_action(route: Record) -> str:
    """The escalation plan's rule (spec §3.6): breached → escalate, cleared → no action, else wait."""
    if route.get("breached") is True:
        return str(ESCALATE)
    return str(NO_ACTION if route.get("acknowledged") is True else WAIT)


def age_over_slo(route: Record) -> str:
    age, slo = route.get("age_minutes"), route.get("acknowledgement_minutes")
    if isinstance(age, int | float) and isinstance(slo, int | float):
        return f"{age:g}m / {slo:g}m"
    return "n/a"


def to_row(route: Record) -> Row:
    route_id = first_text(route, "route_id")
    state = first_text(route, "state") or ("acknowledged" if route.get("acknowledged") else "outstanding")
    breached = route.get("breached") is True
    action = recommended_action(route)
    return Row(
        record_id=route_id,
        label=route_id,
        type_label="Escalation route",
        record=route,
        cells={
            "schedule": Cell(text=first_text(route, "schedule_id"), mono=True),
            "provider": Cell(text=first_text(route, "provider")),
            "owner": Cell(text=first_text(route, "owner") or "release-governance"),
            "state": status_cell(state),
            "breached": status_cell("breached") if breached else Cell(text="no"),
            "age": Cell(text=age_over_slo(route), tone="bad" if breached else ""),
            "action": Cell(text=action.replace("_", " "), tone="bad" if action == ESCALATE else ""),
        },
        actions=("route_ack", "route_escalate", "route_resolve"),
    )


def _notes(filters: ConsoleFilters) -> list[str]:
    if filters.state == "critical":
        return ["State “critical” shows the breached routes (not cleared, age at or past the SLO)."]
    if filters.state == "healthy":
        return ["State “healthy” shows the routes that are not breached."]
    if filters.state and filters.state not in ROUTE_STATES:
        return [f"State “{filters.state}” does not describe a route: every route state is shown."]
    return []


TABLE = Table(
    name="routes",
    title="Escalation Routes",
    view="routes",
    live=("acknowledgement", "escalation", "route"),
    empty_text="No escalation routes are currently indexed.",
    columns=(
        Column("schedule", "Schedule", sort="schedule"),
        Column("provider", "Provider", sort="provider"),
        Column("owner", "Owner", sort="owner"),
        Column("state", "State", sort="state"),
        Column("breached", "Breached"),  # the API sorts by it, but computes breach per request: slow at 1M
        Column("age", "Age / SLO", sort="age"),
        Column("action", "Action"),
    ),
    applies=("owner", "provider", "state"),
    fetch=fetch,
    items=listed("items"),
    to_row=to_row,
    find=find,
    notes=_notes,
    description="Routes of the current plan of each schedule: state, age against the acknowledgement "
    "SLO, breach and the recommended action.",
)
