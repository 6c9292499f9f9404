"""What delivery keeps as evidence: one :class:`RouteOutcome` per route x connector, and the
plan's record, both built from allow-listed fields only and scrubbed in place.

Evidence never holds a URL path or query, a header, a body or exception text (the connector
layer reports hosts, status codes, latencies and error classes). The strings a user or an
operator chose (owners, schedule ids, connector names, provider references) can still contain
a secret or a connector's URL path by accident, e.g. owner ``ops/hook/jira`` while the Jira
connector's base URL path is ``/hook/jira``: :func:`scrub_outcome` and :func:`scrub_record`
replace the secret inside the string with ``[REDACTED]`` and report where, so the evidence is
kept and an alarm is raised; nothing is ever thrown away.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from cavra_contracts.notifications import NOTIFICATION_SOURCE
from cavra_delivery.connectors.http import DeliveryOutcome
from cavra_delivery.connectors.redaction import REDACTED, scrub

SENT_OUTCOMES = frozenset({"delivered", "failed", "permanent_failure"})
"""Outcomes of a route that reached the connector: these count in connector health."""

_CHOSEN_FIELDS = (
    "owner",
    "schedule_id",
    "provider",
    "connector",
    "route_key",
    "route_id",
    "external_ref",
    "target_host",
)
"""The strings of an outcome that come from users, operators or providers rather than from us."""


@dataclass(frozen=True, slots=True)
class RouteOutcome:
    """How one target's delivery through one connector ended; one ``deliveries`` row, written once."""

    delivery_id: str
    """``<job_id>:<route_key>:<connector>``: the row's key and the idempotency key providers see."""
    plan_id: str
    """The plan of the route ('' for a job target that concerns none)."""
    route_id: str
    route_key: str
    """The target's key within its job (a plan route's route key)."""
    schedule_id: str
    provider: str
    owner: str
    connector: str | None
    connector_type: str | None
    target_host: str | None
    status: str
    completed_at: datetime | None
    """When the outcome became final (``None`` only on a row an older release left pending)."""
    attempts: tuple[Mapping[str, Any], ...] = ()
    status_code: int | None = None
    external_ref: str | None = None
    deduplicated: bool = False
    job_id: str = ""
    """The job the target belongs to; a notification plan is its own job (empty: ``plan_id``)."""
    source: str = NOTIFICATION_SOURCE
    """The job's family: the ``connector_delivery_source`` of its record."""

    def __post_init__(self) -> None:
        if not self.job_id:
            object.__setattr__(self, "job_id", self.plan_id)

    @property
    def sent(self) -> bool:
        """True when the route reached its connector (so the outcome counts in its health)."""
        return self.connector is not None and self.status in SENT_OUTCOMES

    def ended(self, result: DeliveryOutcome, completed_at: datetime) -> RouteOutcome:
        """This route as the connector layer says it ended (its redacted evidence only)."""
        # Built directly rather than with dataclasses.replace: this runs once per route.
        return RouteOutcome(
            self.delivery_id,
            self.plan_id,
            self.route_id,
            self.route_key,
            self.schedule_id,
            self.provider,
            self.owner,
            self.connector,
            self.connector_type,
            self.target_host,
            result.outcome,
            completed_at,
            tuple(
                {
                    "attempt": a.attempt,
                    "status_code": a.status_code,
                    "latency_ms": a.latency_ms,
                    "outcome": a.outcome,
                    "error_class": a.error_class,
                    "retry_after_seconds": a.retry_after_seconds,
                }
                for a in result.attempts
            ),
            result.status_code,
            result.external_ref,
            result.deduplicated,
            self.job_id,
            self.source,
        )

    def as_delivery(self) -> dict[str, Any]:
        """The outcome as ``RouteDeliveryV1`` (JSON-ready): the allow-list of what evidence says."""
        return {
            "delivery_id": self.delivery_id,
            "route_id": self.route_id,
            "route_key": self.route_key,
            "plan_id": self.plan_id,
            "provider": self.provider,
            "owner": self.owner,
            "connector": self.connector,
            "connector_type": self.connector_type,
            "target_host": self.target_host,
            "outcome": self.status,
            "idempotency_key": self.delivery_id,
            "attempt_count": len(self.attempts),
            "status_code": self.status_code,
            "external_ref": self.external_ref,
            "deduplicated": self.deduplicated,
            "attempts": [dict(attempt) for attempt in self.attempts],
            "completed_at": self.completed_at.isoformat() if self.completed_at else None,
        }

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> RouteOutcome:
        """An outcome read back from the ``deliveries`` table."""
        return cls(
            delivery_id=row["delivery_id"],
            plan_id=row["plan_id"],
            route_id=row["route_id"],
            route_key=row["route_key"],
            schedule_id=row["schedule_id"],
            provider=row["provider"],
            owner=row["owner"],
            connector=row["connector"],
            connector_type=row["connector_type"],
            target_host=row["target_host"],
            status=row["status"],
            completed_at=row["completed_at"],
            attempts=tuple(row["attempts"]),
            status_code=row["status_code"],
            external_ref=row["external_ref"],
            deduplicated=row["deduplicated"],
            job_id=row["job_id"],
            source=row["source"],
        )


def scrub_outcome(outcome: RouteOutcome, pattern: re.Pattern[str] | None) -> tuple[RouteOutcome, list[str]]:
    """``outcome`` with any secret inside its user-chosen strings redacted, and the fields that were.

    The delivery id stays as it is: it is the row's key and is built from our own ids and the
    connector's name (connector names are config keys, not secrets).
    """
    if pattern is None:
        return outcome, []
    values = [getattr(outcome, name) or "" for name in _CHOSEN_FIELDS]
    if not pattern.search("\0".join(values)):  # one scan for the usual clean route
        return outcome, []
    changed: dict[str, Any] = {
        name: pattern.sub(REDACTED, value)
        for name, value in zip(_CHOSEN_FIELDS, values, strict=True)
        if value and pattern.search(value)
    }
    return (replace(outcome, **changed), sorted(changed)) if changed else (outcome, [])


def redacted_places(outcomes: Sequence[RouteOutcome]) -> list[str]:
    """Where the record's deliveries (``outcomes`` in record order) hold a redaction."""
    return [
        f"$.delivery.deliveries[{index}].{name}"
        for index, outcome in enumerate(outcomes)
        for name in _CHOSEN_FIELDS
        if REDACTED in (getattr(outcome, name) or "")
    ]


def scrub_record(
    record: dict[str, Any], pattern: re.Pattern[str] | None
) -> tuple[dict[str, Any], str, list[str]]:
    """The record scrubbed in place, its JSON text, and every place that holds a redaction.

    One scan of the record's JSON text in the common case; the record is walked only when the
    text holds a secret or an earlier redaction (a route scrubbed when it was written, maybe by
    an earlier pass of the plan), so the alarm names every redacted place.
    """
    text = json.dumps(record)
    if pattern is not None and pattern.search(text):
        record, _ = scrub(record, pattern)
        text = json.dumps(record)
    if REDACTED not in text:
        return record, text, []
    return record, text, _redacted_places(record, "$")


def _redacted_places(obj: Any, where: str) -> list[str]:
    if isinstance(obj, str):
        return [where] if REDACTED in obj else []
    if isinstance(obj, Mapping):
        return [place for key, value in obj.items() for place in _redacted_places(value, f"{where}.{key}")]
    if isinstance(obj, list | tuple):
        return [place for i, item in enumerate(obj) for place in _redacted_places(item, f"{where}[{i}]")]
    return []
