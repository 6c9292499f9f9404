"""The escalation plan (spec §3.6): which routes of the latest plans are outstanding or breached.

Rules: only the deliver routes of the latest plan of each schedule count, each with its latest
acknowledgement; a route is acknowledged when that state is ``acknowledged`` or ``resolved``
(``escalated`` and ``dismissed`` stay outstanding); its SLO follows the §3.4.5 precedence over
the *request* policy with the route's stored value as the fallback; it is breached when not
acknowledged and its age is known and at least the SLO (inclusive). Any breach makes the plan
``critical``, any outstanding route ``warning``, else ``healthy``.

Built for 100,000 routes: one pass over plain tuples, the SLO looked up once per owner x
provider x stored value.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, NamedTuple

from cavra_contracts.acknowledgements import CLEARING_STATES, OUTSTANDING
from cavra_contracts.escalations import (
    ESCALATE,
    ESCALATION_PLAN_ID_PREFIX,
    ESCALATION_PLAN_SCHEMA,
    NO_ACTION,
    WAIT,
)
from cavra_contracts.slo import acknowledgement_minutes, default_acknowledgement_minutes, owner_rule
from cavra_contracts.timestamps import iso
from cavra_contracts.vocabulary import ALERT_CRITICAL, ALERT_HEALTHY, ALERT_WARNING

PRODUCT = "CAVRA"

ROUTE_FIELDS = (
    "schedule_id",
    "plan_id",
    "route_id",
    "provider",
    "owner",
    "acknowledgement_state",
    "acknowledged",
    "age_minutes",
    "acknowledgement_minutes",
    "breached",
    "recommended_action",
)
"""The fields of one route row, in order (also the stored columns)."""


class SourceRoute(NamedTuple):
    """A deliver route of a schedule's latest plan, as stored, with its latest acknowledgement."""

    schedule_id: str
    plan_id: str
    route_id: str
    provider: str
    owner: str
    acknowledgement_state: str
    """The latest acknowledgement's state, or ``outstanding``."""
    stored_minutes: int
    """The SLO the router stamped on the route."""
    age_seconds: float | None
    """Now minus the plan's ``generated_at``; None when unknown."""


RouteRow = tuple[str, str, str, str, str, str, bool, float | None, int, bool, str]
"""One route row, the values of ``ROUTE_FIELDS`` in order."""


def is_acknowledged(state: str) -> bool:
    """Does the latest acknowledgement state clear the route (spec §3.5: acknowledged, resolved)?"""
    return state in CLEARING_STATES


def age_minutes(age_seconds: float | None) -> float | None:
    """An age in minutes, rounded to two decimals (None when unknown)."""
    return None if age_seconds is None else round(age_seconds / 60.0, 2)


def is_breached(acknowledged: bool, age: float | None, slo: int) -> bool:
    """Breach rule: not acknowledged, age known, and age >= SLO (inclusive)."""
    return not acknowledged and age is not None and age >= slo


def recommended_action(acknowledged: bool, breached: bool) -> str:
    if breached:
        return ESCALATE
    return NO_ACTION if acknowledged else WAIT


def alert_level(outstanding: int, breached: int) -> str:
    if breached:
        return ALERT_CRITICAL
    return ALERT_WARNING if outstanding else ALERT_HEALTHY


class SloLookup:
    """Each route's SLO under the request policy (§3.4.5), computed once per owner, provider and
    stored value: owner rule > policy value > ``default_slo`` > the route's stored value > 60."""

    def __init__(self, policy: Mapping[str, Any]) -> None:
        self._policy = policy
        self._rules: dict[str, dict[str, Any]] = {}
        self._minutes: dict[tuple[str, str, int], int] = {}

    def minutes(self, owner: str, provider: str, stored: int) -> int:
        key = (owner, provider, stored)
        found = self._minutes.get(key)
        if found is None:
            rule = self._rules.get(owner)
            if rule is None:
                rule = self._rules[owner] = owner_rule(self._policy, owner)
            found = self._minutes[key] = acknowledgement_minutes(self._policy, rule, provider, default=stored)
        return found


def route_row(source: SourceRoute, slo: SloLookup) -> RouteRow:
    """The §3.6 row of one route."""
    acknowledged = is_acknowledged(source.acknowledgement_state)
    age = age_minutes(source.age_seconds)
    minutes = slo.minutes(source.owner, source.provider, source.stored_minutes)
    breached = is_breached(acknowledged, age, minutes)
    return (
        source.schedule_id,
        source.plan_id,
        source.route_id,
        source.provider,
        source.owner,
        source.acknowledgement_state or OUTSTANDING,
        acknowledged,
        age,
        minutes,
        breached,
        recommended_action(acknowledged, breached),
    )


class EscalationPlan(NamedTuple):
    """A built plan: its summary (every field but ``routes``) and its route rows."""

    summary: dict[str, Any]
    routes: list[RouteRow]

    def document(self, routes: Iterable[Mapping[str, Any]] | None = None) -> dict[str, Any]:
        """``cavra.go-backend-pilot.rollback-drill-notification-escalation-plan.v1`` with ``routes``
        (default: every route of the plan)."""
        listed = list(routes) if routes is not None else [route_dict(row) for row in self.routes]
        return self.summary | {"routes": listed}


def route_dict(row: RouteRow) -> dict[str, Any]:
    return dict(zip(ROUTE_FIELDS, row, strict=True))


def build_escalation_plan(
    sources: Iterable[SourceRoute], policy: Mapping[str, Any], *, generated_by: str, now: datetime
) -> EscalationPlan:
    """The escalation plan over ``sources`` (the latest plan's deliver routes of every schedule)."""
    slo = SloLookup(policy)
    rows = [route_row(source, slo) for source in sources]
    outstanding = sum(1 for row in rows if not row[6])
    breached = sum(1 for row in rows if row[9])
    level = alert_level(outstanding, breached)
    default_minutes = default_acknowledgement_minutes(policy)
    summary = {
        "schema_version": ESCALATION_PLAN_SCHEMA,
        "product": PRODUCT,
        "plan_id": plan_id(generated_by, level, rows, default_minutes),
        "generated_at": iso(now),
        "generated_by": generated_by,
        "alert_level": level,
        "acknowledgement_minutes": default_minutes,
        "route_count": len(rows),
        "outstanding_count": outstanding,
        "breached_count": breached,
    }
    return EscalationPlan(summary, rows)


def plan_id(generated_by: str, level: str, rows: list[RouteRow], minutes: int) -> str:
    """``gordesc-`` + 16 hex of SHA-256 over {generated_by, alert_level, routes, acknowledgement_minutes}.

    The routes are encoded as rows (lists in ``ROUTE_FIELDS`` order) rather than key-sorted objects:
    the same content, a third of the bytes to hash for 100,000 routes.
    """
    material = {
        "acknowledgement_minutes": minutes,
        "alert_level": level,
        "generated_by": generated_by,
        "route_fields": ROUTE_FIELDS,
        "routes": rows,
    }
    encoded = json.dumps(material, sort_keys=True, separators=(",", ":")).encode()
    return f"{ESCALATION_PLAN_ID_PREFIX}{hashlib.sha256(encoded).hexdigest()[:16]}"
