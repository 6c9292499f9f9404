"""The router never builds, stores or publishes a plan larger than the documented limits.

A plan over ``MAX_ROUTES_PER_PLAN`` routes is refused before a single route is built (the count
is cheap): ``planning.build`` returns a rejected plan naming the field to shrink. One whose event
would be over ``MAX_EVENT_BYTES`` is refused by ``planning.store`` before anything is written.
Either way only a PlanRejectedV1 is enqueued.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from cavra_contracts import limits
from cavra_contracts.envelope import Envelope, make_envelope
from cavra_contracts.notifications import DeliveryOptions, PlanNotificationV1
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


def test_the_largest_accepted_ascii_plan_is_built_and_its_route_decisions_fit_one_event() -> None:
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
    # The budget of an event that carries the route decisions: ~734 KB here, ~1.5 KB a route.
    size = len(json.dumps(plan["route_decisions"], separators=(",", ":")).encode())
    assert size <= 0.85 * limits.MAX_EVENT_BYTES < limits.MAX_EVENT_BYTES < limits.NATS_MAX_PAYLOAD


class RecordingConnection:
    """Just enough of asyncpg.Connection for planning.store: records every statement."""

    def __init__(self) -> None:
        self.statements: list[tuple[str, tuple[Any, ...]]] = []

    async def execute(self, sql: str, *args: Any) -> str:
        self.statements.append((sql, args))
        return "OK"

    async def executemany(self, sql: str, rows: list[Any]) -> None:
        self.statements.append((sql, tuple(rows)))


async def store(plan: dict[str, Any], event: dict[str, Any]) -> Any:
    conn = RecordingConnection()
    cause = make_envelope(PlanNotificationV1(), producer="test")
    published: Envelope = await planning.store(
        conn,  # type: ignore[arg-type]
        plan,
        event,
        trigger="api",
        delivery=DeliveryOptions(),
        cause=cause,
        now=NOW,
    )
    return published, [sql.split()[2] for sql, _ in conn.statements if sql.lstrip().startswith("INSERT")]


async def test_a_plan_whose_event_would_pass_the_byte_limit_is_rejected_and_nothing_is_stored() -> None:
    # Names this long were accepted before the string limits (an older release stored them).
    names = [f"{n:03d}" + "o" * 3000 for n in range(300)]
    legacy = report(owners=names)
    plan, event = planning.build(
        legacy,
        plan_id="gordn-0000000000000001",
        requested_provider="all",
        routing_policy=None,
        force=True,
        generated_by="test",
        configured=None,
        now=NOW,
    )
    assert planning.REJECTION not in plan, "300 routes are within the route limit"
    published, inserted = await store(plan, event)
    assert published.type == "cavra.evt.router.plan_rejected.v1"
    problem = published.payload["problems"][0]
    assert problem["field"] == "owners" and f"at most {limits.MAX_EVENT_BYTES}" in problem["message"]
    assert inserted == ["outbox"], "no plan and no route decision is written"


async def test_a_plan_within_the_limits_is_stored_and_published() -> None:
    small = report(owners=owners(3))
    plan, event = planning.build(
        small,
        plan_id="gordn-0000000000000002",
        requested_provider="all",
        routing_policy=None,
        force=True,
        generated_by="test",
        configured=None,
        now=NOW,
    )
    published, inserted = await store(plan, event)
    assert published.type == "cavra.evt.router.notification_planned.v1"
    assert inserted == ["plans", "route_decisions", "outbox"]


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
