"""Public rollback-drill documents: the schedule file, the drill history file, and the two reports.

The schema_version strings are the original CAVRA contract and must not change:

* ``cavra.go-backend-rollback-drill-schedule.v1`` — schedule file (one schedule);
* ``cavra.go-backend-rollback-drill-history.v1`` — drill history file;
* ``cavra.go-backend-pilot.rollback-drill-schedule.v1`` — schedule report;
* ``cavra.go-backend-pilot.rollback-drill-history.v1`` — history report.

Input documents are validated strictly (a bad schedule is rejected with every offending
field named); reports are produced by the scheduler's domain code and validated against
these models in tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    AliasChoices,
    BeforeValidator,
    Field,
    StrictBool,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from cavra_contracts.base import Document, Timestamp
from cavra_contracts.limits import (
    MAX_ACKNOWLEDGEMENT_MINUTES,
    MAX_CALENDAR_WINDOWS,
    MAX_DRILLS_PER_FILE,
    MAX_EVIDENCE_REFS,
    MAX_ID_LENGTH,
    MAX_INTERVAL_DAYS,
    MAX_MAINTENANCE_WINDOWS,
    MAX_OWNER_CALENDARS,
    MAX_OWNER_LENGTH,
    MAX_OWNER_ROUTES,
    MAX_OWNERS,
    MAX_PROVIDER_LENGTH,
    MAX_PROVIDERS,
    MAX_RECOVERY_MINUTES,
    MAX_REF_LENGTH,
    MAX_ROUTES_PER_PLAN,
    MAX_TEXT_LENGTH,
    MAX_WINDOW_SCHEDULE_IDS,
)
from cavra_contracts.vocabulary import ReadinessStatus, normalize_provider

SCHEDULE_FILE_SCHEMA = "cavra.go-backend-rollback-drill-schedule.v1"
HISTORY_FILE_SCHEMA = "cavra.go-backend-rollback-drill-history.v1"
SCHEDULE_REPORT_SCHEMA = "cavra.go-backend-pilot.rollback-drill-schedule.v1"
HISTORY_REPORT_SCHEMA = "cavra.go-backend-pilot.rollback-drill-history.v1"


Identifier = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=MAX_ID_LENGTH, pattern=r"^[A-Za-z0-9._:@-]+$"
    ),
]
Label = Annotated[str, StringConstraints(max_length=MAX_TEXT_LENGTH)]
"""Free text or a label from outside (may be empty)."""
NonEmptyLabel = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT_LENGTH)
]
OwnerName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_OWNER_LENGTH)
]
ProviderName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_PROVIDER_LENGTH)
]
Ref = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_REF_LENGTH)]
WindowId = Annotated[str, StringConstraints(max_length=MAX_ID_LENGTH)]
AcknowledgementMinutes = Annotated[int, Field(ge=1, le=MAX_ACKNOWLEDGEMENT_MINUTES)]
"""An acknowledgement SLO in whole minutes (the router stores it in an ``integer`` column)."""
ProviderNames = Annotated[list[ProviderName], Field(max_length=MAX_PROVIDERS)]
OwnerNames = Annotated[list[OwnerName], Field(max_length=MAX_OWNERS)]
ListT = TypeVar("ListT", bound=list[Any])
OneOrMore = Annotated[ListT, BeforeValidator(lambda value: [value] if isinstance(value, str) else value)]
"""A list setting where the router also takes one string as a one-item list."""


class MaintenanceWindow(Document):
    """A window during which matching routes are suppressed (inclusive bounds)."""

    window_id: WindowId = Field(
        default="maintenance-window", validation_alias=AliasChoices("window_id", "id")
    )
    start_at: Timestamp = Field(validation_alias=AliasChoices("start_at", "starts_at"))
    end_at: Timestamp = Field(validation_alias=AliasChoices("end_at", "ends_at"))
    schedule_ids: list[Identifier] = Field(default_factory=list, max_length=MAX_WINDOW_SCHEDULE_IDS)
    providers: ProviderNames = Field(default_factory=list)
    owners: OwnerNames = Field(default_factory=list)
    reason: Label = Field(
        default="maintenance window", validation_alias=AliasChoices("reason", "description")
    )


class CalendarWindow(Document):
    """A span during which an owner is unavailable."""

    start_at: Timestamp = Field(validation_alias=AliasChoices("start_at", "starts_at"))
    end_at: Timestamp = Field(validation_alias=AliasChoices("end_at", "ends_at"))
    reason: Label | None = None


class OwnerCalendar(Document):
    """Public-safe availability of one owner."""

    unavailable_windows: list[CalendarWindow] = Field(
        default_factory=list,
        validation_alias=AliasChoices("unavailable_windows", "blackout_windows"),
        max_length=MAX_CALENDAR_WINDOWS,
    )
    available: StrictBool | None = None
    reason: Label | None = None


class OwnerRoute(Document):
    """One owner rule: keyed by owner (object form) or matched by ``owners`` (list form).

    Only checked (every number and size bounded); the rule is kept exactly as sent, because the
    router reads aliases and absent keys the way the original CAVRA did.
    """

    owners: OneOrMore[OwnerNames] | None = None
    providers: OneOrMore[ProviderNames] | None = None
    notification_providers: OneOrMore[ProviderNames] | None = None
    acknowledgement_minutes: AcknowledgementMinutes | None = None
    ack_minutes: AcknowledgementMinutes | None = None
    escalation_owner: OwnerName | None = None
    manager: OwnerName | None = None
    reminder_minutes: AcknowledgementMinutes | None = None
    """Re-notify the owner once this many minutes after the plan; only counts below the route's SLO."""


