"""The outcome writer against real PostgreSQL: batched commits, first outcome wins, health folded once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime

import asyncpg
import pytest

from cavra_delivery import repository as repo
from cavra_delivery.connectors.quarantine import QuarantinePolicy
from cavra_delivery.evidence import RouteOutcome
from cavra_delivery.outcomes import OutcomeWriter
from cavra_runtime.db import create_pool

NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)
ATTEMPT = {
    "attempt": 1,
    "status_code": 200,
    "latency_ms": 1.5,
    "outcome": "delivered",
    "error_class": None,
    "retry_after_seconds": None,
}


def outcome(
    plan: int, route: int, status: str = "delivered", connector: str | None = "hook_a"
) -> RouteOutcome:
    plan_id = f"gordn-{plan:016x}"
    route_key = f"gordrk-{route:016x}"
    return RouteOutcome(
        delivery_id=f"{plan_id}:{route_key}:{connector or '-'}",
        plan_id=plan_id,
        route_id=f"gordroute-{plan:08x}{route:08x}",
        route_key=route_key,
        schedule_id="s-001",
        provider="hook_a",
        owner=f"team-{route}",
        connector=connector,
        connector_type="webhook" if connector else None,
        target_host="127.0.0.1:9" if connector else None,
        status=status,
        completed_at=NOW,
        attempts=(ATTEMPT | {"outcome": status},) if status in ("delivered", "failed") else (),
        status_code=200 if status == "delivered" else None,
    )


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, schema="delivery", application="test-outcomes")
    try:
        yield pool
    finally:
        await pool.close()


def writer(pool: asyncpg.Pool, *, threshold: int = 3) -> OutcomeWriter:
    return OutcomeWriter(pool, QuarantinePolicy(threshold, 60), lambda: NOW, max_rows=256, max_delay=0.02)


async def test_outcomes_of_many_plans_are_committed_in_one_transaction(pool: asyncpg.Pool) -> None:
    written = [outcome(plan, route) for plan in range(3) for route in range(4)]
    async with writer(pool) as outcomes:
        stored = await asyncio.gather(*(outcomes.write(o) for o in written))
        assert outcomes.flushes == 1
    assert stored == written
    async with pool.acquire() as conn:
        rows = await repo.final_outcomes(conn, written[0].plan_id)
        health = await repo.all_health(conn)
    by_id = {row["delivery_id"]: RouteOutcome.from_row(row) for row in rows}
    assert by_id == {o.delivery_id: o for o in written[:4]}
    assert health["hook_a"].last_success_at == NOW and health["hook_a"].consecutive_failures == 0


async def test_a_route_that_already_ended_keeps_its_outcome_and_counts_once(pool: asyncpg.Pool) -> None:
    first = outcome(1, 1, "failed")
    async with writer(pool) as outcomes:
        assert await outcomes.write(first) == first
        # A second pass of the plan raced the first one: the stored outcome is what it gets back.
        again = await outcomes.write(replace(first, status="delivered"))
        twice = await asyncio.gather(outcomes.write(outcome(1, 2, "failed")), outcomes.write(outcome(1, 2)))
    assert again == first
    assert twice[0] == twice[1] and twice[0].status == "failed"
    async with pool.acquire() as conn:
        health = await repo.all_health(conn)
    assert health["hook_a"].consecutive_failures == 2, "each written outcome counted exactly once"


async def test_failures_in_one_batch_open_the_breaker_and_unsent_routes_do_not_count(
    pool: asyncpg.Pool,
) -> None:
    batch = [outcome(1, n, "failed") for n in range(3)]
    batch += [outcome(1, 9, "quarantined"), outcome(1, 10, "unconfigured", connector=None)]
    async with writer(pool, threshold=3) as outcomes:
        await asyncio.gather(*(outcomes.write(o) for o in batch))
    async with pool.acquire() as conn:
        health = await repo.all_health(conn)
    assert set(health) == {"hook_a"}
    assert health["hook_a"].consecutive_failures == 3
    assert health["hook_a"].quarantined_until is not None, "the breaker opened in the same transaction"


async def test_a_row_left_pending_by_an_older_release_is_completed_in_place(pool: asyncpg.Pool) -> None:
    legacy = outcome(1, 1)
    async with pool.acquire() as conn:
        await conn.execute(
            """INSERT INTO deliveries (delivery_id, plan_id, route_key, schedule_id, provider, owner,
                                       connector, connector_type, target_host, status, route_id)
               VALUES ($1, $2, $3, 's-001', 'hook_a', 'team-1', 'hook_a', 'webhook', '127.0.0.1:9',
                       'pending', $4)""",
            legacy.delivery_id,
            legacy.plan_id,
            legacy.route_key,
            legacy.route_id,
        )
        assert await repo.final_outcomes(conn, legacy.plan_id) == [], "a pending row is no outcome"
    async with writer(pool) as outcomes:
        assert await outcomes.write(legacy) == legacy
    async with pool.acquire() as conn:
        [row] = await repo.final_outcomes(conn, legacy.plan_id)
    assert RouteOutcome.from_row(row) == legacy


async def test_a_failed_batch_raises_to_its_routes_and_the_writer_recovers(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await conn.execute("ALTER TABLE deliveries ADD CONSTRAINT no_team_666 CHECK (owner <> 'team-666')")
    async with writer(pool) as outcomes:
        bad = replace(outcome(1, 1), owner="team-666")
        results = await asyncio.gather(
            outcomes.write(bad), outcomes.write(outcome(1, 2)), return_exceptions=True
        )
        assert all(isinstance(r, asyncpg.CheckViolationError) for r in results), "the whole batch failed"
        assert await outcomes.write(outcome(1, 2)) == outcome(1, 2)


async def test_a_batch_that_cannot_commit_in_time_fails_transiently_and_the_writer_starts_over(
    pool: asyncpg.Pool, database_url: str
) -> None:
    blocker = await asyncpg.connect(database_url)
    try:
        async with OutcomeWriter(
            pool, QuarantinePolicy(3, 60), lambda: NOW, max_delay=0.0, timeout=0.5
        ) as outcomes:
            transaction = blocker.transaction()
            await transaction.start()
            await blocker.execute("LOCK TABLE delivery.deliveries IN ACCESS EXCLUSIVE MODE")
            with pytest.raises(TimeoutError):
                await outcomes.write(outcome(1, 1))
            await transaction.rollback()
            assert await outcomes.write(outcome(1, 1)) == outcome(1, 1)
    finally:
        await blocker.close()


async def test_a_session_that_postgresql_closed_is_replaced_before_the_next_batch(
    pool: asyncpg.Pool, database_url: str
) -> None:
    async with writer(pool) as outcomes:
        await outcomes.write(outcome(7, 1))
        admin = await asyncpg.connect(database_url)
        try:  # what a PostgreSQL restart does to the writer's session
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'test-outcomes' AND pid <> pg_backend_pid()"
            )
        finally:
            await admin.close()
        await asyncio.sleep(0.3)  # the client notices the closed socket; the pool takes it back
        stored = await outcomes.write(outcome(7, 2))
    assert stored == outcome(7, 2), "the batch after the restart is written, not failed"
