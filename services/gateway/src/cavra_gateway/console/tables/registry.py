"""Every table of the console, by name, and the views (tabs) that show them."""

from __future__ import annotations

from typing import Final

from cavra_gateway.console.tables import (
    escalation_routes,
    executive,
    history,
    recovery,
    recovery_slo,
    retries,
    routing_history,
    suppression,
)
from cavra_gateway.console.tables.base import Table

TABLES: Final[dict[str, Table]] = {
    table.name: table
    for table in (
        history.TABLE,
        escalation_routes.TABLE,
        routing_history.TABLE,
        suppression.TABLE,
        retries.DECISIONS,
        retries.APPROVALS,
        recovery_slo.TABLE,
        retries.EXECUTIONS,
        retries.WORKER_RUNS,
        recovery.PLAYBOOKS,
        recovery.ESCALATIONS,
        executive.TABLE,
    )
}

VIEWS: Final[dict[str, str]] = {
    "notifications": "Notifications",
    "routes": "Escalation routes",
    "routing": "Routing",
    "retries": "Retries",
    "recovery": "Recovery",
    "executive": "Executive reports",
}
"""Tabs of the console, in order: ``view`` in the URL."""


def tables_of(view: str) -> list[Table]:
    return [table for table in TABLES.values() if table.view == view]
