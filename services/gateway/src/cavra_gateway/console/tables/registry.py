"""Every table of the console, by name, and the views (tabs) that show them."""

from __future__ import annotations

from typing import Final

from cavra_gateway.console.tables import history
from cavra_gateway.console.tables.base import Table

TABLES: Final[dict[str, Table]] = {table.name: table for table in (history.TABLE,)}

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
