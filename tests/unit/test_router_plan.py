"""Notification plan routing rules, checked against the original CAVRA's behaviour (spec section 8.2).

Deliberate fixes over the original are called out where a test pins them: caller-supplied plan ids,
counters that follow each decision's own category, provider normalisation and unconfigured providers.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cavra_contracts.timestamps import iso
from cavra_router.domain import (
    EVENT_SCHEMA,
    EVENT_TYPE,
    PLAN_SCHEMA,
    acknowledgement_minutes,
    active_maintenance_window,
    alert_level,
    build_notification_event,
    build_notification_plan,
    build_owner_routes,
    effective_routing_policy,
    owner_availability,
    owner_rule,
    route_category,
    route_key,
)

NOW = datetime(2026, 5, 20, 10, 0, tzinfo=UTC)
PLAN_ID = "gordn-0123456789abcdef"
OWNER = "release-governance"
SCHEDULE_ID = "go_backend_python_fallback_monthly"
HEALTHY_REASON = "rollback drill schedule is healthy; notification suppressed"
DELIVER_REASON = "rollback drill is stale or due soon"
MAINTENANCE_REASON = "matching maintenance window is active"
ALL_SUPPRESSED = "rollback drill notification routes are suppressed"
PLAN_FIELDS = [
    "schema_version",
    "product",
    "plan_id",
    "schedule_id",
    "generated_at",
    "generated_by",
    "status",
    "alert_level",
    "eligible_providers",
    "selected_providers",
    "acknowledgement_required_providers",
    "suppressed_providers",
    "owners",
    "owner_routes",
    "route_decisions",
    "deliverable_route_count",
    "suppressed_route_count",
    "maintenance_suppressed_count",
    "calendar_suppressed_count",
    "healthy_suppressed_count",
    "unconfigured_providers",
    "next_due_at",
    "reason",
    "controls",
]


def schedule_summary(**overrides: Any) -> dict[str, Any]:
    return {
        "schedule_id": SCHEDULE_ID,
        "environment": "production-pilot",
        "owners": [OWNER],
        "notification_providers": ["slack", "teams"],
        "owner_routes": [],
        "maintenance_windows": [],
        "owner_calendars": {},
        "next_due_at": iso(NOW + timedelta(days=2)),
        "days_until_due": 2.0,
        "stale": False,
        "due_soon": True,
        "interval_days": 30,
        "runbook_ref": "docs/runbooks/go-backend-rollback.md",
    } | overrides


def report(status: str = "due_soon", *, mode: str = "promoted", **schedule: Any) -> dict[str, Any]:
    return {
        "status": status,
        "mode": mode,
        "schedule": schedule_summary(**schedule),
        "history": {
            "latest_drill_id": "drill-2026-04-20",
            "latest_executed_at": "2026-04-20T10:00:00+00:00",
            "evidence_refs": ["evidence/drills/2026-04-20.json"],
        },
    }


def empty_report() -> dict[str, Any]:
    """What the scheduler reports with no history or schedule file configured."""
    return report(
        "not_requested",
        mode="disabled",
        schedule_id="",
        environment="",
        owners=[],
        notification_providers=[],
        next_due_at="",
        days_until_due=None,
        stale=True,
        due_soon=False,
        interval_days=None,
        runbook_ref="",
    )


def window(start: datetime, end: datetime, **fields: Any) -> dict[str, Any]:
    return {"start_at": iso(start), "end_at": iso(end)} | fields


def active_window(**fields: Any) -> dict[str, Any]:
    return window(NOW - timedelta(minutes=5), NOW + timedelta(minutes=30), **fields)


def plan_for(schedule_report: dict[str, Any], **options: Any) -> dict[str, Any]:
    return build_notification_plan(schedule_report, plan_id=PLAN_ID, now=NOW, **options)


def decision(plan: dict[str, Any], provider: str, owner: str = OWNER) -> dict[str, Any]:
    matches = [
        item for item in plan["route_decisions"] if (item["provider"], item["owner"]) == (provider, owner)
    ]
    assert len(matches) == 1, plan["route_decisions"]
    return matches[0]


def test_case_17_owner_route_and_maintenance_window() -> None:
    policy = {
        "owner_routes": {
            OWNER: {
                "providers": ["slack", "teams"],
                "acknowledgement_minutes": 15,
                "escalation_owner": "platform-lead",
            }
        },
        "maintenance_windows": [
            active_window(
                window_id="change-freeze", providers=["slack"], owners=[OWNER], reason="change freeze"
            )
        ],
    }

    plan = plan_for(report("due_soon"), routing_policy=policy)

    assert plan["selected_providers"] == ["teams"]
    assert plan["acknowledgement_required_providers"] == ["teams"]
    assert plan["suppressed_providers"] == ["slack"]
    assert plan["maintenance_suppressed_count"] == 1
    assert plan["deliverable_route_count"] == 1
    assert plan["suppressed_route_count"] == 1
    slack = decision(plan, "slack")
    assert (slack["action"], slack["reason"], slack["category"]) == (
        "suppress",
        MAINTENANCE_REASON,
        "maintenance_window",
    )
    assert slack["maintenance_window"] == {
        "window_id": "change-freeze",
        "start_at": "2026-05-20T09:55:00+00:00",
        "end_at": "2026-05-20T10:30:00+00:00",
        "reason": "change freeze",
    }
    teams = decision(plan, "teams")
    assert (teams["action"], teams["acknowledgement_minutes"], teams["escalation_owner"]) == (
        "deliver",
        15,
        "platform-lead",
    )
    assert plan["reason"] == DELIVER_REASON


def test_case_18_owner_calendar_suppresses_the_route() -> None:
    policy = {
        "owner_routes": {OWNER: {"providers": ["slack"]}},
        "owner_calendars": {OWNER: {"unavailable_windows": [active_window(reason="regional holiday")]}},
    }

    plan = plan_for(report("needs_attention"), routing_policy=policy)

    assert plan["selected_providers"] == []
    assert plan["calendar_suppressed_count"] == 1
    assert plan["route_decisions"][0]["reason"] == "regional holiday"
    assert plan["route_decisions"][0]["category"] == "owner_calendar"
    assert plan["reason"] == ALL_SUPPRESSED
    assert plan["alert_level"] == "critical"


def test_case_20_forced_plan_without_files_falls_back_to_webhook() -> None:
    schedule_report = empty_report()

    plan = plan_for(schedule_report, force=True, generated_by="cli")
    event = build_notification_event(schedule_report, plan=plan, generated_by="cli", now=NOW)

    assert (
        plan["schema_version"] == PLAN_SCHEMA == "cavra.go-backend-pilot.rollback-drill-notification-plan.v1"
    )
    assert plan["eligible_providers"] == ["webhook"]
    assert plan["selected_providers"] == ["webhook"]
    assert [(item["owner"], item["action"]) for item in plan["route_decisions"]] == [(OWNER, "deliver")]
    assert plan["owners"] == []
    assert plan["status"] == "not_requested"
    assert event["event_type"] == EVENT_TYPE == "cavra.go_backend.rollback_drill.notification"
    assert event["session_id"] == "go-backend-rollback-drill-schedule"
    assert event["message"] == "Go backend rollback drill status is not_requested; next due at unknown."


def test_case_21_policy_providers_are_not_intersected_with_the_webhook_fallback() -> None:
    policy = {"owner_routes": {OWNER: {"providers": ["slack"], "acknowledgement_minutes": 15}}}

    plan = plan_for(empty_report(), force=True, routing_policy=policy)

    assert plan["eligible_providers"] == ["webhook"]
    assert plan["selected_providers"] == ["slack"]
    assert plan["route_decisions"][0]["acknowledgement_minutes"] == 15
    # No suppressed route, so suppressed providers are the eligible ones nobody selected.
    assert plan["suppressed_providers"] == ["webhook"]


def test_case_22_healthy_schedule_wins_and_is_counted_as_healthy_only() -> None:
    # The original counted these routes in maintenance_suppressed_count and calendar_suppressed_count
    # although they were suppressed because the schedule is healthy; the counters now follow the reason.
    policy = {
        "maintenance_windows": [active_window(window_id="change-freeze", providers=["slack"])],
        "owner_calendars": {OWNER: {"available": False, "reason": "on leave"}},
    }

    plan = plan_for(report("ready"), routing_policy=policy)

    assert {item["action"] for item in plan["route_decisions"]} == {"suppress"}
    assert {item["reason"] for item in plan["route_decisions"]} == {HEALTHY_REASON}
    assert {item["category"] for item in plan["route_decisions"]} == {"healthy_schedule"}
    assert decision(plan, "slack")["maintenance_window"]["window_id"] == "change-freeze"
    assert plan["maintenance_suppressed_count"] == 0
    assert plan["calendar_suppressed_count"] == 0
    assert plan["healthy_suppressed_count"] == 2
    assert plan["suppressed_route_count"] == 2
    assert plan["alert_level"] == "healthy"


def test_case_23_forced_healthy_plan_delivers_every_route() -> None:
    plan = plan_for(report("ready"), force=True)

    assert [item["action"] for item in plan["route_decisions"]] == ["deliver", "deliver"]
    assert {item["reason"] for item in plan["route_decisions"]} == {DELIVER_REASON}
    assert plan["selected_providers"] == ["slack", "teams"]
    assert plan["alert_level"] == "healthy"
    assert plan["reason"] == DELIVER_REASON
    assert plan["healthy_suppressed_count"] == 0


@pytest.mark.parametrize(
    ("maintenance", "suppressed"),
    [
        (window(NOW - timedelta(hours=1), NOW), True),
        (window(NOW, NOW + timedelta(hours=1)), True),
        (window(NOW - timedelta(hours=1), NOW - timedelta(microseconds=1)), False),
        (window(NOW + timedelta(microseconds=1), NOW + timedelta(hours=1)), False),
        ({"start_at": "not-a-time", "end_at": iso(NOW + timedelta(hours=1))}, False),
        ({"end_at": iso(NOW + timedelta(hours=1))}, False),
    ],
    ids=["now-is-end", "now-is-start", "ended", "not-started", "unparsable-start", "no-start"],
)
def test_case_24_window_bounds_are_inclusive_and_must_parse(
    maintenance: dict[str, Any], suppressed: bool
) -> None:
    plan = plan_for(
        report("due_soon", notification_providers=["slack"]),
        routing_policy={"maintenance_windows": [maintenance]},
    )

    assert plan["route_decisions"][0]["action"] == ("suppress" if suppressed else "deliver")
    assert plan["maintenance_suppressed_count"] == int(suppressed)


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ({"acknowledgement_minutes": 30, "owner_routes": {OWNER: {"acknowledgement_minutes": 15}}}, 15),
        (
            {
                "acknowledgement_minutes": 30,
                "owner_routes": {OWNER: {"providers": ["slack"], "acknowledgement_minutes": 15}},
            },
            15,
        ),
        ({"acknowledgement_minutes": 30}, 30),
        ({"default_slo": {"acknowledgement_minutes": 45}}, 45),
        ({"acknowledgement_minutes": 30, "default_slo": {"acknowledgement_minutes": 45}}, 30),
        ({}, 60),
        ({"owner_routes": {OWNER: {"acknowledgement_minutes": 0}}}, 60),
        ({"owner_routes": {OWNER: {"acknowledgement_minutes": "abc"}}}, 60),
        ({"acknowledgement_minutes": 0}, 60),
        ({"acknowledgement_minutes": "abc", "default_slo": {"acknowledgement_minutes": 45}}, 60),
        ({"acknowledgement_minutes": -5}, 60),
        ({"owner_routes": {OWNER: {"ack_minutes": 20}}}, 20),
        ({"owner_routes": {OWNER: {"acknowledgement_minutes": "25"}}}, 25),
    ],
)
def test_case_25_acknowledgement_minutes_precedence(policy: dict[str, Any], expected: int) -> None:
    plan = plan_for(report("due_soon", notification_providers=["slack"]), routing_policy=policy)

    assert plan["route_decisions"][0]["acknowledgement_minutes"] == expected


def test_case_25_owner_rule_for_other_providers_does_not_apply() -> None:
    policy = {"acknowledgement_minutes": 30}
    rule = {"providers": ["teams"], "acknowledgement_minutes": 15}

    assert acknowledgement_minutes(policy, rule, "slack") == 30
    assert acknowledgement_minutes(policy, rule, "Teams") == 15
    assert acknowledgement_minutes({}, rule, "slack") == 60
    assert acknowledgement_minutes({}, rule, "slack", default=40) == 40
    assert acknowledgement_minutes(policy, rule, "slack", default=40) == 30


def test_case_26_identical_inputs_give_distinct_plans_with_identical_decisions() -> None:
    # The original hashed the content into plan_id, so identical re-plans collided and overwrote.
    first = build_notification_plan(report(), plan_id="gordn-00000000000000aa", now=NOW)
    second = build_notification_plan(report(), plan_id="gordn-00000000000000bb", now=NOW)

    assert first["plan_id"] == "gordn-00000000000000aa"
    assert second["plan_id"] == "gordn-00000000000000bb"
    assert first["route_decisions"] == second["route_decisions"]
    assert {key: value for key, value in first.items() if key != "plan_id"} == {
        key: value for key, value in second.items() if key != "plan_id"
    }


def test_case_27_requested_provider_outside_the_schedule_selects_nothing() -> None:
    plan = plan_for(report("due_soon", notification_providers=["teams"]), requested_provider="slack")

    assert plan["eligible_providers"] == []
    assert plan["selected_providers"] == []
    assert plan["route_decisions"] == []
    assert plan["reason"] == ALL_SUPPRESSED


def test_case_27_owner_rule_naming_the_requested_provider_routes_it() -> None:
    policy = {"owner_routes": {OWNER: {"providers": ["slack"]}}}

    plan = plan_for(
        report("due_soon", notification_providers=["teams"]),
        requested_provider="slack",
        routing_policy=policy,
    )

    assert plan["eligible_providers"] == []
    assert plan["selected_providers"] == ["slack"]


def test_requested_comma_list_keeps_only_requested_eligible_providers() -> None:
    plan = plan_for(
        report(notification_providers=["slack", "teams", "jira"]), requested_provider="jira, slack"
    )

    assert plan["eligible_providers"] == ["slack", "jira"]
    assert plan["selected_providers"] == ["jira", "slack"]


def test_eligible_providers_fall_back_to_available_then_webhook() -> None:
    no_providers = report(notification_providers=[])

    assert plan_for(no_providers, available_providers=["Jira", "servicenow"])["eligible_providers"] == [
        "jira",
        "servicenow",
    ]
    assert plan_for(no_providers)["eligible_providers"] == ["webhook"]
    assert plan_for(report(), available_providers=["jira"])["eligible_providers"] == ["slack", "teams"]


DECISION_ONLY = {"action", "reason", "category", "escalation_providers", "reminder_minutes"}
"""Keys a route decision adds to its owner route: the decision, and what follows an unacknowledged one."""


def test_plan_has_every_field_in_order() -> None:
    plan = plan_for(report(), generated_by="console")

    assert list(plan) == PLAN_FIELDS
    assert plan["product"] == "CAVRA"
    assert plan["plan_id"] == PLAN_ID
    assert plan["schedule_id"] == SCHEDULE_ID
    assert plan["generated_at"] == "2026-05-20T10:00:00+00:00"
    assert plan["generated_by"] == "console"
    assert plan["owners"] == [OWNER]
    assert plan["next_due_at"] == "2026-05-22T10:00:00+00:00"
    assert plan["owner_routes"] == [
        {key: value for key, value in item.items() if key not in DECISION_ONLY}
        for item in plan["route_decisions"]
    ]
    assert plan["controls"] == [
        "routing-policy-derived-from-public-safe-owner-metadata",
        "maintenance-windows-contain-no-provider-credentials",
        "owner-calendars-are-public-safe-availability-metadata",
        "notification-plan-does-not-mutate-runtime-mode",
    ]


def test_route_key_hashes_schedule_provider_and_owner() -> None:
    plan = plan_for(report())

    slack = decision(plan, "slack")
    assert slack["route_key"] == route_key(SCHEDULE_ID, "slack", OWNER)
    assert slack["route_key"] == "gordroute-26e6503e904b28c7"
    assert slack["route_key"] != decision(plan, "teams")["route_key"]


@pytest.mark.parametrize(
    ("status", "level"),
    [
        ("needs_attention", "critical"),
        ("due_soon", "warning"),
        ("ready", "healthy"),
        ("not_requested", "healthy"),
    ],
)
def test_alert_level_follows_readiness(status: str, level: str) -> None:
    assert alert_level(status) == level
    assert plan_for(report(status))["alert_level"] == level


def test_routing_rules_alias_with_single_provider_string_and_manager() -> None:
    policy = {
        "routing_rules": {
            OWNER: {"notification_providers": "Jira", "manager": "release-manager", "ack_minutes": 5}
        }
    }

    plan = plan_for(report(), routing_policy=policy)

    assert plan["selected_providers"] == ["jira"]
    assert plan["route_decisions"][0]["escalation_owner"] == "release-manager"
    assert plan["route_decisions"][0]["acknowledgement_minutes"] == 5


def test_escalation_owner_defaults_to_the_owner() -> None:
    plan = plan_for(report(owners=["release-governance", "platform-oncall"]))

    assert {item["owner"]: item["escalation_owner"] for item in plan["route_decisions"]} == {
        "release-governance": "release-governance",
        "platform-oncall": "platform-oncall",
    }


def test_list_form_owner_routes_merge_matching_entries_later_ones_winning() -> None:
    rules = [
        {"providers": ["slack"], "acknowledgement_minutes": 45},
        {"owners": [OWNER], "acknowledgement_minutes": 20, "escalation_owner": "platform-lead"},
        {"owners": ["platform-oncall"], "providers": ["jira"], "acknowledgement_minutes": 10},
    ]

    plan = plan_for(report(owners=[OWNER, "platform-oncall"], owner_routes=rules))

    governance = decision(plan, "slack", OWNER)
    assert (governance["acknowledgement_minutes"], governance["escalation_owner"]) == (20, "platform-lead")
    oncall = decision(plan, "jira", "platform-oncall")
    assert (oncall["acknowledgement_minutes"], oncall["escalation_owner"]) == (10, "platform-oncall")
    assert len(plan["route_decisions"]) == 2
    assert owner_rule({"owner_routes": rules}, "someone-else") == rules[0]


def test_owner_rule_object_form_and_missing_owner() -> None:
    policy = {"owner_routes": {OWNER: {"providers": ["slack"]}}}

    assert owner_rule(policy, OWNER) == {"providers": ["slack"]}
    assert owner_rule(policy, "platform-oncall") == {}
    assert owner_rule({"owner_routes": "not-a-rule"}, OWNER) == {}


def test_maintenance_window_aliases() -> None:
    policy = {
        "suppression_windows": [
            {
                "id": "quarter-close",
                "starts_at": "2026-05-20T09:00:00Z",
                "ends_at": "2026-05-20T11:00:00Z",
                "description": "quarter close",
            }
        ]
    }

    found = active_maintenance_window(policy, schedule_id=SCHEDULE_ID, provider="slack", owner=OWNER, now=NOW)

    assert found == {
        "window_id": "quarter-close",
        "start_at": "2026-05-20T09:00:00+00:00",
        "end_at": "2026-05-20T11:00:00+00:00",
        "reason": "quarter close",
    }


def test_maintenance_window_defaults_and_first_match_wins() -> None:
    policy = {
        "maintenance_windows": [
            active_window(providers=["teams"]),
            active_window(),
            active_window(window_id="x"),
        ]
    }

    found = active_maintenance_window(policy, schedule_id=SCHEDULE_ID, provider="slack", owner=OWNER, now=NOW)

    assert found is not None
    assert (found["window_id"], found["reason"]) == ("maintenance-window", "maintenance window")


@pytest.mark.parametrize(
    ("matchers", "applies"),
    [
        (
            {"schedule_ids": [SCHEDULE_ID.upper()], "owners": ["Release-Governance"], "providers": ["SLACK"]},
            True,
        ),
        ({"schedule_ids": ["another-schedule"]}, False),
        ({"owners": ["platform-oncall"]}, False),
        ({"providers": ["teams"]}, False),
        ({"providers": [], "owners": []}, True),
    ],
)
def test_maintenance_window_matchers_are_case_insensitive(matchers: dict[str, Any], applies: bool) -> None:
    policy = {"maintenance_windows": [active_window(**matchers)]}

    found = active_maintenance_window(policy, schedule_id=SCHEDULE_ID, provider="slack", owner=OWNER, now=NOW)

    assert (found is not None) is applies


@pytest.mark.parametrize(
    ("calendar", "expected"),
    [
        (None, {"available": True, "reason": "no owner calendar configured"}),
        (
            {"unavailable_windows": [window(NOW - timedelta(hours=2), NOW + timedelta(hours=2))]},
            {
                "available": False,
                "reason": "owner calendar unavailable",
                "start_at": "2026-05-20T08:00:00+00:00",
                "end_at": "2026-05-20T12:00:00+00:00",
            },
        ),
        ({"available": False}, {"available": False, "reason": "owner calendar unavailable"}),
        ({"available": False, "reason": "team offsite"}, {"available": False, "reason": "team offsite"}),
        ({}, {"available": True, "reason": "owner calendar available"}),
        (
            {"unavailable_windows": [window(NOW + timedelta(hours=1), NOW + timedelta(hours=2))]},
            {"available": True, "reason": "owner calendar available"},
        ),
    ],
    ids=["no-calendar", "blackout", "unavailable", "unavailable-with-reason", "available", "future-blackout"],
)
def test_owner_availability_outcomes(calendar: dict[str, Any] | None, expected: dict[str, Any]) -> None:
    policy = {"owner_calendars": {OWNER: calendar} if calendar is not None else {}}

    assert owner_availability(policy, OWNER, NOW) == expected


def test_owner_calendar_aliases() -> None:
    policy = {"calendars": {OWNER: {"blackout_windows": [active_window(reason="regional holiday")]}}}

    plan = plan_for(report(), routing_policy=policy)

    assert plan["calendar_suppressed_count"] == 2
    assert {item["reason"] for item in plan["route_decisions"]} == {"regional holiday"}


def test_supplied_policy_wins_per_key_over_the_schedule() -> None:
    schedule = schedule_summary(
        owner_routes={OWNER: {"providers": ["slack"]}},
        maintenance_windows=[active_window()],
        owner_calendars={OWNER: {"available": False}},
    )

    policy = effective_routing_policy(
        schedule, {"owner_routes": {OWNER: {"providers": ["jira"]}}, "extra": 1}
    )

    assert policy["owner_routes"] == {OWNER: {"providers": ["jira"]}}
    assert policy["maintenance_windows"] == schedule["maintenance_windows"]
    assert policy["owner_calendars"] == schedule["owner_calendars"]
    assert policy["extra"] == 1
    assert effective_routing_policy(schedule, None)["owner_routes"] == {OWNER: {"providers": ["slack"]}}


def test_an_aliased_policy_setting_is_not_shadowed_by_the_schedule_default() -> None:
    # The scheduler always reports owner_routes, maintenance_windows and owner_calendars (empty when
    # unset); taken over blindly they would hide `routing_rules`, `suppression_windows` and `calendars`.
    policy = effective_routing_policy(
        schedule_summary(),
        {"routing_rules": {}, "suppression_windows": [], "calendars": {}},
    )

    assert "owner_routes" not in policy
    assert "maintenance_windows" not in policy
    assert "owner_calendars" not in policy


def test_schedule_routing_metadata_applies_without_a_supplied_policy() -> None:
    plan = plan_for(
        report(
            owner_routes={OWNER: {"providers": ["slack"], "acknowledgement_minutes": 12}},
            maintenance_windows=[active_window(providers=["slack"])],
        )
    )

    assert plan["route_decisions"][0]["acknowledgement_minutes"] == 12
    assert plan["maintenance_suppressed_count"] == 1


def test_provider_names_are_normalised_everywhere() -> None:
    policy = {
        "owner_routes": {"platform-oncall": {"providers": "Service-Now"}},
        "maintenance_windows": [active_window(providers=["MS-Teams"], owners=[OWNER])],
    }
    schedule_report = report(
        owners=[OWNER, "platform-oncall"], notification_providers=[" Slack ", "ms-teams", "SLACK"]
    )

    plan = plan_for(
        schedule_report,
        requested_provider="MS_TEAMS, slack, service-now",
        configured_providers=["SLACK", "Service-Now"],
        routing_policy=policy,
    )

    assert plan["eligible_providers"] == ["slack", "ms_teams"]
    assert [(item["owner"], item["provider"], item["action"]) for item in plan["route_decisions"]] == [
        (OWNER, "ms_teams", "suppress"),
        (OWNER, "slack", "deliver"),
        ("platform-oncall", "service_now", "deliver"),
    ]
    assert plan["unconfigured_providers"] == []


def test_all_is_recognised_whatever_its_case() -> None:
    assert plan_for(report(), requested_provider=" ALL ")["eligible_providers"] == ["slack", "teams"]


def test_unconfigured_deliver_routes_are_reported_not_dropped() -> None:
    plan = plan_for(report(notification_providers=["slack", "teams", "jira"]), configured_providers=["Slack"])

    assert plan["unconfigured_providers"] == ["jira", "teams"]
    assert plan["selected_providers"] == ["jira", "slack", "teams"]
    assert decision(plan, "teams")["action"] == "deliver"


def test_unconfigured_providers_ignore_suppressed_routes_and_unchecked_plans() -> None:
    policy = {"maintenance_windows": [active_window(providers=["teams"])]}

    assert (
        plan_for(report(), configured_providers=["slack"], routing_policy=policy)["unconfigured_providers"]
        == []
    )
    assert plan_for(report(), configured_providers=None)["unconfigured_providers"] == []
    assert plan_for(report(), configured_providers=[])["unconfigured_providers"] == ["slack", "teams"]


def test_categories_agree_with_the_counters() -> None:
    owners = [OWNER, "platform-oncall", "sre"]
    policy = {
        "maintenance_windows": [active_window(owners=[OWNER], providers=["slack"])],
        "owner_calendars": {"platform-oncall": {"available": False, "reason": "on leave"}},
    }

    plan = plan_for(report(owners=owners), routing_policy=policy)

    categories = Counter(item["category"] for item in plan["route_decisions"])
    assert categories == {"maintenance_window": 1, "owner_calendar": 2, "deliver": 3}
    assert plan["maintenance_suppressed_count"] == categories["maintenance_window"]
    assert plan["calendar_suppressed_count"] == categories["owner_calendar"]
    assert plan["healthy_suppressed_count"] == categories["healthy_schedule"] == 0
    assert plan["deliverable_route_count"] == categories["deliver"]
    assert all(route_category(item) == item["category"] for item in plan["route_decisions"])


def test_maintenance_window_takes_precedence_over_the_owner_calendar() -> None:
    policy = {
        "maintenance_windows": [active_window()],
        "owner_calendars": {OWNER: {"available": False}},
    }

    plan = plan_for(report(notification_providers=["slack"]), routing_policy=policy)

    only = plan["route_decisions"][0]
    assert (only["reason"], only["category"]) == (MAINTENANCE_REASON, "maintenance_window")
    assert (plan["maintenance_suppressed_count"], plan["calendar_suppressed_count"]) == (1, 0)


def test_duplicate_and_blank_owners_route_once() -> None:
    plan = plan_for(report(owners=[OWNER, OWNER, ""], notification_providers=["slack"]))

    assert plan["owners"] == [OWNER]
    assert len(plan["route_decisions"]) == 1


def test_build_owner_routes_filters_by_requested_providers() -> None:
    schedule = schedule_summary()

    routes = build_owner_routes(
        schedule, {}, eligible_providers=["slack", "teams"], requested_providers=["teams"], now=NOW
    )

    assert [route["provider"] for route in routes] == ["teams"]
    assert list(routes[0]) == [
        "route_key",
        "schedule_id",
        "provider",
        "owner",
        "acknowledgement_minutes",
        "escalation_owner",
        "maintenance_window",
        "owner_availability",
    ]


def test_notification_event_announces_the_plan_without_provider_payloads() -> None:
    schedule_report = report("due_soon")
    plan = plan_for(schedule_report)

    event = build_notification_event(schedule_report, plan=plan, generated_by="console", now=NOW)

    assert event["schema_version"] == EVENT_SCHEMA == "cavra.go-backend-pilot.rollback-drill-notification.v1"
    assert "provider_payloads" not in event
    assert event["session_id"] == SCHEDULE_ID
    assert (event["generated_at"], event["generated_by"]) == ("2026-05-20T10:00:00+00:00", "console")
    assert (event["alert_level"], event["status"], event["mode"]) == ("warning", "due_soon", "promoted")
    assert event["title"] == "CAVRA Go rollback drill schedule warning"
    assert event["message"] == (
        "Go backend rollback drill status is due_soon; next due at 2026-05-22T10:00:00+00:00."
    )
    assert event["summary"] == {
        "environment": "production-pilot",
        "latest_drill_id": "drill-2026-04-20",
        "latest_executed_at": "2026-04-20T10:00:00+00:00",
        "next_due_at": "2026-05-22T10:00:00+00:00",
        "days_until_due": 2.0,
        "stale": False,
        "due_soon": True,
        "interval_days": 30,
    }
    assert event["owners"] == [OWNER]
    assert event["notification_providers"] == ["slack", "teams"]
    assert event["owner_routes"] == plan["owner_routes"]
    assert event["runbook_ref"] == "docs/runbooks/go-backend-rollback.md"
    assert event["evidence_refs"] == ["evidence/drills/2026-04-20.json"]
    assert event["plan_id"] == PLAN_ID
    assert event["controls"] == [
        "notification-derived-from-public-drill-schedule",
        "no-runtime-mode-change-performed-by-public-notification",
        "connector-delivery-evidence-redacts-secrets",
        "private-connectors-remain-responsible-for-ticket-or-chat-side-effects",
    ]


def test_event_defaults_when_the_report_is_missing_fields() -> None:
    event = build_notification_event({}, plan={}, generated_by="cli", now=NOW)

    assert (event["status"], event["mode"], event["alert_level"]) == ("not_requested", "disabled", "healthy")
    assert event["session_id"] == "go-backend-rollback-drill-schedule"
    assert (event["owner_routes"], event["evidence_refs"], event["plan_id"]) == ([], [], "")
