"""The demo's sample data, recorded through the REST API only (httpx, an operator and an approver token).

:func:`seed` records the example schedule and drill history (``examples/``) and a demo schedule, then
walks the operator flow: plans and deliveries, acknowledgements, an escalation plan with a breached
route, an audit package and deliveries, a retry plan, its acknowledgement, an approval plan and an
approver's decision, a connector recovery playbook, a recovery escalation and an executive report
schedule run. It never writes a table or publishes an event.

It is safe to run again: it stops at once when a previous run finished (the demo schedule and an
executive schedule run exist), and every mutation carries an ``Idempotency-Key``, so a run cut short
and started again replays what the gateway already answered instead of recording it twice.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, cast

import httpx

from cavra_contracts.actors import Role

NP = "/runtime/go-pilot/rollback-drill-notifications"
AD = f"{NP}/acknowledgements/audit-delivery"
SCHEDULES = "/runtime/go-pilot/rollback-drill-schedules"
EXAMPLES = Path(__file__).resolve().parents[4] / "examples"
EXAMPLE_SCHEDULE = "go-backend-rollback-drill-schedule.json"
EXAMPLE_DRILLS = "go-backend-rollback-drills.json"
DEMO_SCHEDULE = "demo_payments_weekly"
FAILING_PROVIDER = "siem"
"""The connector the demo sink keeps down, so failed deliveries, retries and recovery are real."""
DEMO_WINDOW = ("2026-01-01T00:00:00Z", "2027-12-31T00:00:00Z")
"""The demo's maintenance window and calendar absence: around any time the demo is likely to run."""
IMMEDIATE = {"allow_immediate_retry": True, "retry_delay_minutes": 0}

Tick = Callable[[], Awaitable[None]]


class DemoError(RuntimeError):
    """Demo mode cannot start, or a seeding step failed (the message names the request and its answer)."""


@dataclass
class SeedReport:
    """What one seeding run did: the steps in order, how long it took, whether it found a finished seed."""

    steps: list[str] = field(default_factory=list)
    seconds: float = 0.0
    already_seeded: bool = False


@dataclass
class _Api:
    client: httpx.AsyncClient
    attempts: int
    pause: float

    async def get(self, path: str, **params: Any) -> dict[str, Any]:
        return await self._call("GET", path, params=params)

    async def post(
        self, path: str, body: dict[str, Any], *, key: str, method: str = "POST"
    ) -> dict[str, Any]:
        return await self._call(method, path, json=body, headers={"Idempotency-Key": f"cavra-demo-{key}"})

    async def _call(self, method: str, path: str, **request: Any) -> dict[str, Any]:
        answer: httpx.Response | None = None
        for _ in range(self.attempts):
            answer = await self.client.request(method, path, **request)
            # 503: a service is not answering yet; 202 / 409: still running, the same key replays it.
            if answer.status_code not in (202, 409, 503):
                break
            await asyncio.sleep(self.pause)
        assert answer is not None
        if answer.status_code not in (200, 201):
            raise DemoError(f"{method} {path} answered {answer.status_code}: {answer.text[:500]}")
        return cast(dict[str, Any], answer.json())


def demo_schedule() -> dict[str, Any]:
    """A second schedule: routes whose one-minute SLO breaches soon, one to the failing connector,
    ITSM routes (one in a maintenance window) and an owner whose calendar suppresses their route."""
    return {
        "schema_version": "cavra.go-backend-rollback-drill-schedule.v1",
        "environment": "demo",
        "interval_days": 7,
        "next_due_at": "2026-10-01T00:00:00Z",
        "owners": ["payments-oncall", "checkout-team", "platform-ops", "data-platform"],
        "notification_providers": ["webhook"],
        "owner_routes": {
            "payments-oncall": {
                "providers": ["webhook", FAILING_PROVIDER],
                "acknowledgement_minutes": 1,
                "escalation_owner": "incident-commander",
            },
            "checkout-team": {
                "providers": ["webhook"],
                "acknowledgement_minutes": 1,
                "escalation_owner": "incident-commander",
            },
            "platform-ops": {"providers": ["jira", "servicenow"], "acknowledgement_minutes": 240},
            "data-platform": {"providers": ["slack"]},
            "incident-commander": {"providers": ["teams"]},
        },
        "maintenance_windows": [
            {
                "window_id": "demo-servicenow-freeze",
                "start_at": DEMO_WINDOW[0],
                "end_at": DEMO_WINDOW[1],
                "providers": ["servicenow"],
                "reason": "ServiceNow change freeze (sample data)",
            }
        ],
        "owner_calendars": {
            "data-platform": {
                "unavailable_windows": [
                    {
                        "start_at": DEMO_WINDOW[0],
                        "end_at": DEMO_WINDOW[1],
                        "reason": "team offsite (sample data)",
                    }
                ]
            }
        },
        "runbook_ref": "docs/operations.md#demo-mode",
    }


