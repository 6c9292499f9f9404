"""A service's real bootstrap and handlers on the in-memory bus: no NATS server involved.

The router is wired exactly as in production, but its peers (the scheduler's report, the delivery
service's connector list) are answered on the in-memory bus by the test, and its events are read
from the fake's streams. PostgreSQL is real: the router's SQL is part of what is tested.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cavra_contracts.envelope import Envelope, make_envelope
from cavra_contracts.notifications import ConnectorsQueryV1, NotificationPlannedV1
from cavra_contracts.queries import QueryReplyV1
from cavra_contracts.scheduler import ScheduleEvaluatedV1, ScheduleReportQueryV1
from cavra_contracts.schedules import RollbackDrillScheduleReportV1
from cavra_contracts.subjects import EVENT_STREAM
from cavra_runtime.testing import FakeClock, InMemoryBus
from cavra_scheduler.evaluation import EvaluationConfig, evaluate_schedule
from tests.support.harness import eventually, running_service

NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)


def report() -> dict[str, Any]:
    schedule = {
        "schema_version": "cavra.go-backend-rollback-drill-schedule.v1",
        "schedule_id": "fake-bus",
        "interval_days": 30,
        "next_due_at": "2026-10-25T00:00:00Z",
        "owners": ["release-governance", "platform"],
        "notification_providers": ["slack"],
        "runbook_ref": "docs/runbook.md",
    }
    config = EvaluationConfig(
        mode="promoted", schedule_path="", history_path="", due_soon_days=14, max_age_days=90
    )
    return evaluate_schedule(schedule, [], "prod", config, NOW).report


async def test_the_router_plans_on_the_in_memory_bus(database_url: str) -> None:
    bus = InMemoryBus("router")

    async def scheduler_report(envelope: Envelope) -> QueryReplyV1:
        return QueryReplyV1(ok=True, result=report())

    async def connectors(envelope: Envelope) -> QueryReplyV1:
        return QueryReplyV1(ok=True, result={"routable_providers": ["slack"]})

    await bus.serve(ScheduleReportQueryV1.MESSAGE.subject, scheduler_report, queue="scheduler")
    await bus.serve(ConnectorsQueryV1.MESSAGE.subject, connectors, queue="delivery")
    evaluated = ScheduleEvaluatedV1(
        schedule_id="fake-bus",
        previous_status=None,
        status="needs_attention",
        alert_level="critical",
        next_due_at=report()["schedule"]["next_due_at"],
        days_until_due=report()["schedule"]["days_until_due"],
        evaluated_at=NOW,
        trigger="schedule_upserted",
        report=RollbackDrillScheduleReportV1.model_validate(report()),
    )
    async with running_service("router", "nats://unused", database_url, clock=FakeClock(NOW), bus=bus):
        await bus.publish(make_envelope(evaluated, producer="scheduler", subject="schedule/fake-bus"))
        await bus.publish(make_envelope(evaluated, producer="scheduler", subject="schedule/fake-bus"))

        async def planned() -> bool:
            return len(bus.messages(EVENT_STREAM, NotificationPlannedV1.MESSAGE.subject)) >= 1

        await eventually(planned, what="the plan event on the in-memory bus")
    [event] = bus.messages(EVENT_STREAM, NotificationPlannedV1.MESSAGE.subject)
    plan = NotificationPlannedV1.model_validate(event.envelope().payload).plan
    assert [(d.owner, d.provider, d.action) for d in plan.route_decisions] == [
        ("release-governance", "slack", "deliver"),
        ("platform", "slack", "deliver"),
    ]
    assert all(d.route_id.startswith("gordroute-") for d in plan.route_decisions)
    assert len({d.route_id for d in plan.route_decisions}) == 2
