"""The console's filters (spec §7.1) and paging, read from the query string so a filtered view can be
bookmarked, shared and reloaded; each table passes on the ones its API applies, on the server.

A value outside its choices is refused with 422 naming the field, never ignored: an ignored filter
would show more than the viewer asked for.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cavra_contracts.acknowledgements import ACK_KIND
from cavra_contracts.approvals import APPROVAL_DECISION_KIND, APPROVAL_PLAN_KIND, RETRY_ACK_KIND
from cavra_contracts.audit import AUDIT_DELIVERY_PLAN_KIND, AUDIT_PACKAGE_KIND
from cavra_contracts.escalations import ESCALATION_PLAN_KIND
from cavra_contracts.executive import EXECUTIVE_REPORT_KIND, SCHEDULE_RUN_KIND
from cavra_contracts.families import AD_KIND, FAMILY_SPECS
from cavra_contracts.limits import MAX_OWNER_LENGTH, MAX_PROVIDER_LENGTH
from cavra_contracts.notifications import DELIVERY_RECORD_KIND
from cavra_contracts.recovery_names import CLOSURE_KIND, PLAYBOOK_KIND
from cavra_contracts.recovery_names import ESCALATION_PLAN_KIND as RECOVERY_ESCALATION_PLAN_KIND
from cavra_contracts.reporting import ESCALATION_KIND, PLAN_KIND
from cavra_contracts.vocabulary import normalize_provider
from cavra_gateway.params import TEXT

PROVIDERS: Final = (
    "slack", "teams", "webhook", "splunk", "sentinel", "datadog", "jira", "servicenow", "email", "pagerduty"
)  # fmt: skip
"""The provider choices of spec §7.1 (any other provider name may still be typed in the URL)."""

STATES: Final[dict[str, str]] = {
    "acknowledged": "acknowledged",
    "dismissed": "dismissed",
    "escalated": "escalated",
    "resolved": "resolved",
    "outstanding": "outstanding",
    "delivered": "delivered",
    "delivery_failed": "delivery failed",
    "critical": "critical",
    "warning": "warning",
    "healthy": "healthy",
}
ACK_STATES: Final = ("acknowledged", "dismissed", "escalated", "resolved")
ALERT_LEVELS: Final = ("critical", "warning", "healthy")

KINDS: Final[dict[str, str]] = {
    PLAN_KIND: "Notification plan",
    DELIVERY_RECORD_KIND: "Connector delivery",
    ACK_KIND: "Acknowledgement",
    ESCALATION_PLAN_KIND: "Escalation plan",
    ESCALATION_KIND: "Automatic escalation",
    AUDIT_PACKAGE_KIND: "Ack audit package",
    AUDIT_DELIVERY_PLAN_KIND: "Ack audit delivery",
    FAMILY_SPECS["audit"].retry_plan_kind: "Ack audit retry plan",
    RETRY_ACK_KIND: "Ack audit retry ack",
    FAMILY_SPECS["audit"].worker_run_kind: "Ack audit worker run",
    APPROVAL_PLAN_KIND: "Retry approval plan",
    APPROVAL_DECISION_KIND: "Retry approval decision",
    FAMILY_SPECS["audit"].execution_kind: "Retry execution",
    f"{AD_KIND}-worker-health-alert": "Worker health alert",
    f"{AD_KIND}-worker-health-alert-ack": "Worker health ack",
    PLAYBOOK_KIND: "Recovery playbook",
    CLOSURE_KIND: "Recovery closure",
    RECOVERY_ESCALATION_PLAN_KIND: "Recovery escalation plan",
    EXECUTIVE_REPORT_KIND: "Executive report",
    SCHEDULE_RUN_KIND: "Executive schedule run",
}
"""Metadata kinds of spec §3.0b the Kind filter offers, with their labels."""

SOURCES: Final[dict[str, str]] = {spec.source: spec.noun for spec in FAMILY_SPECS.values()}
"""Delivery sources (``connector_delivery_source``) by delivery family."""

ACTIONS: Final = ("deliver", "suppress")
CATEGORIES: Final = ("maintenance_window", "owner_calendar", "healthy_schedule", "other")
FILTER_FIELDS: Final = ("owner", "provider", "state", "kind", "source", "action", "category")

PAGE_SIZE: Final = 25
MAX_PAGE: Final = 4000
"""Deepest page a table offers (100,000 rows at the default size; the API's offset limit)."""


class InvalidFilter(ValueError):
    """A query parameter of the console outside its choices; names the field."""

    def __init__(self, problems: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{p['field']}: {p['message']}" for p in problems))
        self.problems = problems


class ConsoleFilters(BaseModel):
    """The filters row of the console; every field empty means "any"."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    owner: str = Field(default="", max_length=MAX_OWNER_LENGTH, pattern=f"^$|{TEXT}")
    provider: str = Field(default="", max_length=MAX_PROVIDER_LENGTH, pattern=f"^$|{TEXT}")
    state: Literal["", *tuple(STATES)] = ""  # type: ignore[valid-type]
    kind: Literal["", *tuple(KINDS)] = ""  # type: ignore[valid-type]
    source: Literal["", *tuple(SOURCES)] = ""  # type: ignore[valid-type]
    action: Literal["", "deliver", "suppress"] = ""
    category: Literal["", "maintenance_window", "owner_calendar", "healthy_schedule", "other"] = ""

    @field_validator("owner", "provider", mode="before")
    @classmethod
    def _trimmed(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value

    @field_validator("provider")
    @classmethod
    def _normalised(cls, value: str) -> str:
        return normalize_provider(value) if value else value

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> ConsoleFilters:
        try:
            return cls.model_validate({name: query.get(name, "") for name in FILTER_FIELDS})
        except ValidationError as exc:
            raise InvalidFilter(
                [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()]
            ) from exc

    def given(self) -> dict[str, str]:
        """The filters that are set, in the row's order."""
        return {name: getattr(self, name) for name in FILTER_FIELDS if getattr(self, name)}

    def query(self, **extra: str | int) -> str:
        """The query string of these filters plus ``extra`` (empty values left out)."""
        values: dict[str, str | int] = {
            **self.given(),
            **{k: v for k, v in extra.items() if v not in ("", None)},
        }
        return urlencode(values)


class Paging(BaseModel):
    """One table's page and sort: ``page_<table>`` and ``sort_<table>`` in the query string."""

    model_config = ConfigDict(frozen=True)

    page: int = Field(default=1, ge=1, le=MAX_PAGE)
    sort: str = Field(default="", max_length=64, pattern=r"^$|^-?[a-z_]{1,60}$")
    size: int = Field(default=PAGE_SIZE, ge=1, le=100)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size

    @classmethod
    def from_query(cls, table: str, query: Mapping[str, str], allowed_sorts: tuple[str, ...]) -> Paging:
        page_field, sort_field = f"page_{table}", f"sort_{table}"
        try:
            paging = cls.model_validate(
                {"page": query.get(page_field) or 1, "sort": query.get(sort_field, "")}
            )
        except ValidationError as exc:
            names = {"page": page_field, "sort": sort_field}
            raise InvalidFilter(
                [
                    {"field": names.get(str(e["loc"][0]), str(e["loc"][0])), "message": e["msg"]}
                    for e in exc.errors()
                ]
            ) from exc
        if paging.sort and paging.sort.lstrip("-") not in allowed_sorts:
            allowed = ", ".join(allowed_sorts) or "none"
            raise InvalidFilter(
                [{"field": sort_field, "message": f"not a sortable column; sortable: {allowed}"}]
            )
        return paging
