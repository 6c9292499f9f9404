"""The escalation plan (spec §3.6): which routes of the latest plans are outstanding or breached.

Rules: only the deliver routes of the latest plan of each schedule count, each with its latest
acknowledgement; a route is acknowledged when that state is ``acknowledged`` or ``resolved``
(``escalated`` and ``dismissed`` stay outstanding); its SLO follows the §3.4.5 precedence over
the *request* policy with the route's stored value as the fallback; it is breached when not
acknowledged and its age is known and at least the SLO (inclusive). Any breach makes the plan
``critical``, any outstanding route ``warning``, else ``healthy``.

Ages are whole microseconds rounded half up to hundredths of a minute (integer arithmetic, so
the service's SQL (``repository.py``) computes exactly the same rows; a test holds the two
together). The plan id hashes a header and the digest of the route rows' canonical lines, which
the database computes for 100,000 routes without sending them anywhere.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from itertools import groupby
from operator import itemgetter
from typing import Any, Final, NamedTuple

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
    age_micros: int | None
    """Now minus the plan's ``generated_at`` in microseconds; None when unknown."""


RouteRow = tuple[str, str, str, str, str, str, bool, float | None, int, bool, str]
"""One route row, the values of ``ROUTE_FIELDS`` in order."""


def is_acknowledged(state: str) -> bool:
    """Does the latest acknowledgement state clear the route (spec §3.5: acknowledged, resolved)?"""
    return state in CLEARING_STATES


MICROS_PER_CENTIMINUTE_HALF: Final = 30_000_000
MICROS_PER_MINUTE: Final = 60_000_000


def age_centiminutes(age_micros: int | None) -> int | None:
    """An age in hundredths of a minute, rounded half up (None when unknown)."""
    if age_micros is None:
        return None
    return (age_micros * 100 + MICROS_PER_CENTIMINUTE_HALF) // MICROS_PER_MINUTE


def age_minutes(age_seconds: float | None) -> float | None:
    """An age in seconds as minutes, rounded to two decimals (None when unknown)."""
    if age_seconds is None:
        return None
    centi = age_centiminutes(round(age_seconds * 1_000_000))
    return None if centi is None else centi / 100


def is_breached(acknowledged: bool, age_centi: int | None, slo: int) -> bool:
    """Breach rule: not acknowledged, age known, and age (two decimals) >= SLO (inclusive)."""
    return not acknowledged and age_centi is not None and age_centi >= slo * 100


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
    centi = age_centiminutes(source.age_micros)
    minutes = slo.minutes(source.owner, source.provider, source.stored_minutes)
    breached = is_breached(acknowledged, centi, minutes)
    return (
        source.schedule_id,
        source.plan_id,
        source.route_id,
        source.provider,
        source.owner,
        source.acknowledgement_state or OUTSTANDING,
        acknowledged,
        None if centi is None else centi / 100,
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


def line_head(schedule_id: str, plan_id: str, route_id: str, provider: str, owner: str) -> str:
    """The part of a route's canonical line that never changes (stored with the route)."""
    return "\t".join((schedule_id, plan_id, route_id, escape(provider), escape(owner)))


def route_line(row: RouteRow) -> str:
    """The canonical text of one route row, as the database writes it too: fields joined by tabs
    (owner and provider escaped: the ids and states hold no tab, newline or backslash), booleans
    ``true`` / ``false``, the age in hundredths of a minute (empty when unknown). Plans are stored
    as these lines and their digest hashes them."""
    age = row[7]
    values = [
        line_head(*row[:5]),
        row[5],
        _bool(row[6]),
        "" if age is None else str(round(age * 100)),
        str(row[8]),
        _bool(row[9]),
        row[10],
    ]
    return "\t".join(values)


def parse_line(line: str) -> dict[str, Any]:
    """One route of a stored plan from its canonical line (``route_line`` read back)."""
    fields = line.split("\t")
    age = fields[7]
    return {
        **dict(zip(ROUTE_FIELDS[:3], fields[:3], strict=True)),
        "provider": unescape(fields[3]),
        "owner": unescape(fields[4]),
        "acknowledgement_state": fields[5],
        "acknowledged": fields[6] == "true",
        "age_minutes": None if age == "" else int(age) / 100,
        "acknowledgement_minutes": int(fields[8]),
        "breached": fields[9] == "true",
        "recommended_action": fields[10],
    }


_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n"}
_UNESCAPES = {"\\": "\\", "t": "\t", "n": "\n"}


def escape(text: str) -> str:
    """A text field of a line: backslash, tab and newline written ``\\``, ``\\t``, ``\\n``."""
    if "\\" not in text and "\t" not in text and "\n" not in text:
        return text
    return "".join(_ESCAPES.get(char, char) for char in text)


def unescape(text: str) -> str:
    if "\\" not in text:
        return text
    out: list[str] = []
    chars = iter(text)
    for char in chars:
        out.append(_UNESCAPES.get(next(chars, ""), "") if char == "\\" else char)
    return "".join(out)


def _bool(value: bool) -> str:
    return "true" if value else "false"


def routes_digest(rows: Sequence[RouteRow]) -> str:
    """SHA-256 (hex) over the SHA-256 of each schedule's page of routes (its rows' canonical lines
    joined by newlines), in plan order: the database digests a plan's pages as it stores them."""
    digests = b"".join(
        hashlib.sha256("\n".join(map(route_line, page)).encode()).digest()
        for _, page in groupby(rows, key=itemgetter(0))
    )
    return hashlib.sha256(digests).hexdigest()


def plan_summary(
    *,
    route_count: int,
    outstanding: int,
    breached: int,
    digest: str,
    policy: Mapping[str, Any],
    generated_by: str,
    now: datetime,
) -> dict[str, Any]:
    """Every field of the plan but ``routes``, from the counts and the digest of its route rows."""
    level = alert_level(outstanding, breached)
    default_minutes = default_acknowledgement_minutes(policy)
    return {
        "schema_version": ESCALATION_PLAN_SCHEMA,
        "product": PRODUCT,
        "plan_id": plan_id(generated_by, level, digest, default_minutes),
        "generated_at": iso(now),
        "generated_by": generated_by,
        "alert_level": level,
        "acknowledgement_minutes": default_minutes,
        "route_count": route_count,
        "outstanding_count": outstanding,
        "breached_count": breached,
    }


def build_escalation_plan(
    sources: Iterable[SourceRoute], policy: Mapping[str, Any], *, generated_by: str, now: datetime
) -> EscalationPlan:
    """The escalation plan over ``sources`` (the latest plan's deliver routes of every schedule)."""
    slo = SloLookup(policy)
    rows = [route_row(source, slo) for source in sources]
    summary = plan_summary(
        route_count=len(rows),
        outstanding=sum(1 for row in rows if not row[6]),
        breached=sum(1 for row in rows if row[9]),
        digest=routes_digest(rows),
        policy=policy,
        generated_by=generated_by,
        now=now,
    )
    return EscalationPlan(summary, rows)


def plan_id(generated_by: str, level: str, digest: str, minutes: int) -> str:
    """``gordesc-`` + 16 hex of SHA-256 over {generated_by, alert_level, routes, acknowledgement_minutes}
    (the routes by their digest), without a timestamp: the same content has the same id."""
    material = {
        "acknowledgement_minutes": minutes,
        "alert_level": level,
        "generated_by": generated_by,
        "routes_sha256": digest,
    }
    encoded = json.dumps(material, sort_keys=True, separators=(",", ":")).encode()
    return f"{ESCALATION_PLAN_ID_PREFIX}{hashlib.sha256(encoded).hexdigest()[:16]}"
