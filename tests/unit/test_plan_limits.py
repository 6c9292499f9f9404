"""The router never builds, stores or publishes a plan larger than the documented limits.

A plan over ``MAX_ROUTES_PER_PLAN`` routes is refused before a single route is built (the count
is cheap); one whose route decisions would be over ``MAX_PLAN_ROUTE_BYTES`` is refused after.
Either way ``planning.build`` returns a rejected plan naming the field to shrink, which
``planning.store`` turns into PlanRejectedV1.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from cavra_contracts import limits
from cavra_contracts.schedules import RollbackDrillScheduleV1
from cavra_router import domain, planning
from cavra_router.repository import like_literal

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def report(**schedule: Any) -> dict[str, Any]:
    summary = {
        "schedule_id": "monthly",
        "owners": ["release-governance"],
        "notification_providers": ["webhook"],
        "owner_routes": {},
        "maintenance_windows": [],
        "owner_calendars": {},
        "next_due_at": "2026-10-25T00:00:00+00:00",
    } | schedule
    return {"status": "needs_attention", "mode": "disabled", "schedule": summary, "history": {}}


def build(schedule_report: dict[str, Any], **options: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "plan_id": "gordn-0000000000000000",
        "requested_provider": "all",
        "routing_policy": None,
        "force": False,
        "generated_by": "test",
        "configured": None,
        "now": NOW,
    } | options
    plan, _ = planning.build(schedule_report, **arguments)
    return plan


def owners(count: int, length: int = 8) -> list[str]:
    return [f"{n:0{length}d}" for n in range(count)]


def test_a_stored_schedule_of_3000_owners_times_3_providers_is_rejected_without_building_routes() -> None:
    # Stored before the limit existed (PUT now refuses it), e.g. by an older release.
    legacy = report(owners=owners(3000), notification_providers=["slack", "teams", "webhook"])
    started = time.perf_counter()
    plan = build(legacy)
    assert time.perf_counter() - started < 0.5, "the routes were counted, not built"
    assert plan[planning.REJECTION] == {
        "status_code": 422,
        "field": "owners",
        "message": "owners x providers give 9000 routes; a plan holds at most 500",
    }
    assert plan["route_decisions"] == [] and plan["unconfigured_providers"] == []


def test_a_deliver_policy_that_adds_providers_past_the_limit_names_the_policy() -> None:
    schedule = report(owners=owners(200))  # 200 routes: accepted at PUT
    policy = {"owner_routes": [{"providers": ["slack", "teams", "webhook"]}]}  # 600 routes
    plan = build(schedule, routing_policy=policy)
    assert plan[planning.REJECTION]["field"] == "routing_policy.owner_routes"
    assert "600 routes" in plan[planning.REJECTION]["message"]
    assert planning.REJECTION not in build(schedule, routing_policy=policy, requested_provider="slack,teams")


def test_the_largest_accepted_ascii_plan_is_built_and_fits_the_byte_limit() -> None:
    long_owner = limits.MAX_OWNER_LENGTH
    text = "r" * limits.MAX_TEXT_LENGTH
    names = owners(limits.MAX_ROUTES_PER_PLAN, long_owner)
    window = {
        "window_id": "w" * limits.MAX_ID_LENGTH,
        "start_at": "2026-11-01T00:00:00Z",
        "end_at": "2026-11-02T00:00:00Z",
        "reason": text,
    }
    blackout = {"start_at": "2026-11-01T00:00:00Z", "end_at": "2026-11-02T00:00:00Z", "reason": text}
    document = {
        "schema_version": "cavra.go-backend-rollback-drill-schedule.v1",
        "schedule_id": "s" * limits.MAX_ID_LENGTH,
        "interval_days": 30,
        "owners": names,
        "notification_providers": ["p" * limits.MAX_PROVIDER_LENGTH],
        "owner_routes": [{"escalation_owner": "e" * limits.MAX_OWNER_LENGTH}],
        "maintenance_windows": [window],
        "owner_calendars": {name: {"unavailable_windows": [blackout]} for name in names},
        "runbook_ref": "r",
    }
    accepted = RollbackDrillScheduleV1.model_validate(document).as_json_dict()
    plan = build(report(**accepted))
    assert planning.REJECTION not in plan
    assert len(plan["route_decisions"]) == limits.MAX_ROUTES_PER_PLAN
    size = planning.route_bytes(plan)
    assert size <= limits.MAX_PLAN_ROUTE_BYTES < limits.NATS_MAX_PAYLOAD
    print(f"worst-case ASCII plan: {size} bytes of route decisions, {size // len(names)} per route")


def test_a_plan_whose_decisions_pass_the_byte_limit_is_rejected() -> None:
    wide = "\U0001f680" * limits.MAX_OWNER_LENGTH  # 4 bytes per character
    names = [f"{n:03d}{wide[3:]}" for n in range(limits.MAX_ROUTES_PER_PLAN)]
    calendars = {name: {"available": False, "reason": wide * 2} for name in names}
    plan = build(report(owners=names, owner_routes=[{"escalation_owner": wide}], owner_calendars=calendars))
    assert plan[planning.REJECTION]["field"] == "owners"
    assert "bytes" in plan[planning.REJECTION]["message"]


def test_the_domain_raises_plan_too_large_only_when_asked_to_count() -> None:
    big = report(owners=owners(600))
    with pytest.raises(domain.PlanTooLarge) as caught:
        domain.build_notification_plan(big, plan_id="p", now=NOW, max_routes=500)
    assert caught.value.field == "owners"
    assert len(domain.build_notification_plan(big, plan_id="p", now=NOW)["route_decisions"]) == 600


@pytest.mark.parametrize(
    ("text", "pattern"),
    [("_", "\\_"), ("%", "\\%"), ("a\\b", "a\\\\b"), ("ops/hook_1%", "ops/hook\\_1\\%"), ("plain", "plain")],
)
def test_like_literal_escapes_every_wildcard(text: str, pattern: str) -> None:
    assert like_literal(text) == pattern