async def _already_seeded(api: _Api) -> bool:
    schedules = await api.get(SCHEDULES, limit=1000)
    if not any(item["schedule_id"] == DEMO_SCHEDULE for item in schedules["items"]):
        return False
    runs = await api.get(f"{AD}/recovery-executive-report/schedule-runs", limit=1)
    return bool(runs.get("total") or runs.get("items"))


async def _until(check: Callable[[], Awaitable[bool]], tick: Tick, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await tick()
    raise DemoError(f"timed out after {timeout:.0f}s waiting for {what}")


async def _sleep_a_second() -> None:
    await asyncio.sleep(1.0)


async def seed(
    operator: httpx.AsyncClient,
    approver: httpx.AsyncClient,
    *,
    tick: Tick = _sleep_a_second,
    wait_seconds: float = 150.0,
    attempts: int = 30,
    resume: bool = False,
) -> SeedReport:
    """Fill a running system with sample data through its REST API.

    ``operator`` and ``approver`` are clients signed in with those roles. ``tick`` is awaited between
    polls (a test moves its clock there); every wait gives up after ``wait_seconds``, a request after
    ``attempts`` tries. ``resume``: run every step even when a finished seed is found, as a seed cut
    short does when started again (each mutation replays under its ``Idempotency-Key``). Raises
    :class:`DemoError` naming the step that failed."""
    started = time.monotonic()
    report = SeedReport()
    api = _Api(operator, attempts, 1.0)
    decider = _Api(approver, attempts, 1.0)
    if not resume and await _already_seeded(api):
        report.already_seeded = True
        report.seconds = time.monotonic() - started
        return report

    def done(step: str) -> None:
        report.steps.append(step)

    example = json.loads((EXAMPLES / EXAMPLE_SCHEDULE).read_text())
    example_id = example["schedule_id"]
    await api.post(f"{SCHEDULES}/{example_id}", example, key="schedule-example", method="PUT")
    await api.post(f"{SCHEDULES}/{DEMO_SCHEDULE}", demo_schedule(), key="schedule-demo", method="PUT")
    drills = json.loads((EXAMPLES / EXAMPLE_DRILLS).read_text())
    for drill in drills["drills"]:
        body = {**drill, "schedule_id": example_id, "environment": drills.get("environment", "")}
        await api.post("/runtime/go-pilot/rollback-drills", body, key=f"drill-{drill['drill_id']}")
    done("schedules and drill history")

    async def delivered(schedule_id: str) -> bool:
        page = await api.get(NP, schedule_id=schedule_id, metadata_kind="release-connector-delivery", limit=1)
        return int(page.get("total", 0)) >= 1

    for schedule_id in (example_id, DEMO_SCHEDULE):
        await _until(
            partial(delivered, schedule_id), tick, wait_seconds, f"the plan of {schedule_id} delivered"
        )
    done("notification plans and deliveries (the scheduler planned both stale schedules)")

    acks = [
        (
            example_id,
            {"provider": "slack", "acknowledgement_state": "acknowledged", "external_ref": "CHG-DEMO-1"},
        ),
        (example_id, {"provider": "teams", "acknowledgement_state": "resolved", "notes": "drill rehearsed"}),
        (
            DEMO_SCHEDULE,
            {
                "provider": FAILING_PROVIDER,
                "owner": "payments-oncall",
                "acknowledgement_state": "escalated",
                "notes": "SIEM connector is down",
            },
        ),
    ]
    for number, (schedule_id, body) in enumerate(acks, start=1):
        await api.post(f"{NP}/{schedule_id}/acknowledgements", body, key=f"ack-{number}")
    done("acknowledgements (acknowledged, resolved, escalated; the webhook routes stay outstanding)")

    async def breached() -> bool:
        page = await api.get(f"{NP}/acknowledgements/routes", breached="true", limit=0)
        return int(page["total"]) >= 1

    await _until(breached, tick, wait_seconds, "a demo route to pass its one-minute SLO")
    plan = (await api.post(f"{NP}/escalation-plan", {}, key="escalation-plan"))["plan"]
    if not plan["breached_count"]:
        raise DemoError("the escalation plan has no breached route")
    done("escalation plan with a breached route")

    await api.post(f"{NP}/acknowledgements/audit-package", {}, key="audit-package")
    for provider in ("webhook", FAILING_PROVIDER):
        body = {"delivery_provider": provider, "retries": 0, "timeout_seconds": 5}
        await api.post(f"{NP}/acknowledgements/audit-delivery", body, key=f"audit-delivery-{provider}")
    done("audit package and audit deliveries (one delivered, one failed)")

    async def audit_failed() -> bool:
        health = await api.get(f"{AD}/worker-health")
        return int(health.get("connector_delivery_failure_count", 0)) >= 1

    await _until(audit_failed, tick, wait_seconds, "the failed audit delivery")
    retry = (await api.post(f"{AD}/retry-plan", {"retry_policy": IMMEDIATE}, key="retry-plan"))["plan"]
    retry_ack = {"provider": FAILING_PROVIDER, "notes": "retry once the SIEM is back"}
    await api.post(f"{AD}/retry-plans/{retry['retry_plan_id']}/acknowledgements", retry_ack, key="retry-ack")
    approvals = (await api.post(f"{AD}/retry-execution-approval-plan", {}, key="approval-plan"))["plan"]
    decision = {"provider": FAILING_PROVIDER, "external_ref": "CHG-DEMO-7"}
    path = f"{AD}/retry-execution-approval-plans/{approvals['approval_plan_id']}/decisions"
    await decider.post(path, decision, key="approval-decision")
    done("retry plan, retry acknowledgement, approval plan and an approver's decision")

    await api.post(f"{AD}/connector-recovery-playbook", {"min_failure_count": 1}, key="playbook")
    recovery = (await api.post(f"{AD}/recovery-escalation-plan", {}, key="recovery-escalation"))["plan"]
    deliver = {"provider": "teams", "retries": 0}
    await api.post(
        f"{AD}/recovery-escalations/{recovery['plan_id']}/deliver", deliver, key="recovery-deliver"
    )
    done("connector recovery playbook and a delivered recovery escalation plan")

    run = (await api.post(f"{AD}/recovery-executive-report/schedule-run", {}, key="executive-run"))["run"]
    path = f"{AD}/recovery-executive-report/schedule-runs/{run['run_id']}/deliver"
    await api.post(path, {"provider": "webhook", "retries": 0}, key="executive-deliver")
    done("executive report schedule run, delivered")
    report.seconds = time.monotonic() - started
    return report


def seed_running_system(base_url: str, tokens: Mapping[Role, str], *, timeout: float = 30.0) -> SeedReport:
    """:func:`seed` against a gateway at ``base_url`` (what ``cavra up --demo`` runs once it is ready)."""

    async def run() -> SeedReport:
        def client(role: Role) -> httpx.AsyncClient:
            headers = {"Authorization": f"Bearer {tokens[role]}"}
            return httpx.AsyncClient(base_url=base_url, headers=headers, timeout=timeout)

        async with client("operator") as operator, client("approver") as approver:
            return await seed(operator, approver)

    return asyncio.run(run())
