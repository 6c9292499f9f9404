"""The domain rules are total: no accepted input, and no value stored before a limit existed, raises.

Property tests feed the scheduler's and the router's pure rules numbers and timestamps from
the whole range Python can hold (huge, infinite, NaN, negative, the calendar's edges); the
only allowed outcome of an out-of-range value is a clamped or ignored one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from cavra_contracts.limits import MAX_ACKNOWLEDGEMENT_MINUTES
from cavra_contracts.schedules import DrillRunV1
from cavra_router.domain import acknowledgement_minutes, build_notification_plan
from cavra_scheduler.domain import (
    history_next_state_change_at,
    history_summary,
    next_state_change_at,
    schedule_summary,
)
from cavra_scheduler.store import _advanced_due

NOW = datetime(2026, 5, 20, 10, 0, tzinfo=UTC)

numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([3_000_000, 99_999_999_999, 1e308, -1e308, 0, 0.0, True, False]),
)
moments = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.sampled_from([UTC])
) | st.sampled_from([datetime.max.replace(tzinfo=UTC), datetime.min.replace(tzinfo=UTC)])
offsets = st.sampled_from(["Z", "+00:00", "-05:00", "+14:00", ""])
timestamps = st.one_of(
    st.builds(lambda moment, offset: moment.replace(tzinfo=None).isoformat() + offset, moments, offsets),
    st.sampled_from(["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00", "soon", "", "99999"]),
)


def schedule(interval_days: Any, next_due_at: Any) -> dict[str, Any]:
    return {
        "schema_version": "cavra.go-backend-rollback-drill-schedule.v1",
        "schedule_id": "monthly",
        "status": "active",
        "interval_days": interval_days,
        "next_due_at": next_due_at,
        "owners": ["release-governance"],
        "notification_providers": ["slack"],
        "runbook_ref": "docs/runbook.md",
    }


def history(executed_at: Any, recovery_minutes: Any = 7) -> dict[str, Any]:
    drill = {
        "drill_id": "d",
        "executed_at": executed_at,
        "status": "pass",
        "target_mode": "disabled",
        "fallback_verified": True,
        "recovery_minutes": recovery_minutes,
        "max_recovery_minutes": 15,
        "runbook_ref": "r",
        "evidence_refs": ["e"],
    }
    return {"schema_version": "cavra.go-backend-rollback-drill-history.v1", "drills": [drill]}


@settings(max_examples=400, deadline=None)
@given(
    interval_days=numbers,
    next_due_at=st.one_of(st.none(), timestamps),
    executed_at=timestamps,
    days=numbers,
    recovery=numbers,
    now=moments,
)
def test_schedule_and_history_rules_never_raise(
    interval_days: Any, next_due_at: Any, executed_at: Any, days: Any, recovery: Any, now: datetime
) -> None:
    days = float(days) if not isinstance(days, bool) else 14.0
    document = history(executed_at, recovery)
    summary = history_summary(document, problem=None, max_age_days=days, now=now)
    history_next_state_change_at(document, max_age_days=days, now=now)
    schedule_document = schedule(interval_days, next_due_at)
    schedule_summary(schedule_document, summary, problem=None, due_soon_days=days, now=now)
    change = next_state_change_at(schedule_document, summary, due_soon_days=days, now=now)
    assert change is None or change > now


def proving_drill(executed_at: datetime) -> DrillRunV1:
    return DrillRunV1.model_validate(
        {
            "drill_id": "d",
            "executed_at": executed_at,
            "status": "pass",
            "target_mode": "disabled",
            "fallback_verified": True,
        }
    )


def test_a_proving_drill_on_a_schedule_with_a_huge_interval_leaves_it_where_it_is() -> None:
    # The poison of issue 6: interval_days 3,000,000 (stored before the limit) -> OverflowError.
    stored = schedule(3_000_000, "2026-06-20T00:00:00+00:00")
    assert _advanced_due(stored, proving_drill(NOW)) is None


@settings(max_examples=200, deadline=None)
@given(
    interval_days=numbers,
    executed_at=st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2999, 12, 31)),
)
def test_advancing_a_schedule_never_raises(interval_days: Any, executed_at: datetime) -> None:
    stored = schedule(interval_days, "2026-06-20T00:00:00+00:00")
    advanced = _advanced_due(stored, proving_drill(executed_at.replace(tzinfo=UTC)))
    assert advanced is None or advanced > "2026-06-20"


def test_a_proving_drill_still_advances_a_normal_schedule() -> None:
    stored = schedule(30, "2026-06-01T00:00:00+00:00")
    assert _advanced_due(stored, proving_drill(NOW)) == "2026-06-19T10:00:00+00:00"


ack_values = st.one_of(
    numbers,
    st.text(max_size=30),
    st.sampled_from(["99999999999", "25", "1e9", "inf", "nan", "-3"]),
    st.none(),
)


@settings(max_examples=400, deadline=None)
@given(policy_value=ack_values, slo_value=ack_values, rule_value=ack_values)
def test_acknowledgement_minutes_always_fit_the_route_history_column(
    policy_value: Any, slo_value: Any, rule_value: Any
) -> None:
    policy = {"acknowledgement_minutes": policy_value, "default_slo": {"acknowledgement_minutes": slo_value}}
    for rule in ({}, {"acknowledgement_minutes": rule_value}, {"ack_minutes": rule_value}):
        minutes = acknowledgement_minutes(policy, rule, "slack", default=rule_value)
        assert isinstance(minutes, int) and 1 <= minutes <= MAX_ACKNOWLEDGEMENT_MINUTES < 2**31


def test_an_owner_route_slo_past_the_column_range_is_clamped() -> None:
    # The poison of issue 6: acknowledgement_minutes 99999999999 overflowed the integer column.
    policy = {"owner_routes": {"ops": {"acknowledgement_minutes": 99_999_999_999}}}
    assert (
        acknowledgement_minutes(policy, policy["owner_routes"]["ops"], "slack") == MAX_ACKNOWLEDGEMENT_MINUTES
    )


@settings(max_examples=150, deadline=None)
@given(
    start=timestamps,
    end=timestamps,
    minutes=ack_values,
    now=st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)),
)
def test_plans_never_raise_on_any_window_calendar_or_slo(
    start: Any, end: Any, minutes: Any, now: datetime
) -> None:
    window = {"start_at": start, "end_at": end, "reason": "freeze"}
    report = {
        "status": "needs_attention",
        "schedule": {
            "schedule_id": "monthly",
            "owners": ["ops"],
            "notification_providers": ["slack"],
            "owner_routes": {"ops": {"acknowledgement_minutes": minutes}},
            "maintenance_windows": [window],
            "owner_calendars": {"ops": {"unavailable_windows": [window]}},
        },
    }
    plan = build_notification_plan(report, plan_id="gordn-1", now=now, max_routes=500)
    assert all(
        1 <= d["acknowledgement_minutes"] <= MAX_ACKNOWLEDGEMENT_MINUTES for d in plan["route_decisions"]
    )


def test_a_timestamp_with_an_offset_past_the_calendar_is_a_validation_error() -> None:
    with pytest.raises(ValidationError):  # was a bare OverflowError out of the contract
        DrillRunV1.model_validate(
            {"drill_id": "d", "status": "pass", "executed_at": "9999-12-31T23:00:00-05:00"}
        )
    late = datetime(2999, 12, 31, 23, 0, tzinfo=timezone(timedelta(hours=-5)))
    with pytest.raises(ValidationError):
        proving_drill(late)
