"""Notification History (spec §7.1): every stored record — plans, deliveries, acknowledgements,
escalations, audit, retry, recovery and executive records — from ``GET NP`` (the reporting read model),
filtered on the server by provider, kind, delivery source and state."""

from __future__ import annotations

from typing import Any

from cavra_gateway.console.api import ApiAnswer, ConsoleApi
from cavra_gateway.console.filters import ACK_STATES, ALERT_LEVELS, KINDS, ConsoleFilters, Paging
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

NP = "/runtime/go-pilot/rollback-drill-notifications"
KIND_PREFIX = "go-backend-rollback-drill-notification-"
PROVIDER_KEYS = (
    "provider",
    "selected_providers",
    "acknowledgement_required_providers",
    "providers",
    "failed_providers",
)


def history_params(filters: ConsoleFilters) -> dict[str, str | int | bool]:
    """The API's filters for the console's (the State filter maps to the column it names)."""
    params: dict[str, str | int | bool] = {
        "provider": filters.provider,
        "metadata_kind": filters.kind,
        "connector_delivery_source": filters.source,
    }
    if filters.state in ACK_STATES:
        params["acknowledgement_state"] = filters.state
    elif filters.state in ("delivered", "delivery_failed"):
        params["delivery_success"] = filters.state == "delivered"
    elif filters.state in ALERT_LEVELS:
        params["alert_level"] = filters.state
    return params


async def fetch(api: ConsoleApi, filters: ConsoleFilters, paging: Paging) -> ApiAnswer:
    params = history_params(filters) | {"limit": paging.size, "offset": paging.offset, "sort": paging.sort}
    return await api.get(NP, params)


async def find(api: ConsoleApi, record_id: str) -> tuple[Record | None, ApiAnswer]:
    answer = await api.get(NP, {"item_id": record_id, "limit": 1})
    items = (answer.body or {}).get("items") if answer.ok and isinstance(answer.body, dict) else None
    return (items[0] if items else None), answer


def status_of(record: Record) -> str:
    """§7.4: the acknowledgement state, else delivered / delivery_failed, else the alert level."""
    if state := first_text(record, "acknowledgement_state"):
        return state
    success = record.get("delivery_success")
    if isinstance(success, bool):
        return "delivered" if success else "delivery_failed"
    return first_text(record, "alert_level") or "indexed"


def kind_label(kind: str) -> str:
    if kind == "release-connector-delivery":
        return "connector-delivery"
    return kind.removeprefix(KIND_PREFIX)


def providers_of(record: Record) -> list[str]:
    found: list[str] = []
    for key in PROVIDER_KEYS:
        value: Any = record.get(key)
        for name in [value] if isinstance(value, str) else value if isinstance(value, list) else []:
            if isinstance(name, str) and name and name not in found:
                found.append(name)
    return found


def record_id(record: Record) -> str:
    return first_text(record, "item_id", "session_id", "plan_id", "acknowledgement_id", "event_id")


def to_row(record: Record) -> Row:
    kind = first_text(record, "metadata_kind")
    identifier = record_id(record)
    return Row(
        record_id=identifier,
        label=identifier or kind,
        type_label=KINDS.get(kind, kind_label(kind)),
        record=record,
        cells={
            "record": Cell(text=identifier, mono=True),
            "kind": Cell(text=kind_label(kind)),
            "provider": Cell(text=", ".join(providers_of(record)) or "—"),
            "status": status_cell(status_of(record)),
            "schedule": Cell(
                text=first_text(record, "schedule_id", "event_id", "payload.schedule_id"), mono=True
            ),
            "created": Cell(time=first_text(record, "created_at", "generated_at")),
        },
    )


def _notes(filters: ConsoleFilters) -> list[str]:
    if filters.state == "outstanding":
        return ["State “outstanding” describes routes: see Escalation Routes; history shows every state."]
    return []


TABLE = Table(
    name="history",
    title="Notification History",
    view="notifications",
    live=(
        "delivery",
        "acknowledgement",
        "escalation",
        "approval",
        "retry",
        "recovery",
        "executive",
        "health",
    ),
    empty_text="No rollback drill notification records match the current filters.",
    columns=(
        Column("record", "Record"),
        # The API sorts by kind too, but with the provider filter that walk took 0.6-2.1 s at 1M items.
        Column("kind", "Kind"),
        Column("provider", "Provider"),
        Column("status", "Status"),
        Column("schedule", "Schedule", sort="schedule"),
        Column("created", "Created", sort="created"),
    ),
    applies=("provider", "kind", "source", "state"),
    fetch=fetch,
    items=listed("items"),
    to_row=to_row,
    find=find,
    live_mode="log",
    notes=_notes,
    description="Plans, redacted connector deliveries, acknowledgements, escalation plans and every "
    "retry, approval, recovery and executive record, newest first.",
)
