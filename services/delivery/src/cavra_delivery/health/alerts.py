"""Health alerts: evaluate a family's worker health, plan the alert, store it and enqueue its delivery;
acknowledge one provider's alert. One code path for the endpoint and the timer.

Everything one command writes happens in the caller's transaction: the plan row, its
``HealthAlertPlannedV1`` and the ``DeliverMessageV1`` of its selected providers through the outbox.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from cavra_contracts.actors import ActorV1
from cavra_contracts.base import Contract
from cavra_contracts.families import HEALTH_ALERT_FAMILY, family_spec
from cavra_contracts.health import (
    AcknowledgeHealthAlertV1,
    HealthAlertAcknowledgedV1,
    HealthAlertPlannedV1,
    HealthWindowV1,
    health_names,
)
from cavra_contracts.notifications import DeliveryOptions
from cavra_delivery.commands import Rejected
from cavra_delivery.connectors.config import ConnectorSet, normalise_type
from cavra_delivery.registry import routable_providers

from . import domain, records
from . import repository as repo

Emit = Callable[[Contract], Awaitable[None]]
"""Enqueue an event or command through the outbox, in the caller's transaction."""


@dataclass(frozen=True)
class Connectors:
    """What the connector registry says: loaded or not, connector names, routable providers."""

    configured: bool
    names: list[str]
    routable: list[str]

    @classmethod
    def of(cls, configured: bool, current: ConnectorSet) -> Connectors:
        names = sorted({normalise_type(name) for name in current.names()})
        return cls(configured=configured, names=names, routable=routable_providers(current))


@dataclass(frozen=True)
class AlertRequest:
    """What to alert about and whom (a ``DeliverHealthAlertV1``, or the timer's own)."""

    family: str
    window: HealthWindowV1
    provider: str
    suppression_window_minutes: int
    force: bool
    max_alerts: int
    delivery: DeliveryOptions
    actor: ActorV1
    trigger: str


def windows(family: str, window: HealthWindowV1) -> tuple[int, int]:
    """(expected interval, stale minutes): the request's, else the family's defaults."""
    spec = family_spec(family)
    return (
        window.expected_interval_minutes or spec.health_expected_interval_minutes,
        window.stale_metadata_minutes or spec.health_stale_metadata_minutes,
    )


async def health_report(
    conn: asyncpg.Connection, family: str, window: HealthWindowV1, *, now: datetime, generated_by: str
) -> dict[str, Any]:
    """The family's health now, computed from the stored records (nothing is written)."""
    spec = family_spec(family)
    expected, stale = windows(family, window)
    facts = await repo.facts(conn, family, spec.source)
    return domain.evaluate(
        facts, health_names(family), spec, expected=expected, stale=stale, now=now, generated_by=generated_by
    )


def _as_types(requested: str) -> str:
    """Requested providers as the registry names them (``splunk`` is a ``siem``); ``all`` as it is."""
    if requested.strip().lower() == "all":
        return "all"
    return ",".join(normalise_type(name) for name in requested.split(",") if name.strip())


def derived_id(prefix: str, command_id: str) -> str:
    """An id stable for one command (its message id): a redelivered command names the same record."""
    return f"{prefix}{hashlib.sha256(command_id.encode()).hexdigest()[:16]}"


