"""Audit handlers: generate, deliver and cancel commands from the gateway; package, key, chain and
schedule queries. One handler table (``COMMANDS``) for the audit consumer, one query table."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import asyncpg
import structlog

from cavra_acknowledgement import SERVICE
from cavra_contracts.audit import (
    MAX_CHAIN_PAGE_BYTES,
    AuditChainQueryV1,
    AuditKeysQueryV1,
    AuditPackageQueryV1,
    AuditRequestRejectedV1,
    AuditScheduleCancelledV1,
    AuditScheduleCreatedV1,
    AuditSchedulesQueryV1,
    CancelAuditScheduleV1,
    DeliverAuditPackageV1,
    GenerateAuditPackageV1,
    cadence_minutes,
)
from cavra_contracts.base import Contract
from cavra_contracts.envelope import Envelope, make_envelope
from cavra_contracts.queries import QueryReplyV1
from cavra_contracts.timestamps import iso
from cavra_runtime.dispatch import HandlerTable, Message
from cavra_runtime.inbox import once
from cavra_runtime.outbox import enqueue
from cavra_runtime.service import QueryTable

from . import chain, dsse, keys, package, workflow
from . import repository as repo
from .subscriptions import AUDIT_CONSUMER

log = structlog.get_logger()
SCHEDULE_ID_PREFIX = "gordackauditschedule-"


class ConnectorPeers(Protocol):
    async def routable_providers(self) -> list[str] | None:
        """The providers a connector serves; None when no connector config is loaded."""


@dataclass(frozen=True)
class AuditDeps:
    pool: asyncpg.Pool
    clock: Callable[[], datetime]
    keyring: workflow.KeyRing
    peers: ConnectorPeers


async def _emit(conn: asyncpg.Connection, contract: Contract, cause: Envelope) -> None:
    await enqueue(conn, make_envelope(contract, producer=SERVICE, cause=cause), schema=SERVICE)


async def _refuse(conn: asyncpg.Connection, exc: workflow.Rejected, cause: Envelope) -> None:
    await _emit(conn, AuditRequestRejectedV1(status_code=exc.status_code, problems=exc.problems), cause)
    log.info("audit.rejected", status_code=exc.status_code, problem=str(exc))


async def _generate(
    conn: asyncpg.Connection,
    message: Message[GenerateAuditPackageV1] | Message[DeliverAuditPackageV1],
    deps: AuditDeps,
    *,
    trigger: str,
) -> workflow.Generated:
    """Sign and chain a package for the command's filters, recorded under the command's id."""
    return await workflow.generate(
        conn,
        filters=message.contract.filters,
        actor=message.contract.actor,
        keyring=deps.keyring,
        clock=deps.clock,
        trigger=trigger,
        command_id=message.envelope.message_id,
    )


async def on_generate(message: Message[GenerateAuditPackageV1], deps: AuditDeps) -> None:
    """Sign and chain a package for the command's filters."""
    command = message.contract
    async with once(deps.pool, AUDIT_CONSUMER, message.envelope) as conn:
        if conn is None:
            return
        try:
            generated = await _generate(conn, message, deps, trigger="api")
        except workflow.Rejected as exc:
            await _refuse(conn, exc, message.envelope)
            return
        await _emit(
            conn, workflow.generated_event(generated, trigger="api", actor=command.actor), message.envelope
        )
    log.info(
        "audit.package_generated", audit_id=generated.document["audit_id"], sequence=generated.head.sequence
    )


