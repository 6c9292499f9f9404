"""Deliver a job: each target through each connector serving its provider, concurrently, crash-safe.

A job (:mod:`cavra_delivery.jobs`) is a notification plan's deliverable routes or a DeliverMessageV1
command's targets; nothing below asks which. A "route" here is one target x connector.

1. One read finds the routes of the job that already have a final outcome (an earlier pass
   delivered them before a crash, a nak or a failed final transaction); only the others are sent.
2. The connectors' breakers decide which routes may go (quarantine, one probe when half-open).
3. The routes run as one task group: each sends (holding a concurrency slot only while an HTTP
   attempt is in flight, never while backing off) and hands its outcome to the process's
   :class:`~cavra_delivery.outcomes.OutcomeWriter`, which commits it within milliseconds, batched
   with other routes. When one route task fails, its siblings are cancelled at once: no route of
   the job keeps sending while the job is redelivered.
4. When every route is final, one transaction writes the job's ``release-connector-delivery``
   record and the event the job announces itself with, once (records are unique per job).

While a job runs, its message's ack wait is renewed (``in_progress``) every
``heartbeat_seconds``, so a long job is not handed to another replica. A route sent just before
a crash is sent again under the same idempotency key, which providers de-duplicate on
(webhook-id, Jira label search, ServiceNow correlation_id). A target that gets an ack link gets
a fresh one each time it is sent; the link goes to the provider only, never into evidence or logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import asyncpg
import structlog

from cavra_contracts.envelope import Envelope, make_envelope
from cavra_contracts.notifications import DeliveryOptions
from cavra_delivery import SERVICE, compose, records
from cavra_delivery import repository as repo
from cavra_delivery.connectors import quarantine
from cavra_delivery.connectors.config import ConnectorConfig, ConnectorSet, secret_values
from cavra_delivery.connectors.http import RetryPolicy, deliver
from cavra_delivery.connectors.redaction import secret_pattern
from cavra_delivery.connectors.transport import HttpTransport
from cavra_delivery.evidence import RouteOutcome, redacted_places, scrub_outcome, scrub_record
from cavra_delivery.jobs import Job
from cavra_delivery.links import AckLinks
from cavra_delivery.outcomes import OutcomeWriter
from cavra_delivery.registry import ConnectorRegistry, connectors_for
from cavra_delivery.targets import Target
from cavra_runtime.dispatch import Heartbeat, no_heartbeat
from cavra_runtime.failures import is_transient
from cavra_runtime.outbox import enqueue

log = structlog.get_logger()


@dataclass(frozen=True, slots=True)
class PlannedRoute:
    """One target x connector of a job: what to send, and the outcome it starts from."""

    target: Target
    connector: ConnectorConfig | None
    outcome: RouteOutcome


@dataclass
class Pipeline:
    pool: asyncpg.Pool
    registry: ConnectorRegistry
    client: HttpTransport
    writer: OutcomeWriter
    clock: Callable[[], datetime]
    default_retries: int
    default_timeout_seconds: float
    quarantine_policy: quarantine.QuarantinePolicy
    concurrency: int
    heartbeat_seconds: float = 60.0
    database_timeout_seconds: float = 30.0
    """The longest a job waits for its own reads and its final transaction (then it is retried)."""
    links: AckLinks | None = None
    """Signs the ack links of the targets that get one; ``None``: no links (not configured)."""
    _limiter: asyncio.Semaphore = field(init=False)

    def __post_init__(self) -> None:
        self._limiter = asyncio.Semaphore(self.concurrency)

    async def deliver(self, job: Job, cause: Envelope, heartbeat: Heartbeat = no_heartbeat) -> None:
        """Send every target of ``job`` not yet final, then record and announce the job once."""
        if not job.targets:
            return
        connectors = self.registry.current()  # one config for the whole job
        signing = [self.links.secret.get_secret_value()] if self.links else []
        pattern = secret_pattern([*secret_values(connectors), *signing])
        routes = self._routes(job, connectors)
        async with _keep_alive(heartbeat, self.heartbeat_seconds):
            async with asyncio.timeout(self.database_timeout_seconds), self.pool.acquire() as conn:
                if job.stored is not None:  # kept first: a retry re-sends exactly this message
                    await repo.store_job(conn, job, self.clock(), pattern)
                done = {
                    row["delivery_id"]: scrub_outcome(RouteOutcome.from_row(row), pattern)[0]
                    for row in await repo.final_outcomes(conn, job.job_id)
                }
                todo = [route for route in routes if route.outcome.delivery_id not in done]
                names = {route.connector.name for route in todo if route.connector is not None}
                admissions = await self._admissions(conn, names) if names else {}
            ended = await self._deliver_routes(job, todo, admissions, pattern)
            async with asyncio.timeout(self.database_timeout_seconds):
                await self._finish(job, [*done.values(), *ended], cause, pattern)

    def _routes(self, job: Job, connectors: ConnectorSet) -> list[PlannedRoute]:
        """One route per target x connector serving its provider; no connector: ``unconfigured``."""
        now = self.clock()
        serving_of: dict[str, list[ConnectorConfig | None]] = {}
        hosts = {name: connector.host for name, connector in connectors.connectors.items()}
        routes: list[PlannedRoute] = []
        for target in job.targets:
            serving = serving_of.get(target.provider)
            if serving is None:
                serving = [*connectors_for(connectors, target.provider)] or [None]
                serving_of[target.provider] = serving
            for connector in serving:
                name = connector.name if connector else None
                outcome = RouteOutcome(
                    delivery_id=compose.delivery_id(job.job_id, target.key, name),
                    plan_id=target.plan_id,
                    route_id=target.route_id,
                    route_key=target.key,
                    schedule_id=target.schedule_id,
                    provider=target.provider,
                    owner=target.owner,
                    connector=name,
                    connector_type=connector.type if connector else None,
                    target_host=hosts[name] if name else None,
                    status="unconfigured",  # reported as its own outcome, never silently dropped
                    completed_at=now,
                    job_id=job.job_id,
                    source=job.source,
                )
                routes.append(PlannedRoute(target, connector, outcome))
        return routes

    async def _admissions(self, conn: asyncpg.Connection, names: set[str]) -> dict[str, str]:
        """May each connector be used now? A closed breaker: ``deliver``; an open one: ``quarantined``;
        one whose cool-down ended: ``probe`` for the one replica and plan that wins the lease."""
        known = await repo.all_health(conn)
        now = self.clock()
        states = {name: known.get(name, quarantine.QuarantineState(connector=name)) for name in names}
        admissions = {
            name: "deliver" for name, state in states.items() if quarantine.status(state, now) == "closed"
        }
        doubtful = sorted(set(states) - set(admissions))
        if doubtful:
            async with conn.transaction():
                for name in doubtful:  # sorted: replicas lock these rows in one order, never deadlock
                    admission, leased = quarantine.admit(
                        await repo.lock_health(conn, name), now, self.quarantine_policy
                    )
                    if admission == "probe":
                        await repo.save_health(conn, leased)
                    admissions[name] = admission
        return admissions

    async def _deliver_routes(
        self,
        job: Job,
        routes: Sequence[PlannedRoute],
        admissions: Mapping[str, str],
        pattern: re.Pattern[str] | None,
    ) -> list[RouteOutcome]:
        """Every route as one task group: the first route task that fails cancels the others."""
        policies = self._policies(routes, admissions, job.options)
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [
                    group.create_task(self._route(job, route, policy, pattern))
                    for route, policy in zip(routes, policies, strict=True)
                ]
        except BaseExceptionGroup as failed:
            raise _first_cause(failed) from None
        return [task.result() for task in tasks]

    def _policies(
        self, routes: Sequence[PlannedRoute], admissions: Mapping[str, str], options: DeliveryOptions
    ) -> list[RetryPolicy | None]:
        """Per route, how hard to try sending it, or ``None`` when it must not be sent now. A
        probing connector sends one route; the others of the job wait the probe out (quarantined)."""
        by_connector: dict[str, RetryPolicy] = {}
        probed: set[str] = set()
        policies: list[RetryPolicy | None] = []
        for route in routes:
            connector = route.connector
            admission = admissions.get(connector.name, "deliver") if connector else "unconfigured"
            if (
                connector is None
                or admission == "quarantined"
                or (admission == "probe" and connector.name in probed)
            ):
                policies.append(None)
                continue
            if admission == "probe":
                probed.add(connector.name)
            if connector.name not in by_connector:
                by_connector[connector.name] = retry_policy(
                    options, connector, self.default_retries, self.default_timeout_seconds
                )
            policies.append(by_connector[connector.name])
        return policies

    async def _route(
        self,
        job: Job,
        route: PlannedRoute,
        policy: RetryPolicy | None,
        pattern: re.Pattern[str] | None,
    ) -> RouteOutcome:
        outcome = route.outcome
        if route.connector is not None and policy is None:
            log.warning(
                "delivery.quarantined",
                job_id=outcome.job_id,
                route_id=outcome.route_id,
                connector=outcome.connector,
            )
            outcome = replace(outcome, status="quarantined")
        elif route.connector is not None and policy is not None:
            now = self.clock()
            notification = job.message.notification(
                route.target,
                delivery=outcome.delivery_id,
                now=now,
                ack_url=self.links.for_target(route.target, now) if self.links else None,
            )
            result = await deliver(
                route.connector,
                notification,
                client=self.client,
                policy=policy,
                idempotency_key=outcome.delivery_id,
                limiter=self._limiter,
            )
            outcome = outcome.ended(result, self.clock())
            log.debug(
                "delivery.ended",
                job_id=outcome.job_id,
                route_id=outcome.route_id,
                connector=outcome.connector,
                outcome=outcome.status,
                attempts=len(outcome.attempts),
                status_code=outcome.status_code,
                target_host=outcome.target_host,
            )
        outcome, _ = scrub_outcome(outcome, pattern)
        return await self.writer.write(outcome)

    async def _finish(
        self,
        job: Job,
        ended: Sequence[RouteOutcome],
        cause: Envelope,
        pattern: re.Pattern[str] | None,
    ) -> None:
        """Write the job's record and its event once, from the final outcomes (scrubbed in place).

        The stored record leaves out its ``deliveries``: the rows are that evidence, and the
        delivery status query puts them back in."""
        now = self.clock()
        outcomes = sorted(ended, key=lambda o: o.delivery_id)
        deliveries = [outcome.as_delivery() for outcome in outcomes]
        full = records.delivery_record(
            job.ids, deliveries, source=job.source, generated_at=now.isoformat(), event_type=job.event_type
        )
        record, text, redacted = scrub_record(records.without_deliveries(full), pattern)
        redacted += redacted_places(outcomes)
        envelope = make_envelope(
            job.announce(record, deliveries), producer=SERVICE, subject=job.about, cause=cause
        )
        async with self.pool.acquire() as conn, conn.transaction():
            if not await repo.insert_record(conn, job.job_id, job.record_plan_id, record, text, now):
                return  # a redelivered job that another pass finished
            if redacted:
                await repo.insert_redaction_alarm(conn, job.job_id, record["record_id"], redacted, now)
            await enqueue(conn, envelope, schema=SERVICE)
        if redacted:
            log.error(
                "delivery.redaction_alarm",
                job_id=job.job_id,
                record_id=record["record_id"],
                places=redacted[:20],
                redactions=len(redacted),
            )
        log.info(
            f"{job.noun}.delivered",
            job_id=job.job_id,
            plan_id=record.get("plan_id"),
            source=job.source,
            success=record["delivery_success"],
            routes=len(deliveries),
            failed_providers=record["failed_providers"],
            attempts=record["attempt_count"],
        )


def _first_cause(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The failure to report for a failed task group: a bug or bad data over weather, else the first."""
    leaves: list[BaseException] = []

    def collect(exc: BaseException) -> None:
        if isinstance(exc, BaseExceptionGroup):
            for inner in exc.exceptions:
                collect(inner)
        else:
            leaves.append(exc)

    collect(group)
    return next((exc for exc in leaves if isinstance(exc, Exception) and not is_transient(exc)), leaves[0])


@contextlib.asynccontextmanager
async def _keep_alive(heartbeat: Heartbeat, every: float) -> AsyncIterator[None]:
    """Call ``heartbeat`` every ``every`` seconds while the block runs."""

    async def beat() -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await heartbeat()
            except Exception as exc:  # the job goes on; at worst it is redelivered after ack_wait
                log.warning("job.heartbeat_failed", error_class=type(exc).__name__)

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def retry_policy(
    options: DeliveryOptions, connector: ConnectorConfig, default_retries: int, default_timeout: float
) -> RetryPolicy:
    """Retry budget and per-attempt timeout: the request's, else the connector config's, else the default."""
    retries = next(v for v in (options.retries, connector.retries, default_retries) if v is not None)
    timeout = next(v for v in (options.timeout_seconds, connector.timeout_seconds, default_timeout) if v)
    return RetryPolicy.from_retries(retries, timeout)


def route_delivery(row: asyncpg.Record | Mapping[str, Any]) -> dict[str, Any]:
    """A stored delivery as RouteDeliveryV1 (JSON-ready)."""
    return RouteOutcome.from_row(row).as_delivery()
