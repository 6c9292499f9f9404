"""Recovery handlers: playbook, closure, escalation plan / delivery / acknowledgement commands from the
gateway, in one table (``COMMANDS``; the queries are in ``queries.py``). Each command stores its record
and enqueues its event (and a delivery job) in one transaction with its inbox claim; a refusal is a
``RecoveryRequestRejectedV1`` and stores nothing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import asyncpg
import structlog

from cavra_contracts.deliveries import DeliverMessageV1
from cavra_contracts.families import RECOVERY_ESCALATION_SOURCE
from cavra_contracts.recovery import (
    ESCALATION_PLAN_PREFIX,
    AcknowledgeRecoveryEscalationV1,
    CloseRecoveryV1,
    ConnectorRecoveryClosedV1,
    ConnectorRecoveryPlaybookGeneratedV1,
    DeliverRecoveryEscalationV1,
    GenerateRecoveryPlaybookV1,
    PlanRecoveryEscalationV1,
    RecoveryEscalationAcknowledgedV1,
    RecoveryEscalationDeliveryRequestedV1,
    RecoveryEscalationPlannedV1,
    RecoveryRequestRejectedV1,
)
from cavra_contracts.vocabulary import normalize_provider
from cavra_delivery.commands import Rejected, apply_once, emit
from cavra_delivery.connectors.providers import normalise_type
from cavra_runtime.dispatch import HandlerTable, Message

from . import domain, escalation
from . import repository as repo
from .report import compute
from .subscriptions import RECOVERY_CONSUMER

log = structlog.get_logger()
LATEST = "latest"
T = TypeVar("T")


@dataclass(frozen=True)
class RecoveryDeps:
    pool: asyncpg.Pool
    clock: Callable[[], datetime]
    routable: Callable[[], list[str] | None]
    """Providers a configured connector serves; None when no connector config is loaded."""
    policy_providers: Sequence[str]
    """CAVRA_RECOVERY_ESCALATION_PROVIDERS: the operations channels (empty: every routable one)."""


async def _apply(
    message: Message[Any], deps: RecoveryDeps, work: Callable[[asyncpg.Connection], Awaitable[T]]
) -> T | None:
    return await apply_once(deps.pool, RECOVERY_CONSUMER, message.envelope, RecoveryRequestRejectedV1, work)


async def on_generate_playbook(message: Message[GenerateRecoveryPlaybookV1], deps: RecoveryDeps) -> None:
    """Failures of every family's deliveries within the lookback, per provider with enough of them."""
    command = message.contract

    async def generate(conn: asyncpg.Connection) -> dict[str, Any]:
        now = deps.clock()
        failures = await repo.failures(
            conn, now - timedelta(hours=command.lookback_hours), command.min_failure_count
        )
        playbook = domain.playbook_document(
            command_id=message.envelope.message_id,
            generated_at=now,
            generated_by=command.actor.actor,
            lookback_hours=command.lookback_hours,
            min_failure_count=command.min_failure_count,
            failures=failures,
        )
        await repo.insert_playbook(conn, playbook, now)
        event = ConnectorRecoveryPlaybookGeneratedV1(
            record=domain.playbook_record(playbook, now),
            playbook_id=playbook["playbook_id"],
            actor=command.actor,
        )
        await emit(conn, event, message.envelope)
        return playbook

    playbook = await _apply(message, deps, generate)
    if playbook is None:
        return
    log.info(
        "recovery.playbook_generated",
        playbook_id=playbook["playbook_id"],
        providers=playbook["provider_count"],
    )


async def on_close(message: Message[CloseRecoveryV1], deps: RecoveryDeps) -> None:
    """A closure of a provider the stored playbook lists (404 naming the field otherwise)."""
    command = message.contract
    provider = normalize_provider(command.provider)

    async def close(conn: asyncpg.Connection) -> dict[str, Any]:
        has_playbook, has_provider = await repo.playbook_has(conn, command.playbook_id, provider)
        if not has_playbook:
            raise Rejected(404, "playbook_id", "connector recovery playbook not found")
        if not has_provider:
            raise Rejected(404, "provider", f"connector recovery playbook does not list provider {provider}")
        now = deps.clock()
        closure = domain.closure_document(
            command.model_copy(update={"provider": provider}),
            command_id=message.envelope.message_id,
            closed_at=now,
        )
        await repo.insert_closure(conn, closure, now)
        event = ConnectorRecoveryClosedV1(
            record=domain.closure_record(closure, now),
            closure_id=closure["closure_id"],
            playbook_id=command.playbook_id,
            provider=provider,
            actor=command.actor,
        )
        await emit(conn, event, message.envelope)
        return closure

    closure = await _apply(message, deps, close)
    if closure is None:
        return
    log.info(
        "recovery.closed",
        closure_id=closure["closure_id"],
        playbook_id=command.playbook_id,
        provider=provider,
    )


async def _new_plan(
    conn: asyncpg.Connection, slo_minutes: int, by: str, command_id: str, now: datetime
) -> dict[str, Any]:
    computed = await compute(conn, now=now, slo_minutes=slo_minutes, generated_by=by, row_limit=0)
    plan_id = domain.content_id(ESCALATION_PLAN_PREFIX, {"command_id": command_id})
    plan = escalation.plan_document(computed.report, computed.candidates, generated_by=by, plan_id=plan_id)
    await repo.insert_plan(conn, plan, now)
    return plan


