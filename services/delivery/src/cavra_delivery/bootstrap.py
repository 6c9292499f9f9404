"""The only place that picks the delivery service's real dependencies and wires handlers to them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from cavra_contracts.envelope import utc_now
from cavra_delivery import handlers, subscriptions
from cavra_delivery.connectors.quarantine import QuarantinePolicy
from cavra_delivery.connectors.transport import HttpTransport
from cavra_delivery.handlers import Deps
from cavra_delivery.health.wiring import health_wiring
from cavra_delivery.links import ack_links_from
from cavra_delivery.outcomes import OutcomeWriter
from cavra_delivery.pipeline import Pipeline
from cavra_delivery.recovery.wiring import recovery_wiring
from cavra_delivery.registry import ConnectorRegistry
from cavra_delivery.retries.wiring import retries_wiring
from cavra_delivery.settings import DeliverySettings
from cavra_runtime.dispatch import bind_table
from cavra_runtime.ports import Infrastructure
from cavra_runtime.service import Wiring, bind_queries


@asynccontextmanager
async def bootstrap(
    runtime: Infrastructure, settings: DeliverySettings, clock: Callable[[], datetime] = utc_now
) -> AsyncIterator[Wiring]:
    registry = ConnectorRegistry(settings.connector_config)
    registry.current()
    policy = QuarantinePolicy(settings.quarantine_after_failures, settings.quarantine_seconds)
    async with (
        HttpTransport(max_connections_per_origin=settings.delivery_concurrency) as client,
        OutcomeWriter(
            runtime.pool,
            policy,
            clock,
            max_rows=settings.outcome_batch_rows,
            max_delay=settings.outcome_batch_ms / 1000,
        ) as writer,
    ):
        pipeline = Pipeline(
            pool=runtime.pool,
            registry=registry,
            client=client,
            writer=writer,
            clock=clock,
            default_retries=settings.delivery_retries,
            default_timeout_seconds=settings.delivery_timeout_seconds,
            quarantine_policy=policy,
            concurrency=settings.delivery_concurrency,
            heartbeat_seconds=settings.ack_wait_seconds / 5,
            links=ack_links_from(settings),
        )
        deps = Deps(pool=runtime.pool, pipeline=pipeline, registry=registry, clock=clock)
        jobs_at_once = min(settings.delivery_concurrency, 64)
        plans = subscriptions.planned_notifications(settings.ack_wait_seconds, jobs_at_once)
        jobs = subscriptions.delivery_jobs(settings.ack_wait_seconds, jobs_at_once)
        own = Wiring(
            consumers=[
                (plans, bind_table(handlers.PLANNED_NOTIFICATIONS, deps)),
                (jobs, bind_table(handlers.JOBS, deps)),
            ],
            queries=bind_queries(handlers.QUERIES, deps),
        )
        yield own.merged(
            health_wiring(runtime, settings, registry, clock, ack_wait_seconds=settings.ack_wait_seconds),
            recovery_wiring(runtime, settings, registry, clock),
            retries_wiring(runtime, settings, clock),
        )