_RULES_BY_OWNER: TypeAdapter[dict[OwnerName, OwnerRoute]] = TypeAdapter(
    Annotated[dict[OwnerName, OwnerRoute], Field(max_length=MAX_OWNER_ROUTES)]
)
_RULE_LIST: TypeAdapter[list[OwnerRoute]] = TypeAdapter(
    Annotated[list[OwnerRoute], Field(max_length=MAX_OWNER_ROUTES)]
)


def _check_owner_routes(
    rules: dict[str, dict[str, Any]] | list[dict[str, Any]],
) -> dict[str, dict[str, Any]] | list[dict[str, Any]]:
    if isinstance(rules, dict):
        _RULES_BY_OWNER.validate_python(rules)
    else:
        _RULE_LIST.validate_python(rules)
    return rules


OwnerRoutes = Annotated[
    dict[str, dict[str, Any]] | list[dict[str, Any]],
    AfterValidator(_check_owner_routes),
    Field(description=f"Owner rules (see OwnerRoute), at most {MAX_OWNER_ROUTES}."),
]
"""``owner_routes`` / ``routing_rules``: checked against ``OwnerRoute``, kept as sent."""

MaintenanceWindows = Annotated[list[MaintenanceWindow], Field(max_length=MAX_MAINTENANCE_WINDOWS)]
OwnerCalendars = Annotated[dict[OwnerName, OwnerCalendar], Field(max_length=MAX_OWNER_CALENDARS)]


class _DefaultSlo(Document):
    acknowledgement_minutes: AcknowledgementMinutes | None = None


class _RoutingPolicyBounds(Document):
    """The parts of a routing policy the router reads, each bounded (unknown keys are ignored)."""

    acknowledgement_minutes: AcknowledgementMinutes | None = None
    default_slo: _DefaultSlo | None = None
    owner_routes: OwnerRoutes | None = None
    routing_rules: OwnerRoutes | None = None
    maintenance_windows: MaintenanceWindows | None = None
    suppression_windows: MaintenanceWindows | None = None
    owner_calendars: OwnerCalendars | None = None
    calendars: OwnerCalendars | None = None


