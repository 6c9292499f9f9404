"""Events the reporting service reads, built as their producers build them, published on JetStream."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from cavra_contracts.acknowledgements import AcknowledgementsRecordedV1, AcknowledgementV1
from cavra_contracts.actors import ActorV1
from cavra_contracts.base import Contract
from cavra_contracts.deliveries import ESCALATION_SOURCE, MessageDeliveredV1
from cavra_contracts.envelope import Envelope, make_envelope
from cavra_contracts.escalations import EscalationPlanGeneratedV1, RouteEscalatedV1
from cavra_contracts.notifications import (
    DeliveryOptions,
    NotificationDeliveredV1,
    NotificationPlannedV1,
    RouteDeliveryV1,
)
from cavra_contracts.subjects import EVENT_STREAM
from cavra_router import domain as routing
from cavra_router import planning
from cavra_runtime.bus import Bus
from tests.support.plans import stale_report

T0 = datetime(2026, 11, 1, 12, tzinfo=UTC)
OPERATOR = ActorV1(actor="release-manager", role="operator", method="api_token", subject="tok-1")


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def plan(
    schedule_id: str,
    plan_id: str,
    minutes: float,
    *,
    owners: Sequence[str] = ("release-governance",),
    providers: Sequence[str] = ("slack", "teams"),
) -> NotificationPlannedV1:
    """A stale schedule's plan: one deliverable route per owner x provider, made ``minutes`` after T0."""
    report = stale_report(schedule_id, owners, providers)
    document = routing.build_notification_plan(
        report, plan_id=plan_id, configured_providers=list(providers), generated_by="test", now=at(minutes)
    )
    event = routing.build_notification_event(report, plan=document, generated_by="test", now=at(minutes))
    planning.history_rows(document)
    return planning.planned_event(document, event, trigger="api", delivery=DeliveryOptions())


def route(planned: NotificationPlannedV1, provider: str, owner: str = "release-governance") -> str:
    """The route id of ``owner`` x ``provider`` in ``planned``."""
    return next(
        d.route_id for d in planned.plan.route_decisions if d.provider == provider and d.owner == owner
    )


def delivered(planned: NotificationPlannedV1, *, failed: Sequence[str] = ()) -> NotificationDeliveredV1:
    """The delivery of every deliverable route; routes to ``failed`` providers failed."""
    deliveries = [
        RouteDeliveryV1(
            delivery_id=f"{d.route_id}:hook",
            route_id=d.route_id,
            route_key=d.route_key,
            plan_id=planned.plan.plan_id,
            provider=d.provider,
            owner=d.owner,
            connector=f"{d.provider}-hook",
            connector_type="webhook",
            target_host="127.0.0.1",
            outcome="failed" if d.provider in failed else "delivered",
            idempotency_key=d.route_id,
            attempt_count=3 if d.provider in failed else 1,
            status_code=500 if d.provider in failed else 200,
            attempts=[],
            completed_at=None,
        )
        for d in planned.plan.deliverable()
    ]
    return NotificationDeliveredV1(
        plan_id=planned.plan.plan_id,
        schedule_id=planned.plan.schedule_id,
        alert_level=planned.plan.alert_level,
        success=not failed,
        record_id=f"rcd-{planned.plan.plan_id}",
        deliveries=deliveries,
    )


def acks(
    planned: NotificationPlannedV1,
    state: str,
    providers: Sequence[str],
    minutes: float,
    *,
    bulk_id: str,
    owner: str = "release-governance",
) -> AcknowledgementsRecordedV1:
    """One acknowledgement per provider's route of ``owner`` in ``planned``."""
    records = [
        AcknowledgementV1.model_validate(
            {
                "acknowledgement_id": f"gordack-{bulk_id}-{provider}",
                "route_id": route(planned, provider, owner),
                "schedule_id": planned.plan.schedule_id,
                "plan_id": planned.plan.plan_id,
                "provider": provider,
                "owner": owner,
                "acknowledged_by": OPERATOR.actor,
                "acknowledgement_state": state,
                "previous_state": "outstanding",
                "acknowledged_at": at(minutes).isoformat(),
                "external_ref": "CHG-123",
                "notes": "looked at it",
                "mode": "bulk" if len(providers) > 1 else "single",
                "actor": OPERATOR,
            }
        )
        for provider in providers
    ]
    return AcknowledgementsRecordedV1.model_validate(
        {
            "bulk_id": f"gordbulkack-{bulk_id}",
            "mode": "bulk" if len(providers) > 1 else "single",
            "acknowledgement_state": state,
            "acknowledgement_count": len(records),
            "acknowledgements": records,
            "actor": OPERATOR,
        }
    )


