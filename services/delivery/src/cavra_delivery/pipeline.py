"""Deliver a plan's deliverable routes: one row per route x connector, concurrently, with evidence.

A plan's route rows are created first (one batched insert); routes are then delivered
concurrently; when all have ended, one transaction records every route's end, folds the
outcomes into connector health (quarantine), and writes the plan's
``release-connector-delivery`` record and its NotificationDeliveredV1 event, once. A replica
that dies mid-plan leaves the rows pending: the redelivered plan sends them again under the
same idempotency key, which providers de-duplicate on (webhook-id, Jira label search,
ServiceNow correlation_id).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp
import asyncpg
import structlog

from cavra_contracts.envelope import Envelope, make_envelope
from cavra_contracts.notifications import (
    NOTIFICATION_SOURCE,
    DeliveryOptions,
    NotificationContentV1,
    NotificationDeliveredV1,
    NotificationPlannedV1,
    NotificationPlanV1,
    RouteDecisionV1,
)
from cavra_delivery import SERVICE, compose, records
from cavra_delivery import repository as repo
from cavra_delivery.connectors import quarantine
from cavra_delivery.connectors.config import ConnectorConfig, ConnectorSet, secret_values
from cavra_delivery.connectors.http import RetryPolicy, deliver
from cavra_delivery.connectors.redaction import SecretLeakError, assert_clean
from cavra_delivery.registry import ConnectorRegistry, connectors_for
from cavra_runtime.failures import PermanentError, TransientError
from cavra_runtime.outbox import enqueue

log = structlog.get_logger()


class PlanNotFinished(TransientError):
    """Some route of the plan is still pending; the plan message is retried."""


@dataclass
class Pipeline:
    pool: asyncpg.Pool
    registry: ConnectorRegistry
    client: aiohttp.ClientSession
    clock: Callable[[], datetime]
    default_retries: int
    default_timeout_seconds: float
    quarantine_policy: quarantine.QuarantinePolicy
    concurrency: int
    _limiter: asyncio.Semaphore = field(init=False)

    def __post_init__(self) -> None:
        self._limiter = asyncio.Semaphore(self.concurrency)

    async def deliver_plan(self, planned: NotificationPlannedV1, cause: Envelope) -> None:
        plan = planned.plan
        decisions = {d.route_key: d for d in plan.deliverable()}
        if not decisions:
            return
        connectors = self.registry.current()  # one config for the whole plan
        rows = await self._create_deliveries(plan, decisions, connectors)
        pending = [row for row in rows if row["status"] == "pending"]
        admitted = self._admit_routes(pending, await self._admissions({row["connector"] for row in pending}))
        ended = await asyncio.gather(
            *(
                self._deliver_route(
                    plan,
                    planned.content,
                    decisions[row["route_key"]],
                    row,
                    planned.delivery,
                    admitted[row["delivery_id"]],
                    connectors,
                )
                for row in pending
            )
        )
        await self._finish_plan(
            plan, [e for e in ended if e is not None], cause, secrets=secret_values(connectors)
        )

    async def _create_deliveries(
        self, plan: NotificationPlanV1, decisions: Mapping[str, RouteDecisionV1], connectors: ConnectorSet
    ) -> list[asyncpg.Record]:
        """One row per route x connector (idempotent); returns every row of the plan."""
        now = self.clock()
        rows: list[dict[str, Any]] = []
        for decision in decisions.values():
            base = {
                "plan_id": plan.plan_id,
                "route_id": decision.route_id,
                "route_key": decision.route_key,
                "schedule_id": plan.schedule_id,
                "provider": decision.provider,
                "owner": decision.owner,
            }
            targets = connectors_for(connectors, decision.provider)
            if not targets:  # reported as its own outcome, never silently dropped
                rows.append(
                    base
                    | {
                        "delivery_id": compose.delivery_id(plan.plan_id, decision.route_key, None),
                        "connector": None,
                        "connector_type": None,
                        "target_host": None,
                        "status": "unconfigured",
                        "completed_at": now,
                    }
                )
            for connector in targets:
                rows.append(
                    base
                    | {
                        "delivery_id": compose.delivery_id(plan.plan_id, decision.route_key, connector.name),
                        "connector": connector.name,
                        "connector_type": connector.type,
                        "target_host": connector.host,
                        "status": "pending",
                    }
                )
        async with self.pool.acquire() as conn, conn.transaction():
            await repo.insert_pending(conn, rows)
            return await repo.for_plan(conn, plan.plan_id)

    async def _admissions(self, names: set[str | None]) -> dict[str, str]:
        """May each connector be used now? A closed breaker: ``deliver``; an open one: ``quarantined``;
        one whose cool-down ended: ``probe`` for the one replica and plan that wins the lease."""
        healthy = {name for name in names if name}
        async with self.pool.acquire() as conn:
            known = await repo.all_health(conn)
        now = self.clock()
        states = {name: known.get(name, quarantine.QuarantineState(connector=name)) for name in healthy}
        admissions = {
            name: "deliver" for name, state in states.items() if quarantine.status(state, now) == "closed"
        }
        doubtful = sorted(set(states) - set(admissions))
        if doubtful:
            async with self.pool.acquire() as conn, conn.transaction():
                for name in doubtful:  # sorted: replicas lock these rows in one order, never deadlock
                    admission, leased = quarantine.admit(
                        await repo.lock_health(conn, name), now, self.quarantine_policy
                    )
                    if admission == "probe":
                        await repo.save_health(conn, leased)
                    admissions[name] = admission
        return admissions

    @staticmethod
    def _admit_routes(rows: list[asyncpg.Record], admissions: Mapping[str, str]) -> dict[str, bool]:
        """Per delivery: send it? A probing connector sends one route; the rest wait out the probe."""
        probed: set[str] = set()
        admitted: dict[str, bool] = {}
        for row in rows:
            admission = admissions.get(row["connector"], "deliver")
            if admission == "probe":
                admitted[row["delivery_id"]] = row["connector"] not in probed
                probed.add(row["connector"])
            else:
                admitted[row["delivery_id"]] = admission == "deliver"
        return admitted

    async def _deliver_route(
        self,
        plan: NotificationPlanV1,
        content: NotificationContentV1,
        decision: RouteDecisionV1,
        row: asyncpg.Record,
        options: DeliveryOptions,
        admitted: bool,
        connectors: ConnectorSet,
    ) -> Ended | None:
        connector = connectors.connectors.get(row["connector"])
        with structlog.contextvars.bound_contextvars(
            plan_id=plan.plan_id, route_id=row["route_id"], connector=row["connector"]
        ):
            if connector is None:
                return Ended(row["delivery_id"], None, "unconfigured", None)
            if not admitted:
                log.warning("delivery.quarantined")
                return Ended(row["delivery_id"], connector.name, "quarantined", None)
            async with self._limiter:
                policy = retry_policy(options, connector, self.default_retries, self.default_timeout_seconds)
                message = compose.notification(
                    plan, content, decision, delivery=row["delivery_id"], now=self.clock()
                )
                outcome = await deliver(
                    connector, message, client=self.client, policy=policy, idempotency_key=row["delivery_id"]
                )
            evidence = outcome.as_evidence()
            log.debug(
                "delivery.ended",
                outcome=outcome.outcome,
                attempts=outcome.attempt_count,
                status_code=outcome.status_code,
                target_host=outcome.target_host,
            )
            return Ended(row["delivery_id"], connector.name, outcome.outcome, evidence)

    async def _finish_plan(
        self, plan: NotificationPlanV1, ended: list[Ended], cause: Envelope, *, secrets: list[str]
    ) -> None:
        """Record every route's end, fold the outcomes into connector health, and write the
        plan's record and event: one transaction, batched."""
        now = self.clock()
        async with self.pool.acquire() as conn, conn.transaction():
            if await repo.record_for_plan(conn, plan.plan_id) is not None:
                return  # a redelivered plan that another pass finished: count nothing twice
            await repo.finish_many(conn, [e.row(now) for e in ended])
            outcomes: dict[str, list[str]] = {}
            for item in ended:
                if item.connector and item.evidence is not None:
                    outcomes.setdefault(item.connector, []).append(item.status)
            for name in sorted(outcomes):  # a fixed order: replicas never deadlock on these rows
                state = await repo.lock_health(conn, name)
                for status in outcomes[name]:
                    state = quarantine.record_outcome(state, status, now, self.quarantine_policy)
                await repo.save_health(conn, state)
            rows = await repo.for_plan(conn, plan.plan_id)
            if any(row["status"] == "pending" for row in rows):
                raise PlanNotFinished(plan.plan_id)
            deliveries = [route_delivery(row) for row in rows]
            record = records.delivery_record(
                plan.model_dump(mode="json"),
                deliveries,
                source=NOTIFICATION_SOURCE,
                generated_at=now.isoformat(),
            )
            # Everything stored and published below is in the record: one scan of its JSON text.
            try:
                assert_clean(json.dumps(record, default=str), secrets)
            except SecretLeakError as exc:  # a bug, not weather: never retry (and re-send) it
                raise PermanentError(str(exc)) from exc
            if not await repo.insert_record(conn, record, now):
                return
            log.info(
                "plan.delivered",
                plan_id=plan.plan_id,
                success=record["delivery_success"],
                routes=len(deliveries),
                failed_providers=record["failed_providers"],
                attempts=record["attempt_count"],
            )
            delivered = NotificationDeliveredV1.model_validate(
                {
                    "plan_id": plan.plan_id,
                    "schedule_id": plan.schedule_id,
                    "alert_level": plan.alert_level,
                    "success": record["delivery_success"],
                    "record_id": record["record_id"],
                    "deliveries": deliveries,
                }
            )
            envelope = make_envelope(
                delivered,
                producer=SERVICE,
                subject=f"plan/{plan.plan_id}",
                cause=cause,
            )
            await enqueue(conn, envelope, schema=SERVICE)