async def on_deliver(message: Message[DeliverAuditPackageV1], deps: AuditDeps) -> None:
    """Sign and chain a package, plan its delivery, enqueue the delivery job; schedule the next ones."""
    command = message.contract
    available = await deps.peers.routable_providers()  # TimeoutError: transient, retried
    async with once(deps.pool, AUDIT_CONSUMER, message.envelope) as conn:
        if conn is None:
            return
        try:
            interval = _interval(command.cadence)
            providers = workflow.check_providers(command.delivery_provider, available)
            generated = await _generate(conn, message, deps, trigger="delivery")
        except workflow.Rejected as exc:
            await _refuse(conn, exc, message.envelope)
            return
        created = None
        next_at = None
        if interval is not None:
            next_at = command.next_delivery_at or generated.at + timedelta(minutes=interval)
            created = await _create_schedule(conn, command, message.envelope, interval, next_at, generated.at)
        delivery = await workflow.plan_delivery(
            conn,
            generated,
            requested=command.delivery_provider,
            available=providers,
            cadence=command.cadence,
            schedule_ref=command.schedule_ref,
            schedule_ref_id=created.schedule_ref_id if created else "",
            next_delivery_at=next_at,
            options=command.delivery,
            actor=command.actor,
            now=generated.at,
        )
        await _emit(
            conn,
            workflow.generated_event(generated, trigger="delivery", actor=command.actor),
            message.envelope,
        )
        await _emit(conn, delivery.job, message.envelope)
        if created is not None:
            await _emit(conn, created, message.envelope)
        await _emit(conn, delivery.event, message.envelope)
    log.info(
        "audit.delivery_planned",
        audit_id=generated.document["audit_id"],
        delivery_id=delivery.plan["delivery_id"],
        providers=delivery.plan["selected_providers"],
        cadence=command.cadence,
    )


def _interval(cadence: str) -> int | None:
    try:
        return cadence_minutes(cadence)
    except ValueError as exc:
        raise workflow.Rejected(422, "cadence", str(exc)) from None


async def _create_schedule(
    conn: asyncpg.Connection,
    command: DeliverAuditPackageV1,
    cause: Envelope,
    interval: int,
    next_at: datetime,
    now: datetime,
) -> AuditScheduleCreatedV1:
    schedule_ref_id = package.content_id(SCHEDULE_ID_PREFIX, {"command_id": cause.message_id})
    await repo.insert_schedule(
        conn,
        {
            "schedule_ref_id": schedule_ref_id,
            "schedule_ref": command.schedule_ref,
            "cadence": command.cadence,
            "interval_minutes": interval,
            "filters": command.filters.model_dump(mode="json"),
            "delivery_provider": command.delivery_provider,
            "delivery": command.delivery.model_dump(mode="json"),
            "created_by": command.actor.model_dump(mode="json"),
            "created_at": now,
            "due_at": next_at,
        },
    )
    return AuditScheduleCreatedV1(
        schedule_ref_id=schedule_ref_id,
        schedule_ref=command.schedule_ref,
        cadence=command.cadence,
        interval_minutes=interval,
        filters=command.filters,
        delivery_provider=command.delivery_provider,
        next_delivery_at=iso(next_at),
        actor=command.actor,
    )


async def on_cancel(message: Message[CancelAuditScheduleV1], deps: AuditDeps) -> None:
    """Cancel an audit schedule: 404 when there is none, 409 when it was cancelled already."""
    command = message.contract
    async with once(deps.pool, AUDIT_CONSUMER, message.envelope) as conn:
        if conn is None:
            return
        now = deps.clock()
        outcome = await repo.cancel_schedule(conn, command.schedule_ref_id, command.actor.actor, now)
        if outcome is None:
            problem = workflow.Rejected(
                404, "schedule_ref_id", f"audit schedule not found: {command.schedule_ref_id}"
            )
            await _refuse(conn, problem, message.envelope)
            return
        if outcome == "already":
            await _refuse(
                conn,
                workflow.Rejected(409, "schedule_ref_id", "audit schedule is already cancelled"),
                message.envelope,
            )
            return
        cancelled = AuditScheduleCancelledV1(
            schedule_ref_id=command.schedule_ref_id, cancelled_at=iso(now), actor=command.actor
        )
        await _emit(conn, cancelled, message.envelope)
    log.info("audit.schedule_cancelled", schedule_ref_id=command.schedule_ref_id)


COMMANDS: HandlerTable[AuditDeps] = {
    GenerateAuditPackageV1: on_generate,
    DeliverAuditPackageV1: on_deliver,
    CancelAuditScheduleV1: on_cancel,
}
"""Handlers of the audit command consumer."""


# --- queries ------------------------------------------------------------------------------------


