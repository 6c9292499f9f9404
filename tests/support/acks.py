"""Plans and commands for acknowledgement tests, built with the router's own domain code."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cavra_contracts.acknowledgements import AckTargetV1, RecordAcknowledgementsV1, RouteScopeV1
from cavra_contracts.actors import ActorV1
from cavra_contracts.notifications import DeliveryOptions, NotificationPlannedV1
from cavra_router import domain as routing
from cavra_router import planning
from tests.support.plans import stale_report

OPERATOR = ActorV1(actor="ops-alice", role="operator", method="api_token", subject="tok-1")


def plan_event(
    schedule_id: str,
    plan_id: str,
    now: datetime,
    *,
    owners: Sequence[str] = ("team-a",),
    providers: Sequence[str] = ("slack",),
) -> NotificationPlannedV1:
    """A plan of ``schedule_id`` generated at ``now``: one deliver route per owner x provider."""
    report = stale_report(schedule_id, owners, providers)
    plan = routing.build_notification_plan(
        report, plan_id=plan_id, configured_providers=list(providers), generated_by="test", now=now
    )
    event = routing.build_notification_event(report, plan=plan, generated_by="test", now=now)
    planning.history_rows(plan)  # gives every route decision its route id
    return planning.planned_event(plan, event, trigger="api", delivery=DeliveryOptions())


def ack(
    *targets: AckTargetV1,
    state: str = "acknowledged",
    mode: str = "single",
    scope: RouteScopeV1 | None = None,
    expected_count: int | None = None,
    link_id: str = "",
    actor: ActorV1 = OPERATOR,
) -> RecordAcknowledgementsV1:
    return RecordAcknowledgementsV1.model_validate(
        {
            "mode": mode,
            "acknowledgement_state": state,
            "actor": actor,
            "targets": list(targets),
            "scope": scope,
            "expected_count": expected_count,
            "link_id": link_id,
        }
    )