def _check_routing_policy(policy: dict[str, Any]) -> dict[str, Any]:
    _RoutingPolicyBounds.model_validate(policy)
    return policy


RoutingPolicy = Annotated[
    dict[str, Any],
    AfterValidator(_check_routing_policy),
    Field(
        description="owner_routes / routing_rules, maintenance_windows / suppression_windows, "
        "owner_calendars / calendars, acknowledgement_minutes, default_slo; each key wins over the "
        "schedule's. Checked like the schedule's own fields, kept as sent."
    ),
]
"""A routing policy sent with a deliver request: every number and size bounded, kept as sent."""


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _names(value: object) -> list[str]:
    """Distinct normalised provider names of a setting (one string counts as a one-item list)."""
    items = [value] if isinstance(value, str) else _list(value)
    found: list[str] = []
    for item in items:
        if isinstance(item, str) and (name := normalize_provider(item)) and name not in found:
            found.append(name)
    return found


def _rule_for(owner_routes: object, owner: str) -> Mapping[str, Any]:
    if isinstance(owner_routes, Mapping):
        rule = owner_routes.get(owner)
        return rule if isinstance(rule, Mapping) else {}
    merged: dict[str, Any] = {}
    for entry in owner_routes if isinstance(owner_routes, list) else []:
        if not isinstance(entry, Mapping):
            continue
        matcher = entry.get("owners", [])
        owners = {str(item) for item in ([matcher] if isinstance(matcher, str) else _list(matcher))}
        if not owners or owner in owners:
            merged.update(entry)
    return merged


def planned_route_count(owners: Sequence[str], providers: Sequence[str], owner_routes: object) -> int:
    """How many routes the router plans for a schedule on its own: one per owner and provider.

    An owner rule that names providers replaces the schedule's providers for that owner (the
    router's rule, spec section 3.4.3); duplicate owners and providers count once.
    """
    schedule_providers = _names(list(providers)) or ["webhook"]
    total = 0
    for owner in dict.fromkeys(owner for owner in owners if owner):
        rule = _rule_for(owner_routes, owner)
        named = _names(rule.get("providers", rule.get("notification_providers", [])))
        total += len(named or schedule_providers)
    return total


def _too_many_routes(routes: int, fields: Sequence[tuple[str, object]]) -> ValidationError:
    problem = PydanticCustomError(
        "too_many_routes",
        "owners x providers give {routes} routes; a plan holds at most {limit}",
        {"routes": routes, "limit": MAX_ROUTES_PER_PLAN},
    )
    details = [InitErrorDetails(type=problem, loc=(name,), input=value) for name, value in fields]
    return ValidationError.from_exception_data("RollbackDrillScheduleV1", details)


