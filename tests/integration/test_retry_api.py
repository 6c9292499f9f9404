"""The retry endpoints against the real delivery service: bad input is a 4xx naming the field and
stores nothing; every family answers on its own path with its schema; a worker schedule makes the
family's worker run on its own (the timer, on a clock the test moves)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import pytest

from cavra_contracts.approvals import APPROVAL_STATES_MESSAGE, RETRY_ACK_STATES_MESSAGE
from cavra_contracts.families import FAMILY_SPECS
from cavra_contracts.retries import RetryExecutedV1
from cavra_gateway.routes.retries import FAMILY_PATHS
from tests.support.harness import FakeClock, eventually, gateway_client, running_service, stored_events

AD = "/runtime/go-pilot/rollback-drill-notifications/acknowledgements/audit-delivery"
NP = "/runtime/go-pilot/rollback-drill-notifications"
TABLES = (
    "retry_plans",
    "retry_decisions",
    "worker_runs",
    "worker_schedules",
    "retry_acks",
    "approvals",
    "approval_plans",
)


@asynccontextmanager
async def api(
    nats_url: str, database_url: str, clock: FakeClock | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        running_service("delivery", nats_url, database_url, clock=clock, retry_tick_seconds=0.1),
        gateway_client(nats_url, database_url) as client,
    ):
        yield client


async def stored(database_url: str) -> dict[str, int]:
    conn = await asyncpg.connect(database_url)
    try:
        return {table: int(await conn.fetchval(f"SELECT count(*) FROM delivery.{table}")) for table in TABLES}
    finally:
        await conn.close()


def problem(response: httpx.Response) -> tuple[int, str, str]:
    first = response.json()["errors"][0]
    return response.status_code, first["field"], first["message"]


BAD_BODIES: list[tuple[str, dict[str, Any], str]] = [
    ("retry-plan", {"retry_policy": {"max_retry_attempts": 0}}, "retry_policy.max_retry_attempts"),
    ("retry-plan", {"retry_policy": {"multiplier": "fast"}}, "retry_policy.multiplier"),
    ("retry-plan", {"retry_policy": {"bogus": 1}}, "retry_policy.bogus"),
    ("worker-run", {"dry_run": "sometimes"}, "dry_run"),
    ("worker-run", {"schedule": {"interval_minutes": 0}}, "schedule.interval_minutes"),
    ("worker-run", {"max_retry_deliveries": "many"}, "max_retry_deliveries"),
    ("worker-run", {"actor_claims": {"email": "mallory@example.com"}}, "actor_claims"),
    ("retry-plans/gordackretry-0000000000000000/acknowledgements", {}, "provider"),
    ("retry-plans/gordackretry-0000000000000000/acknowledgements", {"provider": "web hook"}, "provider"),
    ("retry-execution-approval-plan", {"family": "pagers"}, "family"),
    ("retry-execution-approval-plans/gordackretryapproval-0000000000000000/decisions", {}, "provider"),
]


async def test_bad_input_names_the_field_and_stores_nothing(nats_url: str, database_url: str) -> None:
    async with api(nats_url, database_url) as client:
        for path, body, field in BAD_BODIES:
            response = await client.post(f"{AD}/{path}", json=body)
            assert response.status_code == 422 and problem(response)[1] == field, (path, response.text)

        ack = await client.post(
            f"{AD}/retry-plans/gordackretry-0000000000000000/acknowledgements",
            json={"provider": "webhook", "acknowledgement_state": "closed"},
        )
        assert problem(ack) == (422, "acknowledgement_state", f"Value error, {RETRY_ACK_STATES_MESSAGE}")
        decision = await client.post(
            f"{AD}/retry-execution-approval-plans/gordackretryapproval-0000000000000000/decisions",
            json={"provider": "webhook", "approval_state": "maybe"},
        )
        assert problem(decision) == (422, "approval_state", f"Value error, {APPROVAL_STATES_MESSAGE}")

        unknown_plan = await client.post(
            f"{AD}/retry-plans/gordackretry-0000000000000000/acknowledgements", json={"provider": "webhook"}
        )
        assert problem(unknown_plan)[:2] == (404, "retry_plan_id")
        unknown_approvals = await client.post(
            f"{AD}/retry-execution-approval-plans/gordackretryapproval-0000000000000000/decisions",
            json={"provider": "webhook"},
        )
        assert problem(unknown_approvals)[:2] == (404, "approval_plan_id")
        gate_none = await client.post(
            f"{AD}/retry-execution-approval-plan", json={"family": "executive_report"}
        )
        assert problem(gate_none)[:2] == (400, "family")
        assert (await client.get(f"{AD}/retry-plans/gordackretry-0000000000000000")).status_code == 404
        assert (
            await client.get(f"{AD}/retry-execution-approvals", params={"state": "bogus"})
        ).status_code == 422
        assert (await client.get(f"{AD}/worker-runs", params={"family": "pagers"})).status_code == 422
        schedule = await client.put(f"{NP}/retries/pagers/worker-schedule", json={"schedule": {}})
        assert schedule.status_code == 422 and problem(schedule)[1] == "path.family"

        assert await stored(database_url) == dict.fromkeys(TABLES, 0), "nothing stored"

        empty_plan = (await client.post(f"{AD}/retry-execution-approval-plan", json={})).json()["plan"]
        not_in_plan = await client.post(
            f"{AD}/retry-execution-approval-plans/{empty_plan['approval_plan_id']}/decisions",
            json={"provider": "webhook"},
        )
        assert problem(not_in_plan)[:2] == (404, "provider")
        assert (await stored(database_url))["approvals"] == 0


async def test_every_family_answers_on_its_own_path_with_its_schema(nats_url: str, database_url: str) -> None:
    async with api(nats_url, database_url) as client:
        for family, (plan_path, run_path) in FAMILY_PATHS.items():
            spec = FAMILY_SPECS[family]
            plan = await client.post(plan_path, json={"retry_policy": {"max_retries": 2}})
            assert plan.status_code == 200, plan.text
            answer = plan.json()
            assert answer["plan"]["schema_version"] == spec.retry_plan_schema
            assert answer["metadata"]["metadata_kind"] == spec.retry_plan_kind
            assert answer["plan"]["max_retry_attempts"] == 2 and answer["actor"]["actor"]
            run = (await client.post(run_path, json={"max_retry_deliveries": 100})).json()
            assert set(run) == {"run", "metadata", "retry_metadata", "retry_results", "actor"}
            assert run["run"]["schema_version"] == spec.worker_run_schema and run["run"]["dry_run"] is True
            assert run["retry_metadata"]["metadata_kind"] == spec.retry_plan_kind
        history = (await client.get(f"{AD}/worker-runs", params={"dry_run": True})).json()
        assert history["total"] == 1 and history["schema_version"].endswith("worker-history.v1")
        dashboard = (await client.get(f"{AD}/worker-dashboard", params={"family": "executive_report"})).json()
        assert (dashboard["run_count"], dashboard["dry_run_count"], dashboard["alert_level"]) == (
            1,
            1,
            "healthy",
        )


@pytest.mark.parametrize("via", ["worker-run", "put"])
async def test_a_worker_schedule_runs_the_worker_on_its_own(
    nats_url: str, database_url: str, via: str
) -> None:
    clock = FakeClock()
    async with api(nats_url, database_url, clock) as client:
        schedule = {"interval_minutes": 30, "enabled": True, "cadence": "half_hourly"}
        if via == "put":
            put = await client.put(f"{NP}/retries/audit/worker-schedule", json={"schedule": schedule})
            assert put.status_code == 200, put.text
        else:
            run = await client.post(f"{AD}/worker-run", json={"schedule": schedule})
            assert run.status_code == 200 and run.json()["run"]["scheduled"] is False
        current = (await client.get(f"{NP}/retries/audit/worker-schedule")).json()["schedule"]
        assert (current["interval_minutes"], current["enabled"], current["execute"]) == (30, True, False)
        assert current["due_at"] == "2026-11-01T12:30:00+00:00"

        async def scheduled_runs() -> list[dict[str, Any]]:
            items = (await client.get(f"{AD}/worker-runs")).json()["items"]
            return [item for item in items if item["scheduled"]]

        assert await scheduled_runs() == [], "nothing runs before it is due"
        clock.advance(minutes=31)

        async def ran() -> bool:
            return len(await scheduled_runs()) == 1

        await eventually(ran, what="the scheduled worker run")
        [scheduled] = await scheduled_runs()
        assert scheduled["dry_run"] is True and scheduled["schedule"]["cadence"] == "half_hourly"
        later = (await client.get(f"{NP}/retries/audit/worker-schedule")).json()["schedule"]
        assert later["due_at"] == "2026-11-01T13:00:00+00:00"


async def test_an_execution_whose_command_was_lost_is_given_up_and_announced(
    nats_url: str, database_url: str
) -> None:
    clock = FakeClock()
    async with api(nats_url, database_url, clock) as client:
        conn = await asyncpg.connect(database_url)
        # A live run's execution whose ExecuteRetryV1 was dead-lettered: pending, nothing completes it.
        execution_id = "gordackexecdeliveryexec-0000000000000001"
        document = {
            "execution_id": execution_id,
            "execution_status": "pending",
            "executed_at": clock().isoformat(),
            "executed_by": "olivia",
            "provider": "webhook",
            "run_id": "run-1",
            "skipped": "",
        }
        try:
            await conn.execute(
                """INSERT INTO delivery.retry_executions (execution_id, family, run_id, retry_plan_id,
                       origin_job_id, provider, attempt, retry_job_id, digest, execution_status, executed_at,
                       executed_by, document)
                   VALUES ($1, 'executive_report', 'run-1', 'plan-1', 'gordackexecsched-1', 'webhook', 1,
                           'retry-0000000000000001', 'd', 'pending', $2, 'olivia', $3::text::jsonb)""",
                execution_id,
                clock(),
                json.dumps(document),
            )
        finally:
            await conn.close()
        clock.advance(minutes=119)

        async def statuses() -> list[tuple[str, str]]:
            items = (
                await client.get(f"{AD}/retry-executions", params={"family": "executive_report"})
            ).json()["items"]
            return [(item["execution_status"], item["skipped"]) for item in items]

        await eventually(lambda: _holds(statuses, [("pending", "")]), what="the pending execution")
        clock.advance(minutes=2)  # past CAVRA_RETRY_EXECUTION_LOST_MINUTES (120)
        await eventually(lambda: _holds(statuses, [("skipped", "execution_lost")]), what="the lost execution")
        [event] = [e.payload for e in await stored_events(nats_url, RetryExecutedV1.MESSAGE.subject)]
        assert (event["execution_status"], event["record"]["metadata_kind"]) == (
            "skipped",
            FAMILY_SPECS["executive_report"].execution_kind,
        )


async def _holds(read: Any, expected: list[tuple[str, str]]) -> bool:
    return bool(await read() == expected)