async def audit_package(query: AuditPackageQueryV1, deps: AuditDeps) -> QueryReplyV1:
    """One package: its DSSE envelope (the caller decodes the payload) and its metadata record."""
    async with deps.pool.acquire() as conn:
        row = await repo.package_by_id(conn, query.audit_id)
        if row is None:
            return QueryReplyV1(ok=False, status_code=404, error=f"audit package not found: {query.audit_id}")
        deliveries = []
        for delivery in await repo.deliveries_of(conn, query.audit_id):
            schedule = None
            if delivery["schedule_ref_id"]:
                found = await repo.schedule_by_id(conn, delivery["schedule_ref_id"])
                schedule = schedule_view(found) if found else None
            plan = delivery["plan"]
            deliveries.append(
                {
                    "delivery_plan": plan,
                    "metadata": workflow.delivery_plan_metadata(plan),
                    "schedule": schedule,
                }
            )
    envelope = row["envelope"]
    document = json.loads(base64.b64decode(envelope["payload"]))
    reference = {
        "sequence": row["sequence"],
        "payload_sha256": dsse.payload_sha256(envelope),
        "previous_hash": document["previous_hash"],
        "key_id": envelope["signatures"][0]["keyid"],
    }
    metadata = workflow.package_metadata(document, reference)
    result = {
        "audit_id": row["audit_id"],
        "sequence": row["sequence"],
        "trigger": row["trigger"],
        "envelope": envelope,
        "metadata": metadata,
        "deliveries": deliveries,
    }
    return QueryReplyV1(ok=True, result=result)


async def audit_keys(_: AuditKeysQueryV1, deps: AuditDeps) -> QueryReplyV1:
    async with deps.pool.acquire() as conn:
        rows = await repo.public_keys(conn)
    records = [
        keys.public_record(keys.parse_public(row["public_key"]), row["valid_from"], row["valid_until"])
        for row in rows
    ]
    return QueryReplyV1(ok=True, result={"keys": records})


async def audit_chain(query: AuditChainQueryV1, deps: AuditDeps) -> QueryReplyV1:
    """One page of the chain; the page reaching ``last_sequence`` carries the signed export statement."""
    async with deps.pool.acquire() as conn:
        head = await repo.head_sequence(conn)
        last = min(query.last_sequence or head, head)
        if query.first_sequence > last:
            return QueryReplyV1(
                ok=False, status_code=404, error=f"no audit package from sequence {query.first_sequence}"
            )
        after = (
            query.first_sequence - 1
            if query.after_sequence is None
            else max(query.after_sequence, query.first_sequence - 1)
        )
        page = await repo.chain_page(conn, after, last, MAX_CHAIN_PAGE_BYTES)
    complete = not page or page[-1][0] >= last
    statement = None
    if complete and page:
        claims = chain.statement(
            first_sequence=query.first_sequence,
            last=chain.Head(page[-1][0], page[-1][1]),
            head_sequence=head,
            exported_at=iso(deps.clock()),
        )
        statement = chain.sign_statement(claims, deps.keyring.get().private)
    return QueryReplyV1(
        ok=True,
        result={
            "packages": [{"sequence": sequence, "envelope": envelope} for sequence, _, envelope in page],
            "last_sequence": last,
            "next_after": page[-1][0] if page else after,
            "complete": complete,
            "statement": statement,
        },
    )


def schedule_view(row: asyncpg.Record) -> dict[str, Any]:
    """An audit schedule as the API lists it."""
    item = dict(row)
    for name in ("created_at", "due_at", "last_delivered_at", "cancelled_at"):
        item[name] = iso(item[name]) if item[name] else None
    item["next_delivery_at"] = None if item["cancelled_at"] else item["due_at"]
    item["created_by"] = item["created_by"].get("actor", "")
    item["state"] = "cancelled" if item["cancelled_at"] else "active"
    return item


async def audit_schedules(query: AuditSchedulesQueryV1, deps: AuditDeps) -> QueryReplyV1:
    async with deps.pool.acquire() as conn:
        rows, total = await repo.schedules(conn, query.include_cancelled, query.limit)
    items = [schedule_view(row) for row in rows]
    return QueryReplyV1(ok=True, result={"items": items, "total": total, "limit": query.limit})


QUERIES: QueryTable[AuditDeps] = {
    AuditPackageQueryV1: audit_package,
    AuditKeysQueryV1: audit_keys,
    AuditChainQueryV1: audit_chain,
    AuditSchedulesQueryV1: audit_schedules,
}
"""The audit query handlers, one per contract."""
