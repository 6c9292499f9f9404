"""Pure rules for rollback drill history and schedules, as the original CAVRA evaluated them.

Nothing here touches NATS or the database; the only I/O is `load_json_document`, and the current
time is always passed in as `now`.
"""

from __future__ import annotations

from cavra_contracts.timestamps import days_between, iso, parse_timestamp
from cavra_contracts.vocabulary import DUE_SOON, NEEDS_ATTENTION, NOT_REQUESTED, READY, alert_level

from .documents import LoadedDocument, load_json_document
from .history import (
    HISTORY_REPORT_SCHEMA,
    history_next_state_change_at,
    history_report,
    history_summary,
    normalize_mode,
)
from .schedule import (
    SCHEDULE_REPORT_SCHEMA,
    due_state,
    next_state_change_at,
    readiness,
    schedule_report,
    schedule_summary,
)

__all__ = [
    "DUE_SOON",
    "HISTORY_REPORT_SCHEMA",
    "NEEDS_ATTENTION",
    "NOT_REQUESTED",
    "READY",
    "SCHEDULE_REPORT_SCHEMA",
    "LoadedDocument",
    "alert_level",
    "days_between",
    "due_state",
    "history_next_state_change_at",
    "history_report",
    "history_summary",
    "iso",
    "load_json_document",
    "next_state_change_at",
    "normalize_mode",
    "parse_timestamp",
    "readiness",
    "schedule_report",
    "schedule_summary",
]
