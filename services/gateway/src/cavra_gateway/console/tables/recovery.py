"""Recovery (spec §7.1, §7.5): the connector recovery playbooks, one row per (playbook, provider)
with its closure state, from ``GET AD/connector-recovery-playbooks``; and the recovery escalation
plans from ``GET AD/recovery-escalations`` (a row found again by ``GET AD/recovery-escalations/{id}``,
which adds its deliveries and acknowledgements).

The playbook list pages playbooks (each with its providers), not provider rows; a row
(``<playbook id>|<provider>``) is found again in its playbook (``playbook_id`` of the same list).
Neither API sorts, so no column is sortable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
from cavra_gateway.console.tables.paths import AD


def _paged(paging: Paging) -> dict[str, str | int | bool]:
    return {"limit": paging.size, "offset": paging.offset}


# --- playbooks --------------------------------------------------------------------------------------


async def fetch_playbooks(api: ConsoleApi, _: ConsoleFilters, paging: Paging) -> ApiAnswer:
    return await api.get(f"{AD}/connector-recovery-playbooks", _paged(paging))


def playbook_items(body: Any) -> tuple[list[Record], int | None, bool]:
    """One record per provider of each listed playbook; more follow when more playbooks do."""
    playbooks, _, has_more = listed("items")(body)
    rows: list[Record] = []
    for item in playbooks:
        playbook = item.get("playbook")
        if not isinstance(playbook, Mapping):
            continue
        shared = {k: v for k, v in playbook.items() if k != "provider_playbooks"}
        for entry in playbook.get("provider_playbooks") or []:
            if isinstance(entry, Mapping):
                rows.append({**shared, **entry, "playbook_id": playbook.get("playbook_id")})
    return rows, None, has_more


async def find_playbook_row(api: ConsoleApi, record_id: str) -> tuple[Record | None, ApiAnswer]:
    playbook_id, _, provider = record_id.rpartition("|")
    answer = await api.get(f"{AD}/connector-recovery-playbooks", {"playbook_id": playbook_id, "limit": 1})
    rows = playbook_items(answer.body)[0] if answer.ok else []
    found = [row for row in rows if row.get("provider") == provider]
    return (found[0] if found else None), answer


def playbook_row(record: Record) -> Row:
    playbook_id, provider = first_text(record, "playbook_id"), first_text(record, "provider")
    closure = first_text(record, "closure_state") or "open"
    return Row(
        record_id=f"{playbook_id}|{provider}",
        label=f"{playbook_id}-{provider}",
        type_label="Connector recovery playbook",
        record=record,
        cells={
            "playbook": Cell(text=playbook_id, mono=True),
            "provider": Cell(text=provider),
            "category": Cell(text=first_text(record, "category")),
            "failures": Cell(text=first_text(record, "failure_count") or "0"),
            "closure": status_cell(closure) if closure != "open" else Cell(text="open", tone="attention"),
            "generated": Cell(time=first_text(record, "generated_at")),
        },
        actions=("close_recovery",) if closure == "open" else (),
    )


PLAYBOOKS = Table(
    name="playbooks",
    title="Recovery playbooks",
    view="recovery",
    live=("recovery",),
    empty_text="No connector recovery playbooks are currently indexed.",
    columns=(
        Column("playbook", "Playbook"),
        Column("provider", "Provider"),
        Column("category", "Category"),
        Column("failures", "Failures"),
        Column("closure", "Closure"),
        Column("generated", "Generated"),
    ),
    applies=(),
    fetch=fetch_playbooks,
    items=playbook_items,
    to_row=playbook_row,
    find=find_playbook_row,
    description="Connectors that kept failing, one row per playbook and provider with its latest closure; "
    "pages are pages of playbooks.",
)


# --- recovery escalations ---------------------------------------------------------------------------


async def fetch_escalations(api: ConsoleApi, _: ConsoleFilters, paging: Paging) -> ApiAnswer:
    return await api.get(f"{AD}/recovery-escalations", _paged(paging))


async def find_escalation(api: ConsoleApi, plan_id: str) -> tuple[Record | None, ApiAnswer]:
    answer = await api.get(f"{AD}/recovery-escalations/{plan_id}")
    return (answer.body if answer.ok and isinstance(answer.body, Mapping) else None), answer


def _texts(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def escalation_row(item: Record) -> Row:
    plan = item.get("plan") if isinstance(item.get("plan"), Mapping) else item
    assert isinstance(plan, Mapping)
    plan_id = first_text(plan, "plan_id")
    routes = plan.get("escalation_routes")
    return Row(
        record_id=plan_id,
        label=plan_id,
        type_label="Recovery escalation plan",
        record=item,
        cells={
            "plan": Cell(text=plan_id, mono=True),
            "alert": status_cell(first_text(plan, "alert_level")),
            "routes": Cell(text=str(len(routes)) if isinstance(routes, list) else "0"),
            "providers": Cell(text=", ".join(_texts(plan.get("selected_providers"))) or "—"),
            "breached": Cell(text=first_text(plan, "slo_breached_count") or "0"),
            "generated": Cell(time=first_text(plan, "generated_at")),
        },
        actions=("deliver_recovery_escalation", "ack_recovery_escalation"),
    )


ESCALATIONS = Table(
    name="recovery_escalations",
    title="Recovery escalations",
    view="recovery",
    live=("recovery", "escalation"),
    empty_text="No recovery escalations are currently indexed.",
    columns=(
        Column("plan", "Plan"),
        Column("alert", "Alert"),
        Column("routes", "Routes"),
        Column("providers", "Providers"),
        Column("breached", "SLO breached"),
        Column("generated", "Generated"),
    ),
    applies=(),
    fetch=fetch_escalations,
    items=listed("items"),
    to_row=escalation_row,
    find=find_escalation,
    description="Recovery escalation plans, newest first: the open and breached recoveries they escalate; "
    "a plan's details list its deliveries and acknowledgements.",
)