@dataclass(frozen=True)
class Ended:
    """How one route delivery ended; ``evidence`` is None when nothing was sent."""

    delivery_id: str
    connector: str | None
    status: str
    evidence: dict[str, Any] | None

    def row(self, now: datetime) -> dict[str, Any]:
        evidence = self.evidence or {}
        return {
            "delivery_id": self.delivery_id,
            "status": self.status,
            "attempts": list(evidence.get("attempts", [])),
            "status_code": evidence.get("status_code"),
            "external_ref": evidence.get("external_ref"),
            "deduplicated": bool(evidence.get("deduplicated", False)),
            "completed_at": now,
        }


def retry_policy(
    options: DeliveryOptions, connector: ConnectorConfig, default_retries: int, default_timeout: float
) -> RetryPolicy:
    """Retry budget and per-attempt timeout: the request's, else the connector config's, else the default."""
    retries = next(v for v in (options.retries, connector.retries, default_retries) if v is not None)
    timeout = next(v for v in (options.timeout_seconds, connector.timeout_seconds, default_timeout) if v)
    return RetryPolicy.from_retries(retries, timeout)


def route_delivery(row: asyncpg.Record | Mapping[str, Any]) -> dict[str, Any]:
    """A stored delivery as RouteDeliveryV1 (JSON-ready)."""
    completed = row["completed_at"]
    return {
        "delivery_id": row["delivery_id"],
        "route_id": row["route_id"],
        "route_key": row["route_key"],
        "plan_id": row["plan_id"],
        "provider": row["provider"],
        "owner": row["owner"],
        "connector": row["connector"],
        "connector_type": row["connector_type"],
        "target_host": row["target_host"],
        "outcome": row["status"],
        "idempotency_key": row["delivery_id"],
        "attempt_count": row["attempt_count"],
        "status_code": row["status_code"],
        "external_ref": row["external_ref"],
        "deduplicated": row["deduplicated"],
        "attempts": list(row["attempts"]),
        "completed_at": completed.isoformat() if completed else None,
    }
