"""Every upper bound on what comes from outside, named once.

The contracts check these at the edge (the gateway answers 422 naming the field) and the
scheduler checks them again when it loads its files (the offending entry is logged and
skipped). The domain rules stay total beyond them: a stored value from before a limit
existed is clamped or ignored, never raised on.

How the values were chosen:

* a count or size is bounded so that the largest accepted plan still fits in one NATS
  message (``NATS_MAX_PAYLOAD``) with room to spare, see ``MAX_ROUTES_PER_PLAN``;
* a number that lands in an ``integer`` column is bounded well inside its range;
* a number of days that is added to a timestamp is bounded so that the largest accepted
  timestamp plus the largest accepted span is still a valid date (``datetime`` ends in 9999).

``LIMITS`` lists them all for the docs (``docs/api.md`` "Limits"; a test keeps the two equal).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

NATS_MAX_PAYLOAD: Final = 1024 * 1024
"""nats-server's default ``max_payload`` (1 MiB): no single event may be larger."""

# --- plan size ------------------------------------------------------------------------------

MAX_ROUTES_PER_PLAN: Final = 500
"""Routes (owner x provider) in one notification plan.

A route decision is ~400 bytes of JSON with typical names and ~1.5 KB with every string at
its limit, so 500 routes stay below ~750 KB even in the worst case and ~200 KB typically.
"""
MAX_EVENT_BYTES: Final = 900 * 1024
"""Serialised size of one plan's NotificationPlannedV1 envelope: the router rejects a plan whose
event would be larger instead of storing it, so no event can be past ``NATS_MAX_PAYLOAD`` (the
rest is room for headers)."""
MAX_OWNERS: Final = MAX_ROUTES_PER_PLAN
"""Owners of one schedule (each owner has at least one route)."""
MAX_PROVIDERS: Final = 16
"""Providers named by one schedule, one owner rule or one maintenance window."""
MAX_OWNER_ROUTES: Final = MAX_OWNERS
"""Owner rules in ``owner_routes`` (object or list form)."""
MAX_MAINTENANCE_WINDOWS: Final = 100
"""Maintenance windows in one schedule or routing policy."""
MAX_WINDOW_SCHEDULE_IDS: Final = 100
"""Schedule ids one maintenance window matches."""
MAX_OWNER_CALENDARS: Final = MAX_OWNERS
"""Owner calendars in one schedule or routing policy (one per owner)."""
MAX_CALENDAR_WINDOWS: Final = 100
"""Unavailable windows of one owner calendar."""

# --- strings --------------------------------------------------------------------------------

MAX_ID_LENGTH: Final = 128
"""``schedule_id``, ``drill_id`` (letters, digits and ``._:@-``) and a maintenance ``window_id``."""
MAX_PLAN_ID_LENGTH: Final = 64
"""A plan id as a query names it (the router's ids are 22 characters)."""
MAX_OWNER_LENGTH: Final = 128
"""An owner or escalation owner name."""
MAX_PROVIDER_LENGTH: Final = 64
"""A provider or connector name."""
MAX_PROVIDER_SELECTION_LENGTH: Final = MAX_PROVIDERS * (MAX_PROVIDER_LENGTH + 2)
"""``provider`` of a deliver request: ``all`` or a comma list of at most ``MAX_PROVIDERS`` names."""
MAX_TEXT_LENGTH: Final = 200
"""Labels and free text: ``environment``, ``status``, ``actor``, modes, reasons, ``generated_by``,
``requested_by``, query filters."""
MAX_REF_LENGTH: Final = 512
"""``runbook_ref`` and each of ``evidence_refs`` (paths or URLs)."""
MAX_EVIDENCE_REFS: Final = 50
"""``evidence_refs`` of one drill."""

# --- numbers --------------------------------------------------------------------------------

MAX_INTERVAL_DAYS: Final = 3650
"""``interval_days`` of a schedule: at most ten years between drills."""
MAX_DUE_SOON_DAYS: Final = 365
"""``CAVRA_GO_ROLLBACK_DRILL_DUE_SOON_DAYS``."""
MAX_AGE_DAYS: Final = 3650
"""``CAVRA_GO_ROLLBACK_DRILL_MAX_AGE_DAYS``."""
MAX_RECOVERY_MINUTES: Final = 43_200
"""``recovery_minutes`` and ``max_recovery_minutes`` of a drill: 30 days."""
MAX_ACKNOWLEDGEMENT_MINUTES: Final = 10_080
"""An acknowledgement SLO (policy, ``default_slo`` or owner rule): 7 days; stored in an ``integer``."""
MAX_RETRIES: Final = 10
"""``retries`` per route delivery."""
MAX_TIMEOUT_SECONDS: Final = 120
"""``timeout_seconds`` per delivery attempt."""
MAX_LIST_LIMIT: Final = 1000
"""``limit`` of the schedule list."""
MAX_ROUTE_HISTORY_LIMIT: Final = 500
"""``limit`` of the route history."""
MAX_OFFSET: Final = 100_000
"""``offset`` of any list: deeper pages are found with filters, not by scanning."""

# --- timestamps -----------------------------------------------------------------------------

EARLIEST_TIMESTAMP: Final = datetime(1970, 1, 1, tzinfo=UTC)
"""Earliest accepted timestamp (``executed_at``, ``next_due_at``, window bounds)."""
LATEST_TIMESTAMP: Final = datetime(2999, 12, 31, 23, 59, 59, tzinfo=UTC)
"""Latest accepted timestamp: plus ``MAX_INTERVAL_DAYS`` or ``MAX_AGE_DAYS`` still a valid date."""

