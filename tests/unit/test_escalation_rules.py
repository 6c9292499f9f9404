"""Escalation rules (spec §3.6, §4.3, §8.3 #29 #30 #33 #34), the SLO precedence both router and
escalation use, the router's escalation fields, and the reminder / escalation timers (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cavra_contracts import slo
from cavra_contracts.deliveries import ESCALATION_SOURCE
from cavra_contracts.limits import MAX_PLAN_ID_LENGTH
from cavra_escalation import domain
from cavra_escalation.domain import SourceRoute, build_escalation_plan
from cavra_router.domain import policy as router_policy
from tests.support.escalations import planned

NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)
OWNER = "release-governance"


def source(
    *,
    age_minutes: float | None = 30.0,
    state: str = "outstanding",
    stored: int = 60,
    owner: str = OWNER,
    provider: str = "slack",
    route_id: str = "gordroute-0000000000000001",
) -> SourceRoute:
    return SourceRoute(
        schedule_id="go_backend_python_fallback_monthly",
        plan_id="gordn-0000000000000001",
        route_id=route_id,
        provider=provider,
        owner=owner,
        acknowledgement_state=state,
        stored_minutes=stored,
        age_micros=None if age_minutes is None else round(age_minutes * 60_000_000),
    )


def plan_of(*sources: SourceRoute, policy: dict[str, Any] | None = None) -> dict[str, Any]:
    return build_escalation_plan(sources, policy or {}, generated_by="console", now=NOW).document()


def test_29_a_plan_older_than_the_policy_slo_is_critical_and_recommends_escalation() -> None:
    plan = plan_of(source(age_minutes=30), policy={"acknowledgement_minutes": 5})

    assert plan["schema_version"] == "cavra.go-backend-pilot.rollback-drill-notification-escalation-plan.v1"
    assert (plan["alert_level"], plan["breached_count"], plan["outstanding_count"]) == ("critical", 1, 1)
    route = plan["routes"][0]
    assert route["recommended_action"] == "escalate_missed_drill_notification"
    assert (route["breached"], route["acknowledgement_minutes"], route["age_minutes"]) == (True, 5, 30.0)


def test_30_an_owner_rule_slo_wins_over_the_policy_value() -> None:
    policy = {
        "acknowledgement_minutes": 5,
        "owner_routes": {OWNER: {"providers": ["slack"], "acknowledgement_minutes": 20}},
    }
    plan = plan_of(source(age_minutes=10), policy=policy)

    assert (plan["alert_level"], plan["breached_count"]) == ("warning", 0)
    assert plan["routes"][0]["acknowledgement_minutes"] == 20
    assert plan["routes"][0]["recommended_action"] == "wait_for_acknowledgement"


def test_33_the_breach_is_inclusive_at_exactly_the_slo() -> None:
    assert plan_of(source(age_minutes=60))["routes"][0]["breached"] is True
    assert plan_of(source(age_minutes=59.99))["routes"][0]["breached"] is False


@pytest.mark.parametrize(
    ("state", "acknowledged", "level"),
    [
        ("escalated", False, "critical"),
        ("dismissed", False, "critical"),
        ("resolved", True, "healthy"),
        ("acknowledged", True, "healthy"),
        ("outstanding", False, "critical"),
    ],
)
def test_34_escalated_and_dismissed_stay_outstanding_resolved_clears(
    state: str, acknowledged: bool, level: str
) -> None:
    plan = plan_of(source(age_minutes=90, state=state))
    route = plan["routes"][0]

    assert (route["acknowledgement_state"], route["acknowledged"]) == (state, acknowledged)
    assert plan["alert_level"] == level
    assert plan["outstanding_count"] == (0 if acknowledged else 1)
    assert route["recommended_action"] == (
        "no_action" if acknowledged else "escalate_missed_drill_notification"
    )


def test_the_route_fields_are_those_of_the_original_in_order() -> None:
    plan = plan_of(source())

    assert list(plan) == [
        "schema_version",
        "product",
        "plan_id",
        "generated_at",
        "generated_by",
        "alert_level",
        "acknowledgement_minutes",
        "route_count",
        "outstanding_count",
        "breached_count",
        "routes",
    ]
    assert list(plan["routes"][0]) == [
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
    ]


def test_slo_precedence_owner_rule_then_policy_then_default_slo_then_stored_then_60() -> None:
    rule_for_teams = {"owner_routes": {OWNER: {"providers": ["teams"], "acknowledgement_minutes": 7}}}
    cases: list[tuple[dict[str, Any], int]] = [
        ({}, 45),  # the route's stored value
        ({"default_slo": {"acknowledgement_minutes": 25}}, 25),
        ({"acknowledgement_minutes": 15, "default_slo": {"acknowledgement_minutes": 25}}, 15),
        ({"acknowledgement_minutes": 15, "owner_routes": {OWNER: {"ack_minutes": 3}}}, 3),
        (rule_for_teams, 45),  # a rule for another provider does not apply
    ]
    for policy, expected in cases:
        assert plan_of(source(stored=45), policy=policy)["routes"][0]["acknowledgement_minutes"] == expected
    assert slo.acknowledgement_minutes({}, {}, "slack") == 60
    assert slo.acknowledgement_minutes({"acknowledgement_minutes": "x"}, {}, "slack") == 60


def test_the_default_slo_of_the_plan_comes_from_the_policy() -> None:
    assert plan_of(policy={"default_slo": {"acknowledgement_minutes": 20}})["acknowledgement_minutes"] == 20
    assert plan_of(policy={"acknowledgement_minutes": 5})["acknowledgement_minutes"] == 5
    empty = plan_of()
    assert (empty["acknowledgement_minutes"], empty["alert_level"], empty["route_count"]) == (
        60,
        "healthy",
        0,
    )


def test_an_unknown_age_never_breaches() -> None:
    route = plan_of(source(age_minutes=None))["routes"][0]
    assert (route["age_minutes"], route["breached"], route["recommended_action"]) == (
        None,
        False,
        "wait_for_acknowledgement",
    )


def test_the_plan_id_hashes_the_content_without_the_time() -> None:
    first = build_escalation_plan([source()], {}, generated_by="console", now=NOW).summary["plan_id"]
    later = build_escalation_plan([source()], {}, generated_by="console", now=NOW + timedelta(hours=1))
    other = build_escalation_plan([source(age_minutes=31)], {}, generated_by="console", now=NOW)

    assert first.startswith("gordesc-") and len(first) == len("gordesc-") + 16
    assert later.summary["plan_id"] == first
    assert other.summary["plan_id"] != first


def test_router_and_escalation_share_one_slo_precedence() -> None:
    assert router_policy.acknowledgement_minutes is slo.acknowledgement_minutes
    assert router_policy.owner_rule is slo.owner_rule


POLICY = {
    "owner_routes": {
        OWNER: {"acknowledgement_minutes": 30, "reminder_minutes": 10, "escalation_owner": "release-manager"},
        "release-manager": {"providers": ["teams", "webhook"]},
        "platform": {"acknowledgement_minutes": 15, "reminder_minutes": 15},
    }
}


def test_the_router_names_the_escalation_owners_providers_and_the_reminder_below_the_slo() -> None:
    plan = planned("monthly", now=NOW, owners=(OWNER, "platform", "other"), routing_policy=POLICY).plan
    by_owner = {decision.owner: decision for decision in plan.route_decisions}

    assert by_owner[OWNER].escalation_providers == ["teams", "webhook"]
    assert by_owner[OWNER].reminder_minutes == 10
    assert (
        by_owner["platform"].escalation_providers == []
    )  # its escalation owner is itself, no providers named
    assert by_owner["platform"].reminder_minutes is None  # not below its 15-minute SLO
    assert (by_owner["other"].escalation_providers, by_owner["other"].reminder_minutes) == ([], None)


def tracked(**policy: Any) -> domain.TrackedRoute:
    plan = planned("monthly", now=NOW, routing_policy=policy or POLICY).plan
    (route,) = domain.tracked_routes(plan.route_decisions, plan_id=plan.plan_id, generated_at=NOW)
    return route


def test_timers_remind_once_then_escalate_at_the_breach_inclusive() -> None:
    route = tracked()
    assert (route.reminder_due_at, route.breach_due_at) == (
        NOW + timedelta(minutes=10),
        NOW + timedelta(minutes=30),
    )
    assert domain.next_due(route) == route.reminder_due_at
    assert domain.step(route, NOW + timedelta(minutes=9, seconds=59)) is None
    assert domain.step(route, NOW + timedelta(minutes=10)) == "reminder"
    reminded = domain.TrackedRoute(**{**route.__dict__, "reminded_at": NOW + timedelta(minutes=10)})
    assert domain.next_due(reminded) == route.breach_due_at
    assert domain.step(reminded, NOW + timedelta(minutes=29, seconds=59)) is None
    assert domain.step(reminded, NOW + timedelta(minutes=30)) == "escalation"
    escalated = domain.TrackedRoute(**{**reminded.__dict__, "escalated_at": NOW + timedelta(minutes=30)})
    assert (domain.next_due(escalated), domain.step(escalated, NOW + timedelta(days=1))) == (None, None)


def test_a_late_timer_escalates_without_the_stale_reminder() -> None:
    assert domain.step(tracked(), NOW + timedelta(minutes=31)) == "escalation"


def test_the_escalation_job_goes_to_the_escalation_owner_on_each_provider() -> None:
    route = tracked()
    job = domain.deliver_command(route, "escalation", NOW + timedelta(minutes=30))

    assert job.job_id == f"escalation-{route.route_id}" and len(job.job_id) <= MAX_PLAN_ID_LENGTH
    assert (job.source, job.ack_links, job.content.severity) == (ESCALATION_SOURCE, True, "critical")
    assert [(t.target_key, t.provider, t.owner, t.route_id) for t in job.targets] == [
        ("teams", "teams", "release-manager", route.route_id),
        ("webhook", "webhook", "release-manager", route.route_id),
    ]
    data = job.content.data
    assert (data["schedule_id"], data["plan_id"], data["route_id"]) == (
        route.schedule_id,
        route.plan_id,
        route.route_id,
    )
    assert (data["owner"], data["age_minutes"], data["acknowledgement_minutes"]) == (OWNER, 30.0, 30)
    reminder = domain.deliver_command(route, "reminder", NOW + timedelta(minutes=10))
    assert [(t.provider, t.owner) for t in reminder.targets] == [("slack", OWNER)]
    assert reminder.job_id != job.job_id


def test_only_deliver_routes_are_tracked() -> None:
    plan = planned("monthly", now=NOW, providers=("slack", "teams"), routing_policy={}).plan
    suppressed = plan.model_copy(
        update={"route_decisions": [plan.route_decisions[0].model_copy(update={"action": "suppress"})]}
    )
    assert domain.tracked_routes(suppressed.route_decisions, plan_id=plan.plan_id, generated_at=NOW) == []
    assert len(domain.tracked_routes(plan.route_decisions, plan_id=plan.plan_id, generated_at=NOW)) == 2


def test_a_stored_line_reads_back_as_its_row_whatever_the_names_hold() -> None:
    for owner, provider in [("plain", "slack"), ("tab\there", "new\nline"), ("back\\slash\\t", "\\")]:
        (row,) = build_escalation_plan(
            [source(owner=owner, provider=provider, state="escalated")], {}, generated_by="x", now=NOW
        ).routes
        line = domain.route_line(row)
        assert "\n" not in line and line.count("\t") == 10
        assert domain.plan.parse_line(line) == domain.route_dict(row)
    unknown = build_escalation_plan([source(age_minutes=None)], {}, generated_by="x", now=NOW).routes[0]
    assert domain.plan.parse_line(domain.route_line(unknown))["age_minutes"] is None