class RollbackDrillScheduleV1(Document):
    """Schedule file ``cavra.go-backend-rollback-drill-schedule.v1``: one recurring drill cadence."""

    schema_version: Literal["cavra.go-backend-rollback-drill-schedule.v1"]
    schedule_id: Identifier
    environment: Label = ""
    status: NonEmptyLabel = "active"
    interval_days: float = Field(gt=0, le=MAX_INTERVAL_DAYS, allow_inf_nan=False)
    next_due_at: Timestamp | None = None
    owners: OwnerNames = Field(
        min_length=1, description=f"At most {MAX_OWNERS}; owners x providers at most {MAX_ROUTES_PER_PLAN}."
    )
    notification_providers: ProviderNames = Field(min_length=1)
    owner_routes: OwnerRoutes = Field(
        default_factory=dict, validation_alias=AliasChoices("owner_routes", "routing_rules")
    )
    maintenance_windows: MaintenanceWindows = Field(
        default_factory=list, validation_alias=AliasChoices("maintenance_windows", "suppression_windows")
    )
    owner_calendars: OwnerCalendars = Field(
        default_factory=dict, validation_alias=AliasChoices("owner_calendars", "calendars")
    )
    runbook_ref: Ref

    @field_validator("interval_days", mode="before")
    @classmethod
    def _reject_bool_interval(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("interval_days must be a positive number of days")
        return value

    @model_validator(mode="after")
    def _plan_fits(self) -> RollbackDrillScheduleV1:
        routes = planned_route_count(self.owners, self.notification_providers, self.owner_routes)
        if routes > MAX_ROUTES_PER_PLAN:
            fields: list[tuple[str, object]] = [
                ("owners", self.owners),
                ("notification_providers", self.notification_providers),
            ]
            if routes > len(set(self.owners)) * len(_names(self.notification_providers)):
                fields.append(("owner_routes", self.owner_routes))
            raise _too_many_routes(routes, fields)
        return self


class DrillRunV1(Document):
    """One executed rollback drill, as recorded in the drill history."""

    drill_id: Identifier
    executed_at: Timestamp
    schedule_id: Identifier | None = None
    actor: Label = ""
    source_mode: Label = ""
    target_mode: Label = ""
    status: NonEmptyLabel
    fallback_verified: StrictBool = False
    recovery_minutes: float | None = Field(default=None, ge=0, le=MAX_RECOVERY_MINUTES, allow_inf_nan=False)
    max_recovery_minutes: float | None = Field(
        default=None, ge=0, le=MAX_RECOVERY_MINUTES, allow_inf_nan=False
    )
    runbook_ref: Annotated[str, StringConstraints(max_length=MAX_REF_LENGTH)] = ""
    evidence_refs: list[Ref] = Field(default_factory=list, max_length=MAX_EVIDENCE_REFS)


class RollbackDrillHistoryV1(Document):
    """Drill history file ``cavra.go-backend-rollback-drill-history.v1``."""

    schema_version: Literal["cavra.go-backend-rollback-drill-history.v1"]
    environment: Label = ""
    drills: list[DrillRunV1] = Field(min_length=1, max_length=MAX_DRILLS_PER_FILE)


class ReportCheck(Document):
    """One check of a report; ``warn`` never ``fail``, as in the original."""

    id: str
    status: Literal["pass", "warn"]
    message: str


class HistorySummary(Document):
    """Derived facts about the latest drill."""

    valid: bool
    schema_version: str
    environment: str
    drill_count: int
    latest_drill_id: str
    latest_status: str
    latest_target_mode: str
    latest_executed_at: str
    age_days: float | None
    fresh: bool
    fallback_verified: bool
    recovery_sla_met: bool
    runbook_ref: str
    evidence_refs: list[str]
    message: str


class ScheduleSummary(Document):
    """Derived facts about one schedule at evaluation time."""

    valid: bool
    schema_version: str
    schedule_id: str
    environment: str
    status: str
    active: bool
    cadence_valid: bool
    interval_days: float | None
    next_due_at: str
    days_until_due: float | None
    stale: bool
    due_soon: bool
    notification_routes_valid: bool
    owners: list[str]
    notification_providers: list[str]
    runbook_ref: str
    message: str


class RollbackDrillHistoryReportV1(Document):
    """History report ``cavra.go-backend-pilot.rollback-drill-history.v1``."""

    schema_version: Literal["cavra.go-backend-pilot.rollback-drill-history.v1"]
    mode: str
    status: Literal["ready", "not_requested", "needs_attention"]
    rollback_drill_history_path: str
    rollback_drill_max_age_days: float
    checks: list[ReportCheck]
    history: HistorySummary
    operator_notes: list[str]


class RollbackDrillScheduleReportV1(Document):
    """Schedule report ``cavra.go-backend-pilot.rollback-drill-schedule.v1``."""

    schema_version: Literal["cavra.go-backend-pilot.rollback-drill-schedule.v1"]
    mode: str
    status: ReadinessStatus
    rollback_drill_schedule_path: str
    rollback_drill_due_soon_days: float
    checks: list[ReportCheck]
    schedule: ScheduleSummary
    history: HistorySummary
    operator_notes: list[str]