def escalation_plan(
    plan_id: str, minutes: float, *, outstanding: int, breached: int
) -> EscalationPlanGeneratedV1:
    return EscalationPlanGeneratedV1(
        plan_id=plan_id,
        generated_at=at(minutes).isoformat(),
        generated_by="console",
        alert_level="critical" if breached else "warning" if outstanding else "healthy",
        acknowledgement_minutes=30,
        route_count=outstanding + 1,
        outstanding_count=outstanding,
        breached_count=breached,
    )


def escalated(
    planned: NotificationPlannedV1, provider: str, minutes: float, *, kind: str = "escalation"
) -> tuple[RouteEscalatedV1, MessageDeliveredV1]:
    """The escalation service's automatic escalation of a route, and the job delivery that carried it."""
    route_id = route(planned, provider)
    job_id = f"esc-{route_id}-{kind}"
    event = RouteEscalatedV1.model_validate(
        {
            "escalation_id": f"gordescalation-{route_id}-{kind}",
            "kind": kind,
            "route_id": route_id,
            "plan_id": planned.plan.plan_id,
            "schedule_id": planned.plan.schedule_id,
            "provider": provider,
            "owner": "release-governance",
            "escalation_owner": "platform-lead",
            "providers": ["pagerduty"],
            "job_id": job_id,
            "acknowledgement_minutes": 30,
            "age_minutes": 30.0,
            "due_at": at(minutes).isoformat(),
            "escalated_at": at(minutes).isoformat(),
        }
    )
    job = MessageDeliveredV1(
        job_id=job_id,
        source=ESCALATION_SOURCE,
        kind="rollback_drill_escalation",
        success=True,
        record_id=f"rcd-{job_id}",
        deliveries=[
            RouteDeliveryV1(
                delivery_id=f"{job_id}:pager",
                route_id=route_id,
                route_key="",
                plan_id=planned.plan.plan_id,
                provider="pagerduty",
                owner="platform-lead",
                connector="pager-hook",
                connector_type="webhook",
                target_host="127.0.0.1",
                outcome="delivered",
                idempotency_key=job_id,
                attempt_count=1,
                status_code=202,
                attempts=[],
                completed_at=None,
            )
        ],
    )
    return event, job


def envelope(contract: Contract, minutes: float, producer: str = "test") -> Envelope:
    return make_envelope(contract, producer=producer, occurred_at=at(minutes))


async def publish(nats_url: str, envelopes: Sequence[Envelope]) -> None:
    """Store the events on CAVRA_EVENTS in this order."""
    bus = await Bus.connect(nats_url, name="reporting-test-producer")
    try:
        await bus.ensure_streams()
        for item in envelopes:
            await bus.publish(item)
    finally:
        await bus.close()


async def settled(nats_url: str, durable: str = "reporting-events") -> bool:
    """Has the consumer settled every event it reads?"""
    bus = await Bus.connect(nats_url, name="reporting-test-watch")
    try:
        return await bus.consumer_backlog(EVENT_STREAM, durable) == 0
    finally:
        await bus.close()


def realistic_mix() -> list[Envelope]:
    """Two schedules, three plans (one replaced), deliveries (one failed), acknowledgements in every
    state, an escalation plan, an automatic reminder and escalation with their job deliveries."""
    a1 = plan("sched-a", "gordn-a1", 0)
    a2 = plan("sched-a", "gordn-a2", 60)
    b1 = plan("sched-b", "gordn-b1", 5, owners=("release-governance", "platform"), providers=("slack",))
    reminder, reminder_job = escalated(b1, "slack", 20, kind="reminder")
    escalation, escalation_job = escalated(b1, "slack", 40)
    return [
        envelope(a1, 0, "router"),
        envelope(delivered(a1), 1, "delivery"),
        envelope(acks(a1, "acknowledged", ["slack"], 10, bulk_id="a1s"), 10, "acknowledgement"),
        envelope(b1, 5, "router"),
        envelope(delivered(b1, failed=["slack"]), 6, "delivery"),
        envelope(reminder, 20, "escalation"),
        envelope(reminder_job, 21, "delivery"),
        envelope(escalation_plan("gordesc-1", 30, outstanding=3, breached=1), 30, "escalation"),
        envelope(escalation, 40, "escalation"),
        envelope(escalation_job, 41, "delivery"),
        envelope(a2, 60, "router"),
        envelope(delivered(a2), 61, "delivery"),
        envelope(acks(a2, "escalated", ["slack"], 70, bulk_id="a2s1"), 70, "acknowledgement"),
        envelope(acks(a2, "dismissed", ["teams"], 71, bulk_id="a2t1"), 71, "acknowledgement"),
        envelope(acks(a2, "resolved", ["slack"], 80, bulk_id="a2s2"), 80, "acknowledgement"),
        envelope(
            acks(b1, "acknowledged", ["slack"], 90, bulk_id="b1p", owner="platform"), 90, "acknowledgement"
        ),
    ]
