"""Generating, signing, chaining and delivering one audit package inside the caller's transaction.

The API commands and the schedule timer share these steps. Every check that can refuse the work
runs before anything is written, so a refusal (:class:`Rejected`) stores nothing but the answer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from cavra_contracts.actors import ActorV1
from cavra_contracts.audit import (
    AUDIT_DELIVERY_PLAN_KIND,
    AUDIT_PACKAGE_KIND,
    AUDIT_PAYLOAD_TYPE,
    MAX_AUDIT_PACKAGE_BYTES,
    MAX_AUDIT_ROUTES,
    AuditCountsV1,
    AuditDeliveryPlannedV1,
    AuditFiltersV1,
    AuditPackageGeneratedV1,
    unconfigured_providers,
)
from cavra_contracts.deliveries import DeliverMessageV1
from cavra_contracts.notifications import DeliveryOptions
from cavra_contracts.scheduler import FieldProblem
from cavra_contracts.timestamps import iso

from . import chain, dsse, keys, package
from . import repository as repo


class Rejected(Exception):
    """The work cannot be done as asked; nothing was written."""

    def __init__(self, status_code: int, field_name: str, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.problems = [FieldProblem(field=field_name, message=message)]


@dataclass
class KeyRing:
    """The signing key, loaded (and under ``$CAVRA_HOME`` created) on first use only."""

    configured: str | None = field(repr=False)
    home: Path
    _key: keys.SigningKey | None = field(default=None, repr=False)

    def get(self) -> keys.SigningKey:
        if self._key is None:
            self._key = keys.load_signing_key(self.configured, self.home)
        return self._key


@dataclass(frozen=True)
class Generated:
    """A package as signed and stored: the document, its envelope and its chain position."""

    document: dict[str, Any]
    envelope: dict[str, Any]
    head: chain.Head
    key_id: str
    at: datetime

    @property
    def reference(self) -> dict[str, Any]:
        """What events and deliveries say about the signed envelope."""
        return {
            "audit_id": self.document["audit_id"],
            "sequence": self.head.sequence,
            "payload_sha256": self.head.payload_sha256,
            "previous_hash": self.document["previous_hash"],
            "key_id": self.key_id,
            "payload_type": AUDIT_PAYLOAD_TYPE,
        }


async def generate(
    conn: asyncpg.Connection,
    *,
    filters: AuditFiltersV1,
    actor: ActorV1,
    keyring: KeyRing,
    clock: Callable[[], datetime],
    trigger: str,
    command_id: str,
) -> Generated:
    """Build the package for ``filters``, sign it and append it to the chain (head locked; the time is
    read under the lock, so ``generated_at`` never goes backwards along the chain)."""
    if filters.schedule_id and not await repo.has_current_plan(conn, filters.schedule_id):
        raise Rejected(404, "schedule_id", f"no plan for schedule_id {filters.schedule_id}")
    head = await repo.lock_head(conn)  # held until commit: one writer at a time, replicas never fork
    now = clock()
    rows = await repo.current_routes(conn, filters, MAX_AUDIT_ROUTES + 1)
    if len(rows) > MAX_AUDIT_ROUTES:
        raise Rejected(
            413,
            "filters",
            f"more than {MAX_AUDIT_ROUTES} routes match: narrow schedule_id, provider or owner",
        )
    sequence, _ = chain.next_position(head)
    built = package.build_package(rows, filters=filters, actor=actor, now=now, sequence=sequence)
    document = chain.place(built, head)
    if len(dsse.canonical_json(document)) > MAX_AUDIT_PACKAGE_BYTES:
        raise Rejected(413, "filters", "the package is too large: narrow schedule_id, provider or owner")
    key = keyring.get()
    await repo.register_key(conn, keys.public_record(key.public, now, None), now)
    envelope, new_head = chain.seal(document, head, key.private)
    await repo.append_package(
        conn,
        head=new_head,
        previous_hash=document["previous_hash"],
        package=document,
        envelope=envelope,
        key_id=key.key_id,
        trigger=trigger,
        command_id=command_id,
        summary=_summary(document),
        generated_at=now,
    )
    return Generated(document, envelope, new_head, key.key_id, now)


def _counts(document: dict[str, Any]) -> AuditCountsV1:
    return AuditCountsV1.model_validate(document)


def _summary(document: dict[str, Any]) -> dict[str, Any]:
    return {
        "counts": _counts(document).model_dump(mode="json"),
        "filters": document["filters"],
        "plan_ids": [plan["plan_id"] for plan in document["plans"]],
        "alert_level": document["alert_level"],
    }


def generated_event(generated: Generated, *, trigger: str, actor: ActorV1) -> AuditPackageGeneratedV1:
    document = generated.document
    return AuditPackageGeneratedV1(
        audit_id=document["audit_id"],
        sequence=generated.head.sequence,
        payload_sha256=generated.head.payload_sha256,
        previous_hash=document["previous_hash"],
        key_id=generated.key_id,
        generated_at=document["generated_at"],
        generated_by=document["generated_by"],
        alert_level=document["alert_level"],
        filters=AuditFiltersV1.model_validate(document["filters"]),
        counts=_counts(document),
        plan_ids=[plan["plan_id"] for plan in document["plans"]],
        trigger=trigger,
        actor=actor,
    )


def check_providers(requested: str, available: Sequence[str] | None) -> list[str]:
    """The routable providers, or :class:`Rejected` (400) naming what is not configured."""
    if available is None:
        raise Rejected(400, "CAVRA_CONNECTOR_CONFIG", "connector config is not configured")
    missing = unconfigured_providers(requested, available)
    if missing:
        raise Rejected(
            400, "delivery_provider", f"connector provider is not configured: {', '.join(missing)}"
        )
    return list(available)


@dataclass(frozen=True)
class Delivery:
    """A package's delivery plan, its job and the event announcing it."""

    plan: dict[str, Any]
    job: DeliverMessageV1
    event: AuditDeliveryPlannedV1