# --- files ----------------------------------------------------------------------------------

MAX_FILE_BYTES: Final = 16 * 1024 * 1024
"""Size of the schedule file or the drill history file read at start."""
MAX_SCHEDULES_PER_FILE: Final = 1000
"""Schedules in one schedule file (a JSON list)."""
MAX_DRILLS_PER_FILE: Final = 10_000
"""Drills in one drill history file."""


@dataclass(frozen=True)
class Limit:
    """One documented limit: its constant's name, value, unit and where it applies."""

    name: str
    value: int | str
    unit: str
    applies_to: str


LIMITS: tuple[Limit, ...] = (
    Limit(
        "MAX_ROUTES_PER_PLAN", MAX_ROUTES_PER_PLAN, "routes", "owners x providers of one plan (PUT, deliver)"
    ),
    Limit(
        "MAX_EVENT_BYTES", MAX_EVENT_BYTES, "bytes", "the NotificationPlannedV1 envelope of one plan (router)"
    ),
    Limit("MAX_OWNERS", MAX_OWNERS, "items", "`owners`"),
    Limit(
        "MAX_PROVIDERS", MAX_PROVIDERS, "items", "`notification_providers`, a rule's or window's `providers`"
    ),
    Limit("MAX_OWNER_ROUTES", MAX_OWNER_ROUTES, "items", "`owner_routes` / `routing_rules`"),
    Limit("MAX_MAINTENANCE_WINDOWS", MAX_MAINTENANCE_WINDOWS, "items", "`maintenance_windows`"),
    Limit("MAX_WINDOW_SCHEDULE_IDS", MAX_WINDOW_SCHEDULE_IDS, "items", "a window's `schedule_ids`"),
    Limit("MAX_OWNER_CALENDARS", MAX_OWNER_CALENDARS, "items", "`owner_calendars`"),
    Limit("MAX_CALENDAR_WINDOWS", MAX_CALENDAR_WINDOWS, "items", "a calendar's `unavailable_windows`"),
    Limit("MAX_ID_LENGTH", MAX_ID_LENGTH, "characters", "`schedule_id`, `drill_id`, `window_id`"),
    Limit("MAX_PLAN_ID_LENGTH", MAX_PLAN_ID_LENGTH, "characters", "`plan_id` in a path"),
    Limit("MAX_OWNER_LENGTH", MAX_OWNER_LENGTH, "characters", "an owner, `escalation_owner`, `manager`"),
    Limit("MAX_PROVIDER_LENGTH", MAX_PROVIDER_LENGTH, "characters", "a provider name"),
    Limit("MAX_PROVIDER_SELECTION_LENGTH", MAX_PROVIDER_SELECTION_LENGTH, "characters", "deliver `provider`"),
    Limit("MAX_TEXT_LENGTH", MAX_TEXT_LENGTH, "characters", "labels, reasons, query filters"),
    Limit("MAX_REF_LENGTH", MAX_REF_LENGTH, "characters", "`runbook_ref`, each `evidence_refs` entry"),
    Limit("MAX_EVIDENCE_REFS", MAX_EVIDENCE_REFS, "items", "`evidence_refs`"),
    Limit("MAX_INTERVAL_DAYS", MAX_INTERVAL_DAYS, "days", "`interval_days` (above 0)"),
    Limit("MAX_DUE_SOON_DAYS", MAX_DUE_SOON_DAYS, "days", "`CAVRA_GO_ROLLBACK_DRILL_DUE_SOON_DAYS`"),
    Limit("MAX_AGE_DAYS", MAX_AGE_DAYS, "days", "`CAVRA_GO_ROLLBACK_DRILL_MAX_AGE_DAYS`"),
    Limit(
        "MAX_RECOVERY_MINUTES", MAX_RECOVERY_MINUTES, "minutes", "`recovery_minutes`, `max_recovery_minutes`"
    ),
    Limit(
        "MAX_ACKNOWLEDGEMENT_MINUTES",
        MAX_ACKNOWLEDGEMENT_MINUTES,
        "minutes",
        "`acknowledgement_minutes` / `ack_minutes` (whole number from 1)",
    ),
    Limit("MAX_RETRIES", MAX_RETRIES, "retries", "deliver `retries`"),
    Limit("MAX_TIMEOUT_SECONDS", MAX_TIMEOUT_SECONDS, "seconds", "deliver `timeout_seconds`"),
    Limit("MAX_LIST_LIMIT", MAX_LIST_LIMIT, "items", "`limit` of the schedule list"),
    Limit("MAX_ROUTE_HISTORY_LIMIT", MAX_ROUTE_HISTORY_LIMIT, "items", "`limit` of the route history"),
    Limit("MAX_OFFSET", MAX_OFFSET, "items", "`offset` of any list"),
    Limit("EARLIEST_TIMESTAMP", "1970-01-01T00:00:00Z", "UTC", "every timestamp in a request or file"),
    Limit("LATEST_TIMESTAMP", "2999-12-31T23:59:59Z", "UTC", "every timestamp in a request or file"),
    Limit("MAX_FILE_BYTES", MAX_FILE_BYTES, "bytes", "schedule file, drill history file"),
    Limit("MAX_SCHEDULES_PER_FILE", MAX_SCHEDULES_PER_FILE, "items", "schedules in the schedule file"),
    Limit("MAX_DRILLS_PER_FILE", MAX_DRILLS_PER_FILE, "items", "`drills` in the drill history file"),
)
"""Every limit above, in the order ``docs/api.md`` lists them."""
