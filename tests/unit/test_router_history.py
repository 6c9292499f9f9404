"""Route history rows, route categories and suppression trends (spec sections 3.7, 3.8 and 8.2).

The category now follows the reason a route was actually suppressed; the original ranked
maintenance windows and calendars above a healthy schedule, disagreeing with the decision itself.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cavra_contracts.timestamps import iso
from cavra_router.domain import (
    ROUTE_CATEGORIES,
    TREND_SCHEMA,
    build_notification_plan,
    build_suppression_trend,
    route_category,
    route_history_row,
)

NOW = datetime(2026, 5, 20, 10, 0, tzinfo=UTC)
OWNER = "release-governance"
SCHEDULE_ID = "go_backend_python_fallback_monthly"
CREATED_AT = "2026-05-20T10:00:00+00:00"
HEALTHY_REASON = "rollback drill schedule is healthy; notification suppressed"
MAINTENANCE_REASON = "matching maintenance window is active"
ROW_FIELDS = [
    "route_id",
    "created_at",
    "plan_id",
    "schedule_id",
    "alert_level",
    "provider",
    "owner",
    "escalation_owner",
    "action",
    "category",
    "reason",
    "acknowledgement_minutes",
    "maintenance_window_id",
    "maintenance_window_reason",
    "owner_available",
    "owner_availability_reason",
    "next_due_at",
]
FREEZE = {
    "window_id": "change-freeze",
    "start_at": iso(NOW - timedelta(minutes=5)),
    "end_at": iso(NOW + timedelta(minutes=30)),
    "providers": ["slack"],
    "owners": [OWNER],
    "reason": "production change freeze",
}
CASE_17_POLICY = {
    "owner_routes": {
        OWNER: {
            "providers": ["slack", "teams"],
            "acknowledgement_minutes": 15,
            "escalation_owner": "platform-lead",
        }
    },
    "maintenance_windows": [FREEZE],
}


def report(status: str, **schedule: Any) -> dict[str, Any]:
    return {
        "status": status,
        "mode": "promoted",
        "schedule": {
            "schedule_id": SCHEDULE_ID,
            "environment": "production-pilot",
            "owners": [OWNER],
            "notification_providers": ["slack", "teams"],
            "owner_routes": [],
            "maintenance_windows": [],
            "owner_calendars": {},
            "next_due_at": "2026-05-22T10:00:00+00:00",
            "days_until_due": 2.0,
            "stale": False,
            "due_soon": status == "due_soon",
            "interval_days": 30,
            "runbook_ref": "docs/runbooks/go-backend-rollback.md",
        }
        | schedule,
        "history": {"latest_drill_id": "drill-1", "latest_executed_at": "", "evidence_refs": []},
    }


def plan_for(status: str, policy: dict[str, Any] | None = None, **schedule: Any) -> dict[str, Any]:
    return build_notification_plan(
        report(status, **schedule), plan_id="gordn-00000000000000aa", routing_policy=policy, now=NOW
    )


def rows_of(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [route_history_row(plan, item, created_at=CREATED_AT) for item in plan["route_decisions"]]


def row_for(plan: dict[str, Any], provider: str, owner: str = OWNER) -> dict[str, Any]:
    return next(row for row in rows_of(plan) if (row["provider"], row["owner"]) == (provider, owner))


def trend(**overrides: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "category_counts": {"maintenance_window": 2, "owner_calendar": 1, "healthy_schedule": 3},
        "owner_counts": {OWNER: 5, "platform-oncall": 1},
        "provider_counts": {"slack": 4, "teams": 2},
        "schedule_counts": {SCHEDULE_ID: 6},
        "latest_events": [],
        "filters": {"owner": OWNER},
        "generated_by": "console",
        "now": NOW,
    }
    return build_suppression_trend(**(arguments | overrides))


def test_route_categories_constant() -> None:
    assert ROUTE_CATEGORIES == (
        "deliver",
        "healthy_schedule",
        "maintenance_window",
        "owner_calendar",
        "other",
    )


def test_case_17_rows_record_the_maintenance_window_and_escalation_owner() -> None:
    plan = plan_for("due_soon", CASE_17_POLICY)

    slack = row_for(plan, "slack")

    assert list(slack) == ROW_FIELDS
    assert {key: value for key, value in slack.items() if key != "route_id"} == {
        "created_at": CREATED_AT,
        "plan_id": "gordn-00000000000000aa",
        "schedule_id": SCHEDULE_ID,
        "alert_level": "warning",
        "provider": "slack",
        "owner": OWNER,
        "escalation_owner": "platform-lead",
        "action": "suppress",
        "category": "maintenance_window",
        "reason": MAINTENANCE_REASON,
        "acknowledgement_minutes": 15,
        "maintenance_window_id": "change-freeze",
        "maintenance_window_reason": "production change freeze",
        "owner_available": True,
        "owner_availability_reason": "no owner calendar configured",
        "next_due_at": "2026-05-22T10:00:00+00:00",
    }
    teams = row_for(plan, "teams")
    assert (teams["action"], teams["category"], teams["maintenance_window_id"]) == ("deliver", "deliver", "")


def test_route_id_hashes_the_original_identity_fields() -> None:
    plan = plan_for("due_soon", CASE_17_POLICY)

    slack = row_for(plan, "slack")

    # sha256 of the key-sorted JSON of {plan_id, schedule_id, provider, owner, action, reason, created_at}.
    assert slack["route_id"] == "gordroute-efe38f6698dd9012"
    assert slack["route_id"] != row_for(plan, "teams")["route_id"]
    later = route_history_row(plan, plan["route_decisions"][0], created_at="2026-05-20T11:00:00+00:00")
    assert later["route_id"] != slack["route_id"]


def test_row_created_at_falls_back_to_the_plan_time() -> None:
    plan = plan_for("due_soon")

    row = route_history_row(plan, plan["route_decisions"][0], created_at="")

    assert row["created_at"] == plan["generated_at"] == "2026-05-20T10:00:00+00:00"


def test_case_18_calendar_row() -> None:
    policy = {
        "owner_routes": {OWNER: {"providers": ["slack"]}},
        "owner_calendars": {
            OWNER: {
                "unavailable_windows": [
                    {
                        "start_at": iso(NOW - timedelta(hours=1)),
                        "end_at": iso(NOW),
                        "reason": "regional holiday",
                    }
                ]
            }
        },
    }

    (row,) = rows_of(plan_for("needs_attention", policy))

    assert (row["category"], row["reason"], row["owner_available"]) == (
        "owner_calendar",
        "regional holiday",
        False,
    )
    assert row["owner_availability_reason"] == "regional holiday"
    assert row["alert_level"] == "critical"


def test_case_22_healthy_row_is_categorised_healthy_even_inside_a_window() -> None:
    # The original categorised this row `maintenance_window` (category precedence differed from the
    # decision's), so the trend blamed the freeze for a suppression the healthy schedule caused.
    (row,) = rows_of(plan_for("ready", {"maintenance_windows": [FREEZE]}, notification_providers=["slack"]))

    assert (row["action"], row["reason"], row["category"]) == ("suppress", HEALTHY_REASON, "healthy_schedule")
    assert row["maintenance_window_id"] == "change-freeze"


def test_every_category_comes_from_a_real_plan() -> None:
    owners = [OWNER, "platform-oncall", "sre"]
    policy = {
        "maintenance_windows": [FREEZE],
        "owner_calendars": {"platform-oncall": {"available": False, "reason": "on leave"}},
    }

    due = rows_of(plan_for("due_soon", policy, owners=owners))
    healthy = rows_of(plan_for("ready", policy, owners=owners))

    assert Counter(row["category"] for row in due) == {
        "deliver": 3,
        "maintenance_window": 1,
        "owner_calendar": 2,
    }
    assert Counter(row["category"] for row in healthy) == {"healthy_schedule": 6}


def test_row_categories_agree_with_the_plan_counters() -> None:
    policy = {
        "maintenance_windows": [FREEZE],
        "owner_calendars": {"platform-oncall": {"available": False}},
    }
    for status in ("due_soon", "ready"):
        plan = plan_for(status, policy, owners=[OWNER, "platform-oncall"])
        categories = Counter(row["category"] for row in rows_of(plan))

        assert categories["maintenance_window"] == plan["maintenance_suppressed_count"]
        assert categories["owner_calendar"] == plan["calendar_suppressed_count"]
        assert categories["healthy_schedule"] == plan["healthy_suppressed_count"]
        assert categories["deliver"] == plan["deliverable_route_count"]


WINDOW = {"window_id": "w", "start_at": CREATED_AT, "end_at": CREATED_AT, "reason": "freeze"}
AWAY = {"available": False, "reason": "on leave"}
HERE = {"available": True, "reason": "no owner calendar configured"}


@pytest.mark.parametrize(
    ("decision", "category"),
    [
        ({"action": "deliver", "reason": "rollback drill is stale or due soon"}, "deliver"),
        ({"action": "deliver", "category": "maintenance_window"}, "deliver"),
        ({"reason": "anything"}, "deliver"),
        ({"action": "suppress", "category": "owner_calendar", "reason": "on leave"}, "owner_calendar"),
        ({"action": "suppress", "category": "deliver", "reason": HEALTHY_REASON}, "healthy_schedule"),
        # Decisions stored without a category (e.g. imported from the original) are classified by reason.
        (
            {
                "action": "suppress",
                "reason": HEALTHY_REASON,
                "maintenance_window": WINDOW,
                "owner_availability": AWAY,
            },
            "healthy_schedule",
        ),
        (
            {
                "action": "suppress",
                "reason": MAINTENANCE_REASON,
                "maintenance_window": WINDOW,
                "owner_availability": AWAY,
            },
            "maintenance_window",
        ),
        ({"action": "suppress", "reason": "on leave", "owner_availability": AWAY}, "owner_calendar"),
        (
            {
                "action": "suppress",
                "reason": "owner calendar marks route unavailable",
                "owner_availability": {"available": False},
            },
            "owner_calendar",
        ),
        ({"action": "suppress", "reason": MAINTENANCE_REASON, "owner_availability": HERE}, "other"),
        ({"action": "suppress", "reason": "provider disabled by operator"}, "other"),
        ({"action": "suppress", "category": "custom", "reason": "provider disabled"}, "other"),
        ({"action": "suppress", "category": "other", "reason": HEALTHY_REASON}, "other"),
    ],
)
def test_route_category(decision: dict[str, Any], category: str) -> None:
    assert route_category(decision) == category


def test_row_defaults_for_sparse_decisions() -> None:
    row = route_history_row(
        {"plan_id": "gordn-1"}, {"provider": "slack", "action": "suppress"}, created_at=CREATED_AT
    )

    assert (row["owner"], row["escalation_owner"], row["alert_level"]) == (OWNER, OWNER, "unknown")
    assert (row["owner_available"], row["owner_availability_reason"], row["category"]) == (True, "", "other")
    assert (row["maintenance_window_id"], row["next_due_at"], row["schedule_id"]) == ("", "", "")


def test_trend_assembles_counts_and_category_totals() -> None:
    built = trend()

    assert list(built) == [
        "schema_version",
        "product",
        "trend_id",
        "generated_at",
        "generated_by",
        "alert_level",
        "suppression_event_count",
        "category_counts",
        "owner_counts",
        "provider_counts",
        "schedule_counts",
        "maintenance_suppressed_count",
        "calendar_suppressed_count",
        "healthy_schedule_suppressed_count",
        "filters",
        "latest_events",
    ]
    assert (
        built["schema_version"]
        == TREND_SCHEMA
        == "cavra.go-backend-pilot.rollback-drill-routing-suppression-trend.v1"
    )
    assert built["trend_id"].startswith("gordrtrend-") and len(built["trend_id"]) == len("gordrtrend-") + 16
    assert (built["generated_at"], built["generated_by"]) == ("2026-05-20T10:00:00+00:00", "console")
    assert (built["alert_level"], built["suppression_event_count"]) == ("warning", 6)
    assert (
        built["maintenance_suppressed_count"],
        built["calendar_suppressed_count"],
        built["healthy_schedule_suppressed_count"],
    ) == (2, 1, 3)
    assert built["owner_counts"] == {OWNER: 5, "platform-oncall": 1}
    assert built["filters"] == {
        "schedule_id": "",
        "provider": "",
        "owner": OWNER,
        "action": "suppress",
        "category": "",
    }


def test_case_19_trend_from_the_case_17_plan_rows() -> None:
    suppressed = [row for row in rows_of(plan_for("due_soon", CASE_17_POLICY)) if row["action"] == "suppress"]

    built = trend(
        category_counts=Counter(row["category"] for row in suppressed),
        owner_counts=Counter(row["owner"] for row in suppressed),
        provider_counts=Counter(row["provider"] for row in suppressed),
        schedule_counts=Counter(row["schedule_id"] for row in suppressed),
        latest_events=suppressed,
    )

    assert built["suppression_event_count"] == 1
    assert built["category_counts"] == {"maintenance_window": 1}
    assert built["maintenance_suppressed_count"] == 1
    assert built["latest_events"] == suppressed


def test_empty_trend_is_healthy() -> None:
    built = trend(category_counts={}, owner_counts={}, provider_counts={}, schedule_counts={})

    assert (built["alert_level"], built["suppression_event_count"]) == ("healthy", 0)
    assert (built["maintenance_suppressed_count"], built["healthy_schedule_suppressed_count"]) == (0, 0)


def test_trend_keeps_the_latest_twenty_events_as_plain_json() -> None:
    events = [
        {"route_id": f"gordroute-{index:016x}", "created_at": NOW - timedelta(minutes=index)}
        for index in range(25)
    ]

    built = trend(latest_events=events)

    assert len(built["latest_events"]) == 20
    assert built["latest_events"][0] == {
        "route_id": "gordroute-0000000000000000",
        "created_at": "2026-05-20T10:00:00+00:00",
    }
    assert built["latest_events"][19]["route_id"] == "gordroute-0000000000000013"


def test_trend_id_is_stable_for_an_unchanged_read() -> None:
    first = trend()
    later = trend(
        now=NOW + timedelta(hours=3),
        latest_events=[{"route_id": "gordroute-0000000000000001"}],
        owner_counts={"platform-oncall": 1, OWNER: 5},
        filters={"owner": OWNER, "provider": "", "action": "suppress"},
    )

    assert later["trend_id"] == first["trend_id"]


@pytest.mark.parametrize(
    "change",
    [
        {"category_counts": {"maintenance_window": 3, "owner_calendar": 1, "healthy_schedule": 3}},
        {"owner_counts": {OWNER: 6}},
        {"provider_counts": {"slack": 5, "teams": 1}},
        {"schedule_counts": {SCHEDULE_ID: 5, "another": 1}},
        {"filters": {"owner": "platform-oncall"}},
        {"generated_by": "cli"},
    ],
    ids=["categories", "owners", "providers", "schedules", "filters", "generated_by"],
)
def test_trend_id_changes_with_counts_filters_or_author(change: dict[str, Any]) -> None:
    assert trend(**change)["trend_id"] != trend()["trend_id"]
