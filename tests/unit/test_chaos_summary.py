"""The chaos table counts what its header says (bench/chaos_summary.py; the run itself is `make chaos`)."""

from __future__ import annotations

from bench.chaos_summary import Arrival, EvidenceRow, Kill, Summary, render, summarize

ROUTES = [("s-1", "team-a", "hook_a"), ("s-1", "team-b", "hook_a"), ("s-2", "team-a", "hook_a")]
PLANS = {"s-1": "plan-1", "s-2": "plan-2"}
REPLICA_1, REPLICA_2 = 101, 102


def sent(route: tuple[str, str, str], at: float, *, sender: int = REPLICA_1, plan: str = "") -> Arrival:
    schedule, owner, connector = route
    plan_id = plan or PLANS[schedule]
    return Arrival(
        at=at,
        key=f"{plan_id}:{owner}:{connector}",
        schedule_id=schedule,
        owner=owner,
        connector=connector,
        plan_id=plan_id,
        route_key=f"rk-{owner}-{connector}",
        sender=sender,
    )


def evidence_of(arrivals: list[Arrival], status: str = "delivered") -> list[EvidenceRow]:
    rows = {(a.plan_id, a.route_key): EvidenceRow(a.plan_id, a.route_key, a.key, status) for a in arrivals}
    return list(rows.values())


def table(
    arrivals: list[Arrival],
    kills: list[Kill],
    *,
    evidence: list[EvidenceRow] | None = None,
    records: list[str] | None = None,
) -> Summary:
    """The summary with, by default, one delivered row per arrived route and one record per plan."""
    rows = evidence_of(arrivals) if evidence is None else evidence
    plans = sorted({a.plan_id for a in arrivals}) if records is None else records
    return summarize(ROUTES, arrivals, rows, plans, kills, plan_schedules={}, window=2.0)


def test_a_clean_run_meets_every_goal() -> None:
    arrivals = [sent(route, at=10.0 + i) for i, route in enumerate(ROUTES)]
    summary = table(arrivals, [Kill("router", 7, at=11.5, recovered_at=13.0)])
    assert (summary.expected, summary.delivered, summary.missing) == (3, 3, 0)
    assert (summary.resent_arrivals, summary.different_keys_routes, summary.evidence_duplicated) == (0, 0, 0)
    assert summary.failed_goals() == []


def test_a_route_sent_again_after_its_replica_died_while_sending_it_was_in_flight() -> None:
    first = [sent(route, at=10.0) for route in ROUTES]
    again = sent(ROUTES[0], at=45.0, sender=REPLICA_2)
    kill = Kill("delivery-1", REPLICA_1, at=11.0, recovered_at=13.0)
    summary = table([*first, again], [kill])
    assert (summary.resent_routes, summary.resent_arrivals, summary.resends_in_flight) == (1, 1, 1)
    assert summary.per_kill == {0: (1, 0)}
    assert summary.failed_goals() == []


def test_a_route_the_sink_read_just_after_its_sender_died_was_in_flight() -> None:
    kill = Kill("delivery-1", REPLICA_1, at=11.0, recovered_at=13.0)
    late_read = [sent(route, at=11.2) for route in ROUTES]  # written before the kill, read after it
    summary = table([*late_read, sent(ROUTES[0], at=45.0, sender=REPLICA_2)], [kill])
    assert (summary.resends_in_flight, summary.resends_earlier_in_plan) == (1, 0)


def test_a_route_sent_long_before_the_kill_and_sent_again_was_not_in_flight() -> None:
    first = [sent(route, at=1.0) for route in ROUTES]
    kill = Kill("delivery-1", REPLICA_1, at=11.0, recovered_at=13.0)
    summary = table([*first, sent(ROUTES[0], at=45.0)], [kill])
    assert (summary.resends_in_flight, summary.resends_earlier_in_plan) == (0, 1)
    assert summary.failed_goals() == ["1 re-sends not in flight"]


def test_a_re_send_needs_a_kill_of_its_sender_or_of_a_server_in_between() -> None:
    first = [sent(route, at=10.0) for route in ROUTES]
    other_replica = Kill("delivery-2", REPLICA_2, at=10.5, recovered_at=12.0)
    router = Kill("router", 9, at=10.5, recovered_at=12.0)
    summary = table([*first, sent(ROUTES[0], at=20.0)], [other_replica, router])
    assert summary.resends_unexplained == 1
    postgres = Kill("postgres", 5, at=9.0, recovered_at=12.0)  # sent during the outage: in flight
    assert table([*first, sent(ROUTES[0], at=20.0)], [postgres]).resends_in_flight == 1


def test_a_route_planned_twice_is_a_duplicate_under_another_key_with_duplicated_evidence() -> None:
    arrivals = [sent(route, at=10.0) for route in ROUTES]
    replanned = sent(ROUTES[0], at=12.0, plan="plan-1b")
    summary = table([*arrivals, replanned], [])
    assert (summary.different_keys_routes, summary.resent_arrivals) == (1, 0)
    assert summary.evidence_duplicated == 2  # the second plan's row for that route and its record
    assert "1 routes under different keys" in summary.failed_goals()


def test_missing_routes_and_unfinished_evidence_are_counted() -> None:
    arrivals = [sent(route, at=10.0) for route in ROUTES[:2]]
    pending = [EvidenceRow("plan-2", "rk-team-a-hook_a", "plan-2:team-a:hook_a", "pending")]
    summary = table(arrivals, [], evidence=evidence_of(arrivals) + pending, records=["plan-1"])
    assert (summary.delivered, summary.missing, summary.missing_sample) == (2, 1, [ROUTES[2]])
    assert (summary.evidence_not_final, summary.plans_without_record) == (1, 1)
    text = render(summary, [Kill("gateway", 3, at=5.0)], started=0.0, window=2.0)
    assert "NOT back" in text and "routes expected" in text.splitlines()[0]
