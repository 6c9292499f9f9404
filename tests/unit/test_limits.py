"""Every input from outside has an upper bound: checked by the contracts, documented in docs/api.md.

Each poison below was accepted before the limits existed and then broke a service: an
OverflowError in date arithmetic, an int4 overflow in the router, a plan past max_payload.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from cavra_contracts import limits
from cavra_contracts.notifications import PlanNotificationV1, RouteHistoryQueryV1
from cavra_contracts.scheduler import ListSchedulesQueryV1, RecordDrillRunV1
from cavra_contracts.schedules import (
    DrillRunV1,
    RollbackDrillHistoryV1,
    RollbackDrillScheduleV1,
    planned_route_count,
)
from cavra_router.domain import build_owner_routes, effective_routing_policy

LONG_OWNER = "o" * (limits.MAX_OWNER_LENGTH + 1)
API_DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"

SCHEDULE: dict[str, Any] = {
    "schema_version": "cavra.go-backend-rollback-drill-schedule.v1",
    "schedule_id": "monthly",
    "interval_days": 30,
    "next_due_at": "2026-06-20T15:40:00Z",
    "owners": ["release-governance"],
    "notification_providers": ["slack", "teams"],
    "runbook_ref": "docs/runbook.md",
}
DRILL: dict[str, Any] = {
    "drill_id": "d-1",
    "executed_at": "2026-05-21T15:40:00Z",
    "status": "pass",
    "target_mode": "disabled",
    "fallback_verified": True,
    "recovery_minutes": 7,
    "max_recovery_minutes": 15,
    "runbook_ref": "docs/runbook.md",
    "evidence_refs": ["ci://fallback"],
}


def owners(count: int) -> list[str]:
    return [f"team-{n}" for n in range(count)]


def error_fields(model: type[BaseModel], document: dict[str, Any]) -> set[str]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(document)
    return {".".join(str(part) for part in error["loc"]) for error in caught.value.errors()}


def test_every_limit_is_in_the_api_docs_with_its_value() -> None:
    text = API_DOC.read_text()
    for limit in limits.LIMITS:
        assert getattr(limits, limit.name) is not None
        value = f"{limit.value:,}" if isinstance(limit.value, int) else limit.value
        row = re.search(rf"^\| `{limit.name}` \| {re.escape(value)} \|", text, re.MULTILINE)
        assert row, f"docs/api.md must list {limit.name} = {value}"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"interval_days": 3_000_000}, "interval_days"),
        ({"interval_days": limits.MAX_INTERVAL_DAYS + 0.5}, "interval_days"),
        ({"next_due_at": "9999-12-31T23:00:00-05:00"}, "next_due_at"),  # past the calendar in UTC
        ({"next_due_at": "3000-01-01T00:00:00Z"}, "next_due_at"),
        ({"next_due_at": "1969-12-31T23:59:59Z"}, "next_due_at"),
        (
            {"owner_routes": {"release-governance": {"acknowledgement_minutes": 99_999_999_999}}},
            "owner_routes.release-governance.acknowledgement_minutes",
        ),
        ({"routing_rules": [{"owners": ["x"], "ack_minutes": 10_081}]}, "routing_rules.0.ack_minutes"),
        ({"owner_routes": [{"providers": ["p"] * 17}]}, "owner_routes.0.providers"),
        ({"owner_routes": {LONG_OWNER: {}}}, f"owner_routes.{LONG_OWNER}.[key]"),
        ({"owners": owners(limits.MAX_OWNERS + 1)}, "owners"),
        ({"owners": ["o" * (limits.MAX_OWNER_LENGTH + 1)]}, "owners.0"),
        (
            {"notification_providers": [f"p{n}" for n in range(limits.MAX_PROVIDERS + 1)]},
            "notification_providers",
        ),
        ({"environment": "e" * (limits.MAX_TEXT_LENGTH + 1)}, "environment"),
        ({"runbook_ref": "r" * (limits.MAX_REF_LENGTH + 1)}, "runbook_ref"),
        (
            {"maintenance_windows": [{"start_at": "2026-01-01", "end_at": "2026-01-02"}] * 101},
            "maintenance_windows",
        ),
        (
            {
                "maintenance_windows": [
                    {"start_at": "2026-01-01", "end_at": "2026-01-02", "reason": "r" * 201}
                ]
            },
            "maintenance_windows.0.reason",
        ),
        (
            {
                "owner_calendars": {
                    "x": {"unavailable_windows": [{"start_at": "2026-01-01", "end_at": "5000-01-01"}]}
                }
            },
            "owner_calendars.x.unavailable_windows.0.end_at",
        ),
    ],
)
def test_a_schedule_past_a_limit_is_rejected_naming_the_field(change: dict[str, Any], field: str) -> None:
    assert field in error_fields(RollbackDrillScheduleV1, SCHEDULE | change)


def test_three_thousand_owners_times_three_providers_is_rejected_naming_owners() -> None:
    fields = error_fields(
        RollbackDrillScheduleV1,
        SCHEDULE | {"owners": owners(3000), "notification_providers": ["slack", "teams", "webhook"]},
    )
    assert fields == {"owners"}


def test_owners_times_providers_past_the_route_limit_names_both() -> None:
    fields = error_fields(
        RollbackDrillScheduleV1,
        SCHEDULE | {"owners": owners(200), "notification_providers": ["slack", "teams", "webhook"]},
    )
    assert fields == {"owners", "notification_providers"}


def test_an_owner_rule_naming_more_providers_counts_its_own() -> None:
    rules = [{"providers": ["slack", "teams", "webhook"]}]  # applies to every owner
    fields = error_fields(RollbackDrillScheduleV1, SCHEDULE | {"owners": owners(200), "owner_routes": rules})
    assert fields == {"owners", "notification_providers", "owner_routes"}
    one_owner_more = {"team-0": {"providers": ["slack", "teams", "webhook"]}}
    RollbackDrillScheduleV1.model_validate(
        SCHEDULE | {"owners": owners(249), "owner_routes": one_owner_more}  # 248 x 2 + 3 = 499
    )


def test_values_at_their_limits_are_accepted() -> None:
    RollbackDrillScheduleV1.model_validate(
        SCHEDULE
        | {
            "interval_days": limits.MAX_INTERVAL_DAYS,
            "next_due_at": "2999-12-31T23:59:59Z",
            "owners": owners(limits.MAX_ROUTES_PER_PLAN),
            "notification_providers": ["webhook"],
            "owner_routes": {"team-0": {"acknowledgement_minutes": limits.MAX_ACKNOWLEDGEMENT_MINUTES}},
        }
    )
    DrillRunV1.model_validate(
        DRILL | {"recovery_minutes": limits.MAX_RECOVERY_MINUTES, "executed_at": "1970-01-01T00:00:00Z"}
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"recovery_minutes": 1e12}, "recovery_minutes"),
        ({"max_recovery_minutes": limits.MAX_RECOVERY_MINUTES + 1}, "max_recovery_minutes"),
        ({"executed_at": "3500-01-01T00:00:00Z"}, "executed_at"),
        ({"executed_at": "9999-12-31T23:59:59-01:00"}, "executed_at"),
        ({"evidence_refs": ["e"] * (limits.MAX_EVIDENCE_REFS + 1)}, "evidence_refs"),
        ({"actor": "a" * (limits.MAX_TEXT_LENGTH + 1)}, "actor"),
        ({"drill_id": "d" * (limits.MAX_ID_LENGTH + 1)}, "drill_id"),
    ],
)
def test_a_drill_past_a_limit_is_rejected_naming_the_field(change: dict[str, Any], field: str) -> None:
    assert field in error_fields(DrillRunV1, DRILL | change)


def test_a_history_file_has_a_maximum_number_of_drills() -> None:
    drills = [DRILL | {"drill_id": f"d-{n}"} for n in range(limits.MAX_DRILLS_PER_FILE + 1)]
    document = {"schema_version": "cavra.go-backend-rollback-drill-history.v1", "drills": drills}
    assert error_fields(RollbackDrillHistoryV1, document) == {"drills"}


@pytest.mark.parametrize(
    ("policy", "field"),
    [
        ({"acknowledgement_minutes": 99_999_999_999}, "routing_policy.acknowledgement_minutes"),
        (
            {"default_slo": {"acknowledgement_minutes": 0}},
            "routing_policy.default_slo.acknowledgement_minutes",
        ),
        (
            {"owner_routes": {"ops": {"acknowledgement_minutes": 99_999_999_999}}},
            "routing_policy.owner_routes.ops.acknowledgement_minutes",
        ),
        (
            {"routing_rules": [{"escalation_owner": "e" * 129}]},
            "routing_policy.routing_rules.0.escalation_owner",
        ),
        (
            {"suppression_windows": [{"start_at": "2026-01-01T00:00:00Z", "end_at": "5000-01-01T00:00:00Z"}]},
            "routing_policy.suppression_windows.0.end_at",
        ),
        ({"calendars": {"ops": {"reason": "r" * 201}}}, "routing_policy.calendars.ops.reason"),
    ],
)
def test_a_deliver_routing_policy_is_bounded_like_a_schedule(policy: dict[str, Any], field: str) -> None:
    assert field in error_fields(PlanNotificationV1, {"routing_policy": policy})


def test_a_routing_policy_is_kept_exactly_as_sent() -> None:
    policy = {"routing_rules": [{"owners": "ops", "ack_minutes": "25"}], "calendars": {}, "custom": [1]}
    assert PlanNotificationV1.model_validate({"routing_policy": policy}).routing_policy == policy


@pytest.mark.parametrize(
    ("model", "document", "field"),
    [
        (PlanNotificationV1, {"schedule_id": "a b"}, "schedule_id"),
        (PlanNotificationV1, {"provider": "x" * 2000}, "provider"),
        (ListSchedulesQueryV1, {"offset": 10**30}, "offset"),
        (RouteHistoryQueryV1, {"offset": limits.MAX_OFFSET + 1}, "offset"),
        (RouteHistoryQueryV1, {"owner": "o" * 201}, "owner"),
        (RecordDrillRunV1, {"drill": DRILL, "environment": "e" * 201}, "environment"),
    ],
)
def test_message_fields_are_bounded(model: type[BaseModel], document: dict[str, Any], field: str) -> None:
    assert field in error_fields(model, document)


# --- the PUT-time route count is the router's ------------------------------------------------

_names = st.sampled_from(["slack", "Slack", "teams", "jira", "web-hook", "web_hook", " siem "])
_owner = st.sampled_from(["a", "b", "c", "d"])
_rule = st.fixed_dictionaries(
    {},
    optional={
        "owners": st.one_of(_owner, st.lists(_owner, max_size=3)),
        "providers": st.one_of(_names, st.lists(_names, max_size=4)),
        "notification_providers": st.lists(_names, max_size=4),
    },
)


@settings(max_examples=300, deadline=None)
@given(
    schedule_owners=st.lists(_owner, min_size=1, max_size=6),
    providers=st.lists(_names, min_size=1, max_size=4),
    owner_routes=st.one_of(st.dictionaries(_owner, _rule, max_size=4), st.lists(_rule, max_size=4)),
)
def test_planned_route_count_is_the_number_of_routes_the_router_builds(
    schedule_owners: list[str], providers: list[str], owner_routes: dict[str, Any] | list[Any]
) -> None:
    schedule = {"schedule_id": "s", "owners": schedule_owners, "notification_providers": providers}
    schedule["owner_routes"] = owner_routes
    routes = build_owner_routes(
        schedule,
        effective_routing_policy(schedule, None),
        eligible_providers=providers,
        requested_providers=[],
        now=datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert planned_route_count(schedule_owners, providers, owner_routes) == len(routes)