async def plan_delivery(
    conn: asyncpg.Connection,
    generated: Generated,
    *,
    requested: str,
    available: Sequence[str],
    cadence: str,
    schedule_ref: str,
    schedule_ref_id: str,
    next_delivery_at: datetime | None,
    options: DeliveryOptions,
    actor: ActorV1,
    now: datetime,
) -> Delivery:
    """Store the delivery plan of ``generated``; the caller enqueues its job and event."""
    plan = package.build_delivery_plan(
        generated.document,
        requested=requested,
        available=available,
        cadence=cadence,
        schedule_ref=schedule_ref,
        next_delivery_at=iso(next_delivery_at) if next_delivery_at else "",
        now=now,
    )
    await repo.insert_delivery(conn, plan, schedule_ref_id or None, now)
    job = package.delivery_job(generated.document, plan, generated.reference, options)
    event = AuditDeliveryPlannedV1(
        delivery_id=plan["delivery_id"],
        audit_id=plan["audit_id"],
        sequence=generated.head.sequence,
        cadence=cadence,
        schedule_ref=schedule_ref,
        schedule_ref_id=schedule_ref_id,
        next_delivery_at=plan["next_delivery_at"],
        requested_provider=requested,
        selected_providers=plan["selected_providers"],
        route_count=plan["route_count"],
        outstanding_count=plan["outstanding_count"],
        escalated_count=plan["escalated_count"],
        alert_level=plan["alert_level"],
        actor=actor,
    )
    return Delivery(plan, job, event)


def next_due(due_at: datetime, interval_minutes: int, now: datetime) -> datetime:
    """The first due time after ``now`` on the schedule's grid (missed runs are not replayed)."""
    step = timedelta(minutes=interval_minutes)
    if due_at > now:
        return due_at
    missed = (now - due_at) // step + 1
    return due_at + missed * step


# --- metadata records (the original evidence store's shape) -------------------------------------


def package_metadata(document: dict[str, Any], reference: dict[str, Any]) -> dict[str, Any]:
    """The ``go-backend-rollback-drill-acknowledgement-audit-package`` record of a package."""
    return {
        "schema_version": "cavra.evidence.metadata.v1",
        "product": "CAVRA",
        "session_id": document["audit_id"],
        "created_at": document["generated_at"],
        "signer": document["generated_by"],
        "decision_count": document["route_count"],
        "blocked_count": document["outstanding_count"],
        "approval_required_count": 0,
        "metadata_kind": AUDIT_PACKAGE_KIND,
        "audit_id": document["audit_id"],
        "alert_level": document["alert_level"],
        "filters": document["filters"],
        **{k: reference[k] for k in ("sequence", "payload_sha256", "previous_hash", "key_id")},
    }


def delivery_plan_metadata(plan: dict[str, Any]) -> dict[str, Any]:
    """The ``go-backend-rollback-drill-acknowledgement-audit-delivery-plan`` record of a plan."""
    return {
        "schema_version": "cavra.evidence.metadata.v1",
        "product": "CAVRA",
        "session_id": plan["delivery_id"],
        "created_at": plan["generated_at"],
        "signer": plan["generated_by"],
        "decision_count": plan["destination_count"],
        "blocked_count": plan["outstanding_count"] + plan["escalated_count"],
        "approval_required_count": 0,
        "metadata_kind": AUDIT_DELIVERY_PLAN_KIND,
        "delivery_id": plan["delivery_id"],
        "audit_id": plan["audit_id"],
        "cadence": plan["cadence"],
        "selected_providers": plan["selected_providers"],
    }