async def on_plan(message: Message[PlanRecoveryEscalationV1], deps: RecoveryDeps) -> None:
    command = message.contract

    async def plan_escalation(conn: asyncpg.Connection) -> dict[str, Any]:
        now = deps.clock()
        plan = await _new_plan(
            conn, command.recovery_slo_minutes, command.actor.actor, message.envelope.message_id, now
        )
        event = RecoveryEscalationPlannedV1(
            record=escalation.plan_record(plan, now), plan_id=plan["plan_id"], actor=command.actor
        )
        await emit(conn, event, message.envelope)
        return plan

    plan = await _apply(message, deps, plan_escalation)
    if plan is None:
        return
    log.info("recovery.escalation_planned", plan_id=plan["plan_id"], escalations=plan["escalation_count"])


def _check_destinations(requested: str, deps: RecoveryDeps, plan: dict[str, Any]) -> list[str]:
    routable = deps.routable()
    if routable is None:
        raise Rejected(400, "CAVRA_CONNECTOR_CONFIG", "connector config is not configured")
    try:
        chosen = escalation.destinations(requested, deps.policy_providers, routable, plan)
    except escalation.NoDestination as exc:
        raise Rejected(400, "provider", str(exc)) from None
    served = set(routable)
    missing = [p for p in chosen if normalise_type(p) not in served]
    if missing:
        raise Rejected(400, "provider", f"connector provider is not configured: {', '.join(missing)}")
    return chosen


async def on_deliver(message: Message[DeliverRecoveryEscalationV1], deps: RecoveryDeps) -> None:
    """A stored plan (or ``latest``: the latest one, else a fresh one) to the operations channels.

    A refused delivery leaves no fresh plan behind (``_apply`` undoes the work's writes)."""
    command = message.contract
    by = command.actor.actor

    async def deliver(conn: asyncpg.Connection) -> tuple[str, str, list[str]]:
        now = deps.clock()
        plan = await (
            repo.latest_plan(conn) if command.plan_id == LATEST else repo.plan_by_id(conn, command.plan_id)
        )
        if plan is None and command.plan_id != LATEST:
            raise Rejected(404, "plan_id", "recovery escalation plan not found")
        created = plan is None
        if plan is None:
            plan = await _new_plan(conn, command.recovery_slo_minutes, by, message.envelope.message_id, now)
        providers = _check_destinations(command.provider, deps, plan)
        job = escalation.job_id(plan["plan_id"], providers)
        await repo.insert_delivery(conn, job, plan["plan_id"], providers, now, by)
        if created:
            planned = RecoveryEscalationPlannedV1(
                record=escalation.plan_record(plan, now), plan_id=plan["plan_id"], actor=command.actor
            )
            await emit(conn, planned, message.envelope)
        deliver = DeliverMessageV1(
            job_id=job,
            source=RECOVERY_ESCALATION_SOURCE,
            content=escalation.content(plan, command.max_routes),
            targets=escalation.targets(plan["plan_id"], providers),
            delivery=command.delivery,
        )
        await emit(conn, deliver, message.envelope, subject=f"job/{job}")
        requested = RecoveryEscalationDeliveryRequestedV1(
            record=escalation.delivery_record(plan, job, providers, at=now, by=by),
            plan_id=plan["plan_id"],
            job_id=job,
            providers=providers,
            plan_created=created,
            actor=command.actor,
        )
        await emit(conn, requested, message.envelope)
        return plan["plan_id"], job, providers

    delivered = await _apply(message, deps, deliver)
    if delivered is None:
        return
    plan_id, job, providers = delivered
    log.info("recovery.escalation_delivery_requested", plan_id=plan_id, job_id=job, providers=providers)


async def on_acknowledge(message: Message[AcknowledgeRecoveryEscalationV1], deps: RecoveryDeps) -> None:
    """An acknowledgement of a stored plan by a provider it routes to or was delivered to."""
    command = message.contract
    provider = normalize_provider(command.provider)

    async def acknowledge(conn: asyncpg.Connection) -> dict[str, Any]:
        plan = await repo.plan_by_id(conn, command.plan_id)
        if plan is None:
            raise Rejected(404, "plan_id", "recovery escalation plan not found")
        known = set(plan["selected_providers"]) | {r["provider"] for r in plan["escalation_routes"]}
        for delivery in await repo.deliveries_of(conn, command.plan_id):
            known |= set(delivery["providers"])
        if provider not in known:
            raise Rejected(404, "provider", f"recovery escalation plan does not concern provider {provider}")
        now = deps.clock()
        ack = domain.escalation_ack_document(
            command.model_copy(update={"provider": provider}), command_id=message.envelope.message_id, at=now
        )
        await repo.insert_ack(conn, ack, now)
        event = RecoveryEscalationAcknowledgedV1(
            record=domain.escalation_ack_record(ack, now),
            acknowledgement_id=ack["acknowledgement_id"],
            plan_id=command.plan_id,
            provider=provider,
            actor=command.actor,
        )
        await emit(conn, event, message.envelope)
        return ack

    if await _apply(message, deps, acknowledge) is None:
        return
    log.info("recovery.escalation_acknowledged", plan_id=command.plan_id, provider=provider)


COMMANDS: HandlerTable[RecoveryDeps] = {
    GenerateRecoveryPlaybookV1: on_generate_playbook,
    CloseRecoveryV1: on_close,
    PlanRecoveryEscalationV1: on_plan,
    DeliverRecoveryEscalationV1: on_deliver,
    AcknowledgeRecoveryEscalationV1: on_acknowledge,
}
"""Handlers of the recovery command consumer."""