async def plan_alert(
    conn: asyncpg.Connection,
    request: AlertRequest,
    connectors: Connectors,
    *,
    command_id: str,
    now: datetime,
    emit: Emit,
) -> HealthAlertPlannedV1:
    """Evaluate, plan, store and announce one alert; enqueue its delivery when providers are selected.

    ``Rejected`` when no connector config is loaded or a requested provider has no connector.
    """
    if not connectors.configured:
        raise Rejected(400, "CAVRA_CONNECTOR_CONFIG", "connector config is not configured")
    family = request.family
    names = health_names(family)
    alert_source = family_spec(HEALTH_ALERT_FAMILY[family]).source
    eligible = domain.eligible_providers(_as_types(request.provider), connectors.names, connectors.routable)
    await repo.lock_family(conn, family)
    health = await health_report(conn, family, request.window, now=now, generated_by=request.actor.actor)
    since = now - timedelta(minutes=request.suppression_window_minutes)
    recent = await repo.recently_alerted(conn, family, health["health_id"], since)
    selected, suppressed = domain.select_providers(
        health["alert_level"], eligible, recent, force=request.force
    )
    plan_id = derived_id(names.plan_prefix, command_id)
    job_id = plan_id if selected else ""
    plan = records.plan_document(
        names,
        health,
        plan_id=plan_id,
        job_id=job_id,
        now=now,
        generated_by=request.actor.actor,
        requested=request.provider,
        eligible=eligible,
        selected=selected,
        suppressed=suppressed,
        window_minutes=request.suppression_window_minutes,
        force=request.force,
        max_alerts=request.max_alerts,
    )
    record = records.plan_record(names, plan, alert_source)
    await repo.insert_plan(
        conn,
        {
            "plan_id": plan_id,
            "family": family,
            "health_id": health["health_id"],
            "job_id": job_id or None,
            "trigger": request.trigger,
            "generated_at": now,
            "generated_by": request.actor.actor,
            "alert_level": health["alert_level"],
            "requested_provider": request.provider,
            "eligible_providers": eligible,
            "selected_providers": selected,
            "suppressed_providers": [item["provider"] for item in suppressed],
            "forced": request.force,
            "health": health,
            "record": record.document(),
        },
    )
    planned = HealthAlertPlannedV1(
        record=record,
        family=names.family,
        plan_id=plan_id,
        health_id=health["health_id"],
        job_id=job_id,
        trigger="timer" if request.trigger == "timer" else "api",
        health=health,
        actor=request.actor,
    )
    await emit(planned)
    if selected:
        event = records.alert_event(names, health, plan, request.max_alerts)
        await emit(
            records.delivery_job(
                names, event, job_id=job_id, source=alert_source, selected=selected, options=request.delivery
            )
        )
    return planned


async def acknowledge(
    conn: asyncpg.Connection, command: AcknowledgeHealthAlertV1, *, command_id: str, now: datetime, emit: Emit
) -> HealthAlertAcknowledgedV1:
    """Record one provider's acknowledgement of an alert that was planned for it.

    ``Rejected`` 404 naming ``health_id`` (no alert plan about it), ``plan_id`` (not one of its plans)
    or ``provider`` (not a provider of its plans).
    """
    family = command.family
    names = health_names(family)
    plans = await repo.plans_of(conn, family, command.health_id)
    if not plans:
        raise Rejected(404, "health_id", f"no health alert plan for health_id {command.health_id}")
    if command.plan_id:
        plans = [plan for plan in plans if plan["plan_id"] == command.plan_id]
        if not plans:
            raise Rejected(
                404, "plan_id", f"plan {command.plan_id} is not an alert plan of {command.health_id}"
            )
    provider = normalise_type(command.provider)
    planned_for = [
        plan
        for plan in plans
        if provider in plan["selected_providers"] or provider in plan["suppressed_providers"]
    ]
    if not planned_for:
        raise Rejected(404, "provider", f"provider {provider} was not alerted about {command.health_id}")
    acknowledgement_id = derived_id(names.ack_prefix, command_id)
    ack = records.ack_document(
        names,
        acknowledgement_id=acknowledgement_id,
        health_id=command.health_id,
        plan_id=planned_for[0]["plan_id"],
        provider=provider,
        state=command.acknowledgement_state,
        by=command.actor.actor,
        at=now,
        external_ref=command.external_ref,
        notes=command.notes,
    )
    record = records.ack_record(names, ack, family_spec(HEALTH_ALERT_FAMILY[family]).source)
    await repo.insert_ack(conn, family, ack, record.document(), now)
    acknowledged = HealthAlertAcknowledgedV1(
        record=record,
        family=names.family,
        acknowledgement_id=acknowledgement_id,
        health_id=command.health_id,
        plan_id=ack["plan_id"],
        provider=provider,
        acknowledgement_state=command.acknowledgement_state,
        actor=command.actor,
    )
    await emit(acknowledged)
    return acknowledged
