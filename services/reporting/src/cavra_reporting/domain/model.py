"""The read models' vocabulary (pure): where an event sits, history items, routes, and what an event changes.

``Change`` is what one event does to the read models; ``domain.events`` builds one per event type and
the repository applies it. The dashboard's derived figures and counter names live here too.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cavra_contracts.acknowledgements import ACK_KIND
from cavra_contracts.audit import AUDIT_DELIVERY_PLAN_KIND, AUDIT_PACKAGE_KIND
from cavra_contracts.deliveries import AUDIT_SOURCE, ESCALATION_SOURCE
from cavra_contracts.escalations import ESCALATION_PLAN_KIND
from cavra_contracts.notifications import DELIVERY_RECORD_KIND, NOTIFICATION_SOURCE
from cavra_contracts.reporting import AUDIT_KIND_PREFIX, PLAN_KIND

MAX_COUNTED_FILTERS = 3
"""History totals with up to this many filters are counters; more filters count over an index."""
AUDIT_PROVIDER = "audit_provider:"
"""Counter prefix of the providers acknowledgement-audit packages were planned for or delivered to
(spec §3.10 ``acknowledgement_audit_delivery_providers``: audit delivery plans and audit deliveries)."""


@dataclass(frozen=True)
class EventPosition:
    """Where an event sits: its stream sequence and when it occurred (the envelope's time)."""

    sequence: int
    occurred_at: datetime


@dataclass(frozen=True)
class Item:
    """One history item: its filter columns, its position and the document the history shows."""

    item_id: str
    metadata_kind: str
    created_at: datetime
    ordinal: int
    document: dict[str, Any]
    schedule_id: str = ""
    plan_id: str = ""
    providers: tuple[str, ...] = ()
    acknowledgement_state: str = ""
    connector_delivery_source: str = ""
    delivery_success: bool | None = None
    alert_level: str = ""
    counters: tuple[str, ...] = ()
    """Dashboard counters this item adds one to, beside the history's own facet counts."""
    sums: tuple[tuple[str, int], ...] = ()
    """Dashboard counters this item adds an amount to (a hoisted number of a recorded event)."""
    audit_id: str = ""
    delivery_id: str = ""
    cadence: str = ""
    replaceable: bool = False
    """A recorded event's item: a newer announcement of the same record replaces it (its counters too)."""

    def lookups(self) -> tuple[str, str, str]:
        """The ``audit_id``, ``delivery_id`` and ``cadence`` filters' values (spec §3.9): the item's own,
        else its document's top-level fields (an audit package or delivery plan; a delivery record's
        ``delivery_id`` or ``event_id``)."""
        found = []
        for name, fallback in (("audit_id", ""), ("delivery_id", "event_id"), ("cadence", "")):
            value = getattr(self, name) or self.document.get(name) or self.document.get(fallback or name)
            found.append(value if isinstance(value, str) else "")
        return found[0], found[1], found[2]

    def counted(self) -> dict[str, int]:
        """Every counter this item moves, with its amount: facets, counters and sums."""
        amounts: Counter[str] = Counter(self.facets())
        amounts.update(self.counters)
        for name, amount in self.sums:
            amounts[name] += amount
        return dict(sorted(amounts.items()))

    @property
    def source_key(self) -> str:
        """What ``connector_delivery_source`` matches: the record's source, and the audit delivery source
        for every acknowledgement-audit kind (spec §3.9 special case)."""
        if self.connector_delivery_source:
            return self.connector_delivery_source
        return AUDIT_SOURCE if self.metadata_kind.startswith(AUDIT_KIND_PREFIX) else ""

    def facets(self) -> list[str]:
        """The history counters this item counts in: ``items``, every filter value it matches, and every
        combination of up to ``MAX_COUNTED_FILTERS`` of them (so the total of a page with that many
        filters is a counter, never a count)."""
        values = [f"kind:{self.metadata_kind}"]
        values += [f"provider:{provider}" for provider in self.providers]
        if self.schedule_id:
            values.append(f"schedule:{self.schedule_id}")
        if self.acknowledgement_state:
            values.append(f"state:{self.acknowledgement_state}")
        if self.source_key:
            values.append(f"source:{self.source_key}")
        if self.delivery_success is not None:
            values.append(f"success:{str(self.delivery_success).lower()}")
        if self.alert_level:
            values.append(f"alert:{self.alert_level}")
        combined = [
            facet_pair(*combo)
            for size in range(2, MAX_COUNTED_FILTERS + 1)
            for combo in itertools.combinations(values, size)
            # one value per filter: never provider x provider
            if len({value.split(":", 1)[0] for value in combo}) == size
        ]
        return ["items", *values, *combined]


def facet_pair(*values: str) -> str:
    """The counter of the items matching every one of the filter ``values``."""
    return "&".join(sorted(values))


@dataclass(frozen=True)
class Route:
    """A route decision of a plan, as the outstanding view needs it."""

    route_id: str
    provider: str
    owner: str
    action: str


@dataclass(frozen=True)
class PlanChange:
    """A plan and its routes; it becomes its schedule's current plan when no newer one was applied."""

    plan_id: str
    schedule_id: str
    generated_at: datetime
    routes: tuple[Route, ...]


@dataclass(frozen=True)
class RouteAck:
    """An acknowledgement state of a route; the latest by (time, sequence, ordinal) is the route's."""

    route_id: str
    state: str
    acknowledged_at: datetime
    ordinal: int


@dataclass(frozen=True)
class Recovery:
    """A (playbook, provider) recovery row of a connector recovery playbook (spec §3.19)."""

    playbook_id: str
    provider: str
    generated_at: datetime


@dataclass(frozen=True)
class RecoveryClosure:
    """A closure of a recovery row; the latest by (closed_at, sequence) is the row's state."""

    playbook_id: str
    provider: str
    state: str
    closed_at: datetime


@dataclass(frozen=True)
class ApprovalPlan:
    """A retry execution approval plan and the approvals it requires."""

    approval_plan_id: str
    created_at: datetime
    required_count: int


@dataclass(frozen=True)
class ApprovalDecision:
    """An approval decision about one retry (``decision_key``) of an approval plan."""

    decision_id: str
    approval_plan_id: str
    decision_key: str
    state: str


@dataclass(frozen=True)
class EvidenceChange:
    """What a recorded event changes beside its history item: recovery rows, approvals."""

    recoveries: tuple[Recovery, ...] = ()
    closures: tuple[RecoveryClosure, ...] = ()
    approval_plan: ApprovalPlan | None = None
    decision: ApprovalDecision | None = None


@dataclass(frozen=True)
class Change:
    """Everything one event changes."""

    items: tuple[Item, ...] = ()
    evidence: EvidenceChange | None = None
    plan: PlanChange | None = None
    acks: tuple[RouteAck, ...] = ()
    escalations: tuple[tuple[str, str], ...] = ()
    """(route_id, reminder | escalation) the escalation service sent by itself."""
    locks: tuple[str, ...] = ()
    """What it must apply alone: ``schedule:<id>`` for routes of a schedule (a plan and its
    acknowledgements and escalations), ``plan:<id>`` for a job delivery waiting for its plan's schedule."""

    def lock_keys(self) -> list[str]:
        """The advisory locks to take, in one global order (so appliers never deadlock)."""
        return sorted(set(self.locks))


def unique(names: Iterable[str]) -> tuple[str, ...]:
    """The non-empty names, sorted, once each."""
    return tuple(sorted({name for name in names if name}))


def success_rate(succeeded: int, total: int) -> float | None:
    """Share of successful deliveries, 4 decimals (spec §3.10), or None when there were none."""
    return round(succeeded / total, 4) if total else None


def alert_level(failed_deliveries: int, outstanding: int) -> str:
    """The dashboard's alert level (spec §3.10): critical on any failed delivery or outstanding route."""
    return "critical" if failed_deliveries or outstanding else "healthy"


def counter_names() -> Mapping[str, str]:
    """Dashboard field -> counter it reads."""
    return {
        "plan_count": f"kind:{PLAN_KIND}",
        "delivery_count": f"kind:{DELIVERY_RECORD_KIND}",
        "notification_delivery_count": f"deliveries:{NOTIFICATION_SOURCE}",
        "escalation_delivery_count": f"deliveries:{ESCALATION_SOURCE}",
        "failed_delivery_count": "success:false",
        "acknowledgement_count": f"kind:{ACK_KIND}",
        "outstanding_acknowledgement_count": "outstanding",
        "escalation_plan_count": f"kind:{ESCALATION_PLAN_KIND}",
        "escalation_route_count": "escalated_routes:escalation",
        "reminder_route_count": "escalated_routes:reminder",
        "breached_route_count": "breached",
        "acknowledgement_audit_package_count": f"kind:{AUDIT_PACKAGE_KIND}",
        "acknowledgement_audit_delivery_plan_count": f"kind:{AUDIT_DELIVERY_PLAN_KIND}",
        "acknowledgement_audit_delivery_count": f"deliveries:{AUDIT_SOURCE}",
        "failed_acknowledgement_audit_delivery_count": f"failed_deliveries:{AUDIT_SOURCE}",
    }


@dataclass
class CounterDeltas:
    """Counter increments gathered while applying one event, written in name order (lock order)."""

    values: Counter[str] = field(default_factory=Counter)

    def add(self, name: str, amount: int = 1) -> None:
        if amount:
            self.values[name] += amount

    def sorted(self) -> tuple[list[str], list[int]]:
        names = sorted(name for name, value in self.values.items() if value)
        return names, [self.values[name] for name in names]


def latest_per_route(acks: Iterable[RouteAck]) -> tuple[RouteAck, ...]:
    """The latest of each route's acknowledgements in one event (by time, then place in the event)."""
    latest: dict[str, RouteAck] = {}
    for ack in acks:
        known = latest.get(ack.route_id)
        if known is None or (ack.acknowledged_at, ack.ordinal) > (known.acknowledged_at, known.ordinal):
            latest[ack.route_id] = ack
    return tuple(latest[route_id] for route_id in sorted(latest))
