"""The database computes an escalation plan exactly as the pure rules do (domain.plan): same rows,
counts and plan id, over SLO precedence, every acknowledgement state and ages on the rounding edges."""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from cavra_escalation import domain, planning
from cavra_escalation import repository as repo
from cavra_runtime.db import create_pool
from tests.support.escalations import OPERATOR
from tests.support.harness import FakeClock, running_service

POLICY = {
    "acknowledgement_minutes": 40,
    "owner_routes": {
        "o-1": {"providers": ["slack"], "acknowledgement_minutes": 20},
        "o-2": {"ack_minutes": 5},
        "o-3": {"providers": ["teams"], "acknowledgement_minutes": 1},
    },
}
STATES = ("outstanding", "acknowledged", "dismissed", "escalated", "resolved")
# Ages (seconds) at and around SLOs of 5, 20 and 40 minutes, and the half-hundredth rounding edge.
AGES = (0.0, 0.3, 0.29, 299.7, 299.69, 300.0, 1199.99, 1200.0, 2399.7, 2400.0, 3600.0, -60.0)


async def test_the_sql_plan_equals_the_pure_plan(nats_url: str, database_url: str) -> None:
    clock = FakeClock()
    now = clock()
    async with running_service("escalation", nats_url, database_url, clock=clock):
        conn = await asyncpg.connect(database_url)
        try:
            index = 0
            for owner in ("o-1", "o-2", "o-3", "o-4", "o\\5\t\n"):
                for provider in ("slack", "teams"):
                    for age in AGES:
                        for state in STATES:
                            index += 1
                            await conn.execute(
                                """INSERT INTO escalation.routes (route_id, plan_id, schedule_id, position,
                                       provider, owner, escalation_owner, escalation_providers,
                                       acknowledgement_minutes, generated_at, generated_micros,
                                       breach_due_at, ack_state, line_head)
                                   VALUES ($1, $2, $3, $4, $5, $6, $6, '{}', $7, $8, $10, $8, $9, $11)""",
                                f"gordroute-{index:016x}",
                                f"gordn-{index % 7:016x}",
                                f"s-{index % 7}",
                                index,
                                provider,
                                owner,
                                30 if index % 2 else 50,
                                now - timedelta(seconds=age),
                                state,
                                repo.epoch_micros(now - timedelta(seconds=age)),
                                domain.plan.line_head(
                                    f"s-{index % 7}",
                                    f"gordn-{index % 7:016x}",
                                    f"gordroute-{index:016x}",
                                    provider,
                                    owner,
                                ),
                            )
        finally:
            await conn.close()
        pool = await create_pool(database_url, schema="escalation", application="test")
        try:
            async with pool.acquire() as c, c.transaction(isolation="repeatable_read"):
                sources = await repo.current_routes(c, now)
                generated = await planning.generate(
                    c, POLICY, generated_by="console", actor=OPERATOR, now=now
                )
            async with pool.acquire() as c:
                plan_id = generated.event.plan_id
                stored = await planning.stored_plan(c, plan_id, limit=1000, offset=0)
                page = await planning.stored_plan(c, plan_id, limit=30, offset=101)
                tail = await planning.stored_plan(c, plan_id, limit=50, offset=580)
        finally:
            await pool.close()
    expected = domain.build_escalation_plan(sources, POLICY, generated_by="console", now=now).document()
    assert stored is not None
    assert stored["plan"] == expected
    assert page is not None and tail is not None
    assert page["plan"]["routes"] == expected["routes"][101:131]
    assert tail["plan"]["routes"] == expected["routes"][580:]
    assert expected["route_count"] == len(AGES) * len(STATES) * 10
    assert 0 < expected["breached_count"] < expected["outstanding_count"] < expected["route_count"]
