"""Plans, acknowledgements and stored commands for the escalation tests (built by the router's own code)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import nats
from nats.js.errors import NotFoundError

from cavra_contracts.acknowledgements import AcknowledgementsRecordedV1, AcknowledgementV1
from cavra_contracts.actors import ActorV1
from cavra_contracts.deliveries import DeliverMessageV1
from cavra_contracts.envelope import Envelope
from cavra_contracts.notifications import DeliveryOptions, NotificationPlannedV1
from cavra_contracts.subjects import COMMAND_STREAM
from cavra_contracts.timestamps import iso
from cavra_router import domain as routing
from cavra_router import planning
from tests.support.plans import stale_report

OPERATOR = ActorV1(actor="release-manager", role="operator", method="api_token", subject="tok-1")


def planned(
    schedule_id: str,
    *,
    now: datetime,
    owners: Sequence[str] = ("release-governance",),
    providers: Sequence[str] = ("slack",),
    routing_policy: dict[str, Any] | None = None,
    plan_id: str | None = None,
) -> NotificationPlannedV1:
    """A stale schedule's plan at ``now``: one deliverable route per owner x provider."""
    report = stale_report(schedule_id, owners, providers)
    plan = routing.build_notification_plan(
        report,
        plan_id=plan_id or f"gordn-{secrets.token_hex(8)}",
        generated_by="test",
        routing_policy=routing_policy,
        now=now,
    )
    event = routing.build_notification_event(report, plan=plan, generated_by="test", now=now)
    planning.history_rows(plan)
    return planning.planned_event(plan, event, trigger="api", delivery=DeliveryOptions())


def acknowledged(
    planned_event: NotificationPlannedV1,
    *,
    at: datetime,
    state: str = "acknowledged",
    route_ids: Sequence[str] | None = None,
) -> AcknowledgementsRecordedV1:
    """An acknowledgement (``state``) of the deliver routes of a plan (or of ``route_ids`` among them)."""
    routes = [
        decision
        for decision in planned_event.plan.deliverable()
        if route_ids is None or decision.route_id in route_ids
    ]
    acks = [
        AcknowledgementV1(
            acknowledgement_id=f"gordack-{secrets.token_hex(8)}",
            route_id=decision.route_id,
            schedule_id=decision.schedule_id,
            plan_id=planned_event.plan.plan_id,
            provider=decision.provider,
            owner=decision.owner,
            acknowledged_by=OPERATOR.actor,
            acknowledgement_state=state,  # type: ignore[arg-type]
            previous_state="outstanding",
            acknowledged_at=iso(at),
            actor=OPERATOR,
        )
        for decision in routes
    ]
    return AcknowledgementsRecordedV1(
        bulk_id=f"gordbulkack-{len(acks)}-{acks[0].acknowledgement_id if acks else ''}",
        mode="bulk",
        acknowledgement_state=state,  # type: ignore[arg-type]
        acknowledgement_count=len(acks),
        acknowledgements=acks,
        actor=OPERATOR,
    )


async def stored_commands(nats_url: str, subject: str = DeliverMessageV1.MESSAGE.subject) -> list[Envelope]:
    """Every command in CAVRA_COMMANDS on ``subject``, in stream order."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        try:
            info = await js.stream_info(COMMAND_STREAM)
        except NotFoundError:
            return []
        found: list[Envelope] = []
        if not info.state.messages:
            return found
        for seq in range(max(info.state.first_seq, 1), info.state.last_seq + 1):
            try:
                msg = await js.get_msg(COMMAND_STREAM, seq)
            except NotFoundError:
                continue
            if msg.subject == subject:
                found.append(Envelope.from_json(msg.data or b""))
        return found
    finally:
        await nc.close()


async def deliver_jobs(nats_url: str) -> list[DeliverMessageV1]:
    """The DeliverMessageV1 commands on the stream, decoded."""
    return [DeliverMessageV1.model_validate(e.payload) for e in await stored_commands(nats_url)]
