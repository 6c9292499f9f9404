"""The chaos run's verdict, computed from what the sink saw, what PostgreSQL stored and what was killed.

Pure: no I/O, so ``tests/unit/test_chaos_summary.py`` holds the table to its definitions.

* A *route* is one owner x connector of one load schedule: the run sends one plan command per
  schedule, so ``(schedule_id, owner, connector)`` names a route however many plans or keys it got.
* A *re-send* is an arrival under an idempotency key that had already arrived. It is *in flight at
  a kill* when the previous arrival under that key lies in the kill's window: from ``window`` seconds
  before the kill of the delivery replica that sent it until the sink has read what that replica
  wrote before it died, or from ``window`` seconds before a restart of nats-server or PostgreSQL
  (which every replica depends on) until it was back (see :meth:`Kill.window`). A re-send after a
  kill of its sender whose previous arrival is older than the window is *earlier in a plan in
  flight* (the whole plan was sent again); any other re-send is *unexplained*.
* *Delivered under different keys*: a route that arrived under two or more idempotency keys (e.g.
  one plan command planned twice).
* *Evidence rows duplicated*: ``deliveries`` rows beyond the first for one ``(schedule, route_key)``
  and ``delivery_records`` rows beyond the first for one plan or one schedule.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

SERVERS = ("nats-server", "postgres")
SINK_LAG = 0.5
"""Requests a process wrote just before it was killed can be read by the sink a little after."""


@dataclass(frozen=True)
class Arrival:
    """One request the sink received."""

    at: float
    key: str
    """Its idempotency key: ``webhook-id``, else ``Idempotency-Key``, else the CloudEvent id."""
    schedule_id: str
    owner: str
    connector: str
    plan_id: str = ""
    route_key: str = ""
    sender: int | None = None
    """PID of the process whose socket sent it, when it could be found."""

    @property
    def route(self) -> tuple[str, str, str]:
        return (self.schedule_id, self.owner, self.connector)


@dataclass
class Kill:
    """One ``kill -9``: what, when, and when the system had it back."""

    target: str
    pid: int
    at: float
    recovered_at: float | None = None
    new_pid: int | None = None
    mid_send: bool = False
    """Killed while routes were arriving at the sink (from this replica, for a delivery replica)."""

    @property
    def is_server(self) -> bool:
        return self.target in SERVERS

    def window(self, seconds: float, *, sent_by_it: bool = False) -> tuple[float, float]:
        """When a route must have reached the sink to count as in flight at this kill: from
        ``seconds`` before it until the server was back (nats-server, PostgreSQL), or until the sink
        has read what the process sent just before it died: ``SINK_LAG`` after the kill, or any time
        when the route is known to come from the killed process (which sent nothing after it)."""
        if self.is_server:
            end = self.recovered_at or self.at
        else:
            end = math.inf if sent_by_it else self.at + SINK_LAG
        return (self.at - seconds, end)


@dataclass(frozen=True)
class EvidenceRow:
    """One ``deliveries`` row: the basic columns every version of the table has."""

    plan_id: str
    route_key: str
    delivery_id: str
    status: str


@dataclass
class Summary:
    expected: int
    delivered: int
    missing: int
    unexpected: int
    resent_routes: int
    resent_arrivals: int
    different_keys_routes: int
    evidence_duplicated: int
    evidence_not_final: int
    routes_without_evidence: int
    plans_without_record: int
    resends_in_flight: int
    resends_earlier_in_plan: int
    resends_unexplained: int
    per_kill: dict[int, tuple[int, int]] = field(default_factory=dict)
    """Index into the kills -> (re-sends in flight, re-sends earlier in the plan) it explains."""
    missing_sample: list[tuple[str, str, str]] = field(default_factory=list)
    unexplained_sample: list[str] = field(default_factory=list)

    def failed_goals(self) -> list[str]:
        """The goals this run missed, in words; empty when every goal is met."""
        goals = [
            (self.missing == 0, f"{self.missing} routes missing"),
            (self.evidence_duplicated == 0, f"{self.evidence_duplicated} evidence rows duplicated"),
            (self.different_keys_routes == 0, f"{self.different_keys_routes} routes under different keys"),
            (self.resends_earlier_in_plan == 0, f"{self.resends_earlier_in_plan} re-sends not in flight"),
            (self.resends_unexplained == 0, f"{self.resends_unexplained} re-sends with no kill to explain"),
            (self.routes_without_evidence == 0, f"{self.routes_without_evidence} routes without evidence"),
            (self.plans_without_record == 0, f"{self.plans_without_record} plans without a record"),
            (self.evidence_not_final == 0, f"{self.evidence_not_final} evidence rows not final"),
        ]
        return [words for met, words in goals if not met]


def summarize(
    expected: Iterable[tuple[str, str, str]],
    arrivals: Iterable[Arrival],
    evidence: Iterable[EvidenceRow],
    records: Iterable[str],
    kills: list[Kill],
    *,
    plan_schedules: Mapping[str, str],
    window: float,
    final_statuses: frozenset[str] = frozenset({"delivered"}),
) -> Summary:
    """The table's figures. ``records`` holds the plan id of each ``delivery_records`` row;
    ``plan_schedules`` maps plan ids to their schedule (for evidence of plans no arrival named)."""
    wanted = set(expected)
    ordered = sorted(arrivals, key=lambda a: a.at)
    by_key: dict[str, list[Arrival]] = defaultdict(list)
    keys_by_route: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for arrival in ordered:
        by_key[arrival.key].append(arrival)
        keys_by_route[arrival.route].add(arrival.key)
    schedules = dict(plan_schedules) | {a.plan_id: a.schedule_id for a in ordered if a.plan_id}

    in_flight = earlier = 0
    per_kill: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    unexplained: list[str] = []
    for key, seen in by_key.items():
        for previous, again in zip(seen, seen[1:], strict=False):
            verdict = _explain(previous, again, kills, window)
            if verdict is None:
                unexplained.append(key)
            elif verdict[1]:
                in_flight += 1
                per_kill[verdict[0]][0] += 1
            else:
                earlier += 1
                per_kill[verdict[0]][1] += 1

    rows_by_route: dict[tuple[str, str], list[EvidenceRow]] = defaultdict(list)
    for row in evidence:
        rows_by_route[(schedules.get(row.plan_id, row.plan_id), row.route_key)].append(row)
    records_by_plan: dict[str, int] = defaultdict(int)
    for plan_id in records:
        records_by_plan[plan_id] += 1
    plans_by_schedule: dict[str, int] = defaultdict(int)
    for plan_id, count in records_by_plan.items():
        plans_by_schedule[schedules.get(plan_id, plan_id)] += count
    # One plan command per schedule: a schedule's second record is a plan recorded twice or planned twice.
    duplicated = sum(len(rows) - 1 for rows in rows_by_route.values()) + sum(
        count - 1 for count in plans_by_schedule.values()
    )
    arrived_routes = {(a.schedule_id, a.route_key) for a in ordered if a.route in wanted}
    final = {route for route, rows in rows_by_route.items() if any(r.status in final_statuses for r in rows)}
    planned = {a.plan_id for a in ordered if a.plan_id} | {r.plan_id for r in evidence}

    missing = sorted(wanted - set(keys_by_route))
    return Summary(
        expected=len(wanted),
        delivered=len(wanted & set(keys_by_route)),
        missing=len(missing),
        unexpected=sum(1 for a in ordered if a.route not in wanted),
        resent_routes=len({by_key[key][0].route for key, seen in by_key.items() if len(seen) > 1}),
        resent_arrivals=sum(len(seen) - 1 for seen in by_key.values()),
        different_keys_routes=sum(1 for keys in keys_by_route.values() if len(keys) > 1),
        evidence_duplicated=duplicated,
        evidence_not_final=sum(1 for rows in rows_by_route.values() for r in rows if r.status == "pending"),
        routes_without_evidence=len(arrived_routes - final),
        plans_without_record=len(planned - set(records_by_plan)),
        resends_in_flight=in_flight,
        resends_earlier_in_plan=earlier,
        resends_unexplained=len(unexplained),
        per_kill={index: (counts[0], counts[1]) for index, counts in per_kill.items()},
        missing_sample=missing[:5],
        unexplained_sample=unexplained[:5],
    )


def _explain(previous: Arrival, again: Arrival, kills: list[Kill], window: float) -> tuple[int, bool] | None:
    """Which kill explains sending ``previous`` again, and whether it was in flight at that kill."""
    fallback: int | None = None
    for index, kill in enumerate(kills):
        if kill.at > again.at:
            continue  # the kill came after the second send
        if not kill.is_server and not kill.target.startswith("delivery"):
            continue  # only a delivery replica or a server it needs can make delivery send again
        sent_by_it = previous.sender == kill.pid
        if not kill.is_server and previous.sender is not None and not sent_by_it:
            continue  # another replica sent it: this kill cannot have interrupted that send
        start, end = kill.window(window, sent_by_it=sent_by_it)
        if previous.at > end:
            continue  # sent after this kill was over
        if previous.at >= start:
            return (index, True)
        fallback = index if fallback is None else fallback
    return None if fallback is None else (fallback, False)


def render(summary: Summary, kills: list[Kill], *, started: float, window: float) -> str:
    """The table, the re-send attribution and one line per kill."""
    header = (
        "routes expected",
        "delivered",
        "missing",
        "delivered twice (same key)",
        "twice under different keys",
        "evidence rows duplicated",
    )
    twice = f"{summary.resent_routes} ({summary.resent_arrivals} re-sends)"
    values = (
        str(summary.expected),
        str(summary.delivered),
        str(summary.missing),
        twice,
        str(summary.different_keys_routes),
        str(summary.evidence_duplicated),
    )
    widths = [max(len(h), len(v)) for h, v in zip(header, values, strict=True)]
    lines = [
        " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)),
        "-+-".join("-" * w for w in widths),
        " | ".join(v.rjust(w) for v, w in zip(values, widths, strict=True)),
        "",
        f"re-sends: {summary.resent_arrivals}: in flight at a kill (sent <= {window:.1f}s before it, "
        f"or during a server restart) {summary.resends_in_flight}; earlier in a plan in flight at a "
        f"kill of its sender {summary.resends_earlier_in_plan}; unexplained {summary.resends_unexplained}",
        f"evidence: routes delivered without a final row {summary.routes_without_evidence}, rows still "
        f"pending {summary.evidence_not_final}, plans without a delivery record "
        f"{summary.plans_without_record}; unexpected arrivals {summary.unexpected}",
        "kills:",
    ]
    for index, kill in enumerate(kills):
        back = (
            f"back in {kill.recovered_at - kill.at:.1f}s (pid {kill.new_pid})"
            if kill.recovered_at is not None
            else "NOT back"
        )
        resent = summary.per_kill.get(index, (0, 0))
        lines.append(
            f"  +{kill.at - started:6.1f}s  kill -9 {kill.target:<12} pid {kill.pid:<7} "
            f"{'mid-send' if kill.mid_send else 'idle    '} {back}; "
            f"re-sends it explains: {resent[0]} in flight, {resent[1]} earlier in the plan"
        )
    if summary.missing_sample:
        lines.append(f"missing, first few: {summary.missing_sample}")
    if summary.unexplained_sample:
        lines.append(f"unexplained re-sends, first few keys: {summary.unexplained_sample}")
    return "\n".join(lines)
