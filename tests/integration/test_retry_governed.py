"""Governed retries end to end: real NATS, PostgreSQL, two delivery replicas, the gateway and the fake
webhook provider over real HTTP, on a clock the test moves.

A failing audit delivery -> retry plan -> dry run sends nothing -> acknowledgement by an operator ->
self-approval refused (403 and an event) -> approval by another approver -> live run -> exactly one
re-delivery of the same payload -> execution record ``delivered``; an execute of the consumed approval
is refused. A chain that keeps failing holds its attempt count across retries, and a stale approval
(another digest) or an expired one is refused, each with its event.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from cavra_contracts.approvals import ApprovalExpiredV1, ApprovalRefusedV1
from cavra_contracts.deliveries import AUDIT_SOURCE, DeliverMessageV1, MessageDeliveredV1
from cavra_contracts.envelope import make_envelope
from cavra_contracts.families import FAMILY_SPECS
from cavra_contracts.notifications import DeliveryOptions, NotificationDeliveredV1
from cavra_contracts.retries import RetryExecutedV1, RetryExecutionRefusedV1, decide, sha256_hex
from cavra_runtime.bus import Bus
from tests.integration.test_notification_delivery import SIGNING_SECRET
from tests.support.auth import create_token
from tests.support.fake_providers import FakeProviders
from tests.support.harness import FakeClock, eventually, gateway_client, running_service, stored_events
from tests.support.plans import planned

AD = "/runtime/go-pilot/rollback-drill-notifications/acknowledgements/audit-delivery"
JOB_ID = "gordackdelivery-00000000000000a1"
IMMEDIATE = {"allow_immediate_retry": True, "retry_delay_minutes": 0}


def audit_job(job_id: str = JOB_ID) -> DeliverMessageV1:
    return DeliverMessageV1.model_validate(
        {
            "job_id": job_id,
            "source": AUDIT_SOURCE,
            "content": {
                "kind": "rollback_drill_acknowledgement_audit",
                "event_type": "cavra.go_backend.rollback_drill.acknowledgement_audit_delivery",
                "title": "CAVRA rollback drill acknowledgement audit critical",
                "text": "Audit package gordackaudit-00000000000000a1 has 1 outstanding route(s).",
                "severity": "critical",
                "data": {"audit_id": "gordackaudit-00000000000000a1", "outstanding_count": 1},
            },
            "targets": [
                {"target_key": "audit:webhook", "provider": "webhook", "owner": "release-governance"}
            ],
            "delivery": {"retries": 0, "timeout_seconds": 10},
        }
    )


@dataclass
class World:
    fake: FakeProviders
    bus: Bus
    clock: FakeClock
    nats_url: str
    operator: httpx.AsyncClient
    acker: httpx.AsyncClient
    approver: httpx.AsyncClient

    async def events(self, contract: type[Any]) -> list[dict[str, Any]]:
        return [e.payload for e in await stored_events(self.nats_url, contract.MESSAGE.subject)]

    async def wait_events(self, contract: type[Any], count: int) -> list[dict[str, Any]]:
        async def enough() -> bool:
            return len(await self.events(contract)) >= count

        await eventually(enough, what=f"{count} {contract.__name__}")
        return await self.events(contract)

    async def fail_delivery(self) -> None:
        await self.bus.publish(make_envelope(audit_job(), producer="acknowledgement"))
        await self.wait_events(MessageDeliveredV1, 1)

    async def post(self, client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await client.post(f"{AD}/{path}", json=body)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    async def approve_latest(self) -> dict[str, Any]:
        """Retry plan -> ack (acker) -> approval plan (operator) -> approval (approver)."""
        plan = (await self.post(self.operator, "retry-plan", {"retry_policy": IMMEDIATE}))["plan"]
        [decision] = plan["retry_decisions"]
        ack = await self.post(
            self.acker, f"retry-plans/{plan['retry_plan_id']}/acknowledgements", {"provider": "webhook"}
        )
        assert ack["acknowledgement"]["acknowledgement_state"] == "accepted"
        approval_plan = (await self.post(self.operator, "retry-execution-approval-plan", {}))["plan"]
        decided = await self.post(
            self.approver,
            f"retry-execution-approval-plans/{approval_plan['approval_plan_id']}/decisions",
            {"provider": "webhook", "external_ref": "CHG-789"},
        )
        assert decided["decision"]["digest"] == decision["digest"]
        return decision


@asynccontextmanager
async def world(nats_url: str, database_url: str, tmp_path: Path, replicas: int = 1) -> AsyncIterator[World]:
    clock = FakeClock()
    async with AsyncExitStack() as stack:
        fake = await stack.enter_async_context(FakeProviders(webhook_secret=SIGNING_SECRET))
        config = tmp_path / "connectors.json"
        config.write_text(
            json.dumps(
                {"connectors": {"webhook": {"url": fake.url("webhook", "/audit"), "secret": SIGNING_SECRET}}}
            )
        )
        for _ in range(replicas):
            await stack.enter_async_context(
                running_service(
                    "delivery",
                    nats_url,
                    database_url,
                    clock=clock,
                    connector_config=str(config),
                    retry_tick_seconds=0.2,
                )
            )
        bus = await Bus.connect(nats_url, name="test-retries")
        stack.push_async_callback(bus.close)
        await bus.ensure_streams()
        clients = []
        for role, name in (
            ("operator", "olivia-operator"),
            ("approver", "carol-approver"),
            ("approver", "bob-approver"),
        ):
            token, _ = await create_token(nats_url, role, name)  # type: ignore[arg-type]
            clients.append(
                await stack.enter_async_context(gateway_client(nats_url, database_url, token=token))
            )
        yield World(fake, bus, clock, nats_url, *clients)


async def test_one_governed_retry_re_sends_the_failed_payload_once_across_two_replicas(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    async with world(nats_url, database_url, tmp_path, replicas=2) as w:
        w.fake.script("webhook", [503, ("delay", 2.0)])
        await w.fail_delivery()
        [first] = w.fake.requests_for("webhook")

        plan = (await w.post(w.operator, "retry-plan", {"retry_policy": IMMEDIATE}))["plan"]
        [decision] = plan["retry_decisions"]
        assert (decision["action"], decision["retry_count"], decision["attempt"]) == ("retry", 1, 1)
        assert decision["failed_status_codes"] == [503]
        assert decision["payload_hash"] == sha256_hex(audit_job().content.model_dump(mode="json"))
        paged = await w.operator.get(f"{AD}/retry-plans/{plan['retry_plan_id']}", params={"limit": 1})
        assert paged.status_code == 200 and paged.json()["plan"]["retry_decisions"] == [decision]

        dry = await w.post(w.operator, "worker-run", {"retry_policy": IMMEDIATE})
        assert (dry["run"]["dry_run"], dry["run"]["summary"]["selected_retry_count"]) == (True, 1)
        assert dry["retry_results"][0]["skipped"] == "dry_run" and dry["metadata"]["metadata_kind"].endswith(
            "worker-run"
        )
        assert len(w.fake.requests_for("webhook")) == 1, "a dry run sends nothing"
        assert dry["retry_results"][0]["execution_record"] is None, "and records no execution"
        assert (await w.operator.get(f"{AD}/retry-executions")).json()["total"] == 0

        ack = await w.post(
            w.acker, f"retry-plans/{plan['retry_plan_id']}/acknowledgements", {"provider": "webhook"}
        )
        assert ack["acknowledgement"]["acknowledged_by"] == "carol-approver"
        approval_plan = (await w.post(w.operator, "retry-execution-approval-plan", {}))["plan"]
        assert approval_plan["approval_required_count"] == 1
        assert approval_plan["approval_decisions"][0]["action"] == "request_approval"
        decisions = f"{AD}/retry-execution-approval-plans/{approval_plan['approval_plan_id']}/decisions"

        self_approval = await w.acker.post(decisions, json={"provider": "webhook"})
        assert self_approval.status_code == 403, self_approval.text
        assert "separation of duties" in self_approval.json()["errors"][0]["message"]
        [refused] = await w.wait_events(ApprovalRefusedV1, 1)
        assert (refused["reason"], refused["actor"]["actor"]) == ("separation_of_duties", "carol-approver")

        approved = (
            await w.approver.post(decisions, json={"provider": "webhook", "external_ref": "CHG-789"})
        ).json()
        assert (
            approved["decision"]["approval_state"] == "approved"
            and approved["decision"]["decided_by"] == "bob-approver"
        )
        pending = (
            await w.operator.get(f"{AD}/retry-execution-approvals", params={"state": "approved"})
        ).json()
        assert pending["total"] == 1 and pending["items"][0]["digest"] == decision["digest"]

        live = await w.post(w.operator, "worker-run", {"execute": True, "retry_policy": IMMEDIATE})
        assert (live["run"]["dry_run"], live["run"]["summary"]["selected_retry_count"]) == (False, 1)
        assert live["run"]["summary"]["approval_pending_count"] == 0
        [result] = live["retry_results"]
        assert result["execution_record"]["execution_status"] == "pending"
        assert result["execution_metadata"]["metadata_kind"] == FAMILY_SPECS["audit"].execution_kind

        again = await w.post(w.operator, "worker-run", {"execute": True, "retry_policy": IMMEDIATE})
        assert again["run"]["summary"]["selected_retry_count"] == 0
        [second] = await w.wait_events(RetryExecutionRefusedV1, 1)
        assert second["reason"] == "approval_consumed" and second["digest"] == decision["digest"]

        [executed] = await w.wait_events(RetryExecutedV1, 1)
        assert executed["execution_status"] == "delivered"
        records = (
            await w.operator.get(f"{AD}/retry-executions", params={"run_id": live["run"]["run_id"]})
        ).json()
        [record] = records["items"]
        assert (record["execution_status"], record["delivery_success"]) == ("delivered", True)
        assert record["payload_hash"] == decision["payload_hash"] and len(record["execution_hash"]) == 64
        assert record["approval_decision_id"] == approved["decision"]["decision_id"]
        assert f"go-rollback-drill-retry-worker://{live['run']['run_id']}" in record["public_evidence_refs"]
        assert any(ref.startswith("connector-delivery://rcd-") for ref in record["public_evidence_refs"])

        requests = w.fake.requests_for("webhook")
        assert len(requests) == 2, "exactly one re-delivery, by one of the two replicas"
        retried = dict(requests[1].body["data"])
        assert retried.pop("job_id") == record["retry_job_id"], "the retry is a job of its own"
        assert retried == {k: v for k, v in first.body["data"].items() if k != "job_id"}, "the same payload"
        assert requests[1].body["type"] == first.body["type"]
        after = (await w.post(w.operator, "retry-plan", {"retry_policy": IMMEDIATE}))["plan"]
        assert after["decision_count"] == 0, "a delivered retry closes the chain"


async def test_a_failing_chain_keeps_its_attempt_count_and_a_stale_approval_is_refused(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    async with world(nats_url, database_url, tmp_path) as w:
        w.fake.script("webhook", [503, 502])
        await w.fail_delivery()
        plan = (await w.post(w.operator, "retry-plan", {"retry_policy": IMMEDIATE}))["plan"]
        await w.post(
            w.acker, f"retry-plans/{plan['retry_plan_id']}/acknowledgements", {"provider": "webhook"}
        )
        plans = [(await w.post(w.operator, "retry-execution-approval-plan", {}))["plan"] for _ in range(2)]
        for approval_plan in plans:  # both approved: one is consumed by the retry, the other goes stale
            await w.post(
                w.approver,
                f"retry-execution-approval-plans/{approval_plan['approval_plan_id']}/decisions",
                {"provider": "webhook"},
            )
        await w.post(w.operator, "worker-run", {"execute": True, "retry_policy": IMMEDIATE})
        [executed] = await w.wait_events(RetryExecutedV1, 1)
        assert executed["execution_status"] == "failed"

        capped = (await w.post(w.operator, "retry-plan", {"retry_policy": {**IMMEDIATE, "max_retries": 2}}))[
            "plan"
        ]
        [decision] = capped["retry_decisions"]
        assert (decision["retry_count"], decision["attempt"], decision["action"]) == (2, 2, "suppress")
        assert decision["reason"] == "maximum retry attempts 2 reached"
        assert decision["failed_status_codes"] == [502] and decision["latest_delivery_id"].startswith(
            "retry-"
        )

        stale = await w.post(w.operator, "worker-run", {"execute": True, "retry_policy": IMMEDIATE})
        assert stale["run"]["summary"]["selected_retry_count"] == 0
        [refused] = await w.wait_events(RetryExecutionRefusedV1, 1)
        assert refused["reason"] == "digest_mismatch" and refused["digest"] != refused["approved_digest"]
        assert len(w.fake.requests_for("webhook")) == 2, "the original and one retry, nothing more"


async def test_an_approval_expires_unused_and_its_execution_is_refused(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    async with world(nats_url, database_url, tmp_path) as w:
        w.fake.script("webhook", [503])
        await w.fail_delivery()
        await w.approve_latest()
        w.clock.advance(hours=1, minutes=1)  # CAVRA_RETRY_APPROVAL_EXECUTE_HOURS defaults to 1
        live = await w.post(w.operator, "worker-run", {"execute": True, "retry_policy": IMMEDIATE})
        assert live["run"]["summary"]["selected_retry_count"] == 0
        [refused] = await w.wait_events(RetryExecutionRefusedV1, 1)
        assert refused["reason"] == "approval_expired"
        expired = (
            await w.operator.get(f"{AD}/retry-execution-approvals", params={"state": "expired"})
        ).json()
        assert expired["total"] == 1
        assert len(w.fake.requests_for("webhook")) == 1, "nothing re-sent"


async def test_a_request_expires_undecided_and_a_later_denial_revokes_an_approval(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    async with world(nats_url, database_url, tmp_path) as w:
        w.fake.script("webhook", [503])
        await w.fail_delivery()
        decision = await w.approve_latest()
        approval_plan = (await w.post(w.operator, "retry-execution-approval-plan", {}))["plan"]
        assert approval_plan["approval_decisions"][0]["action"] == "already_approved"
        denied = await w.post(
            w.approver,
            f"retry-execution-approval-plans/{approval_plan['approval_plan_id']}/decisions",
            {"provider": "webhook", "approval_state": "denied"},
        )
        assert denied["decision"]["approval_state"] == "denied"
        live = await w.post(w.operator, "worker-run", {"execute": True, "retry_policy": IMMEDIATE})
        assert live["run"]["summary"]["selected_retry_count"] == 0, "a denial revokes the approval"
        assert live["run"]["follow_up_actions"][0]["approval_state"] == "approval_required"

        own = (await w.post(w.approver, "retry-execution-approval-plan", {}))["plan"]
        self_requested = await w.approver.post(
            f"{AD}/retry-execution-approval-plans/{own['approval_plan_id']}/decisions",
            json={"provider": "webhook"},
        )
        assert (
            self_requested.status_code == 403 and "requested" in self_requested.json()["errors"][0]["message"]
        )

        fresh = (await w.post(w.operator, "retry-execution-approval-plan", {}))["plan"]
        [row] = fresh["approval_decisions"]
        assert (row["action"], row["digest"]) == ("request_approval", decision["digest"])
        w.clock.advance(hours=24, minutes=1)  # CAVRA_RETRY_APPROVAL_DECIDE_HOURS defaults to 24
        late = await w.approver.post(
            f"{AD}/retry-execution-approval-plans/{fresh['approval_plan_id']}/decisions",
            json={"provider": "webhook"},
        )
        assert late.status_code == 409, late.text
        expired = await w.wait_events(ApprovalExpiredV1, 1)
        assert {e["stage"] for e in expired} == {"decide"}
        assert len(w.fake.requests_for("webhook")) == 1, "nothing re-sent"


async def test_a_notification_plan_route_is_retried_as_a_job_of_its_own(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    np = "/runtime/go-pilot/rollback-drill-notifications"
    async with world(nats_url, database_url, tmp_path) as w:
        w.fake.script("webhook", [503])
        event = planned(7, providers=("webhook",), delivery=DeliveryOptions(retries=0))
        await w.bus.publish(make_envelope(event, producer="router"))
        await w.wait_events(NotificationDeliveredV1, 1)
        plan = (await w.operator.post(f"{np}/delivery-retry-plan", json={"retry_policy": IMMEDIATE})).json()[
            "plan"
        ]
        [decision] = plan["retry_decisions"]
        assert (decision["delivery_id"], decision["plan_id"]) == (event.plan.plan_id, event.plan.plan_id)
        await w.post(
            w.acker, f"retry-plans/{plan['retry_plan_id']}/acknowledgements", {"provider": "webhook"}
        )
        approval_plan = (
            await w.post(w.operator, "retry-execution-approval-plan", {"family": "notification"})
        )["plan"]
        await w.post(
            w.approver,
            f"retry-execution-approval-plans/{approval_plan['approval_plan_id']}/decisions",
            {"provider": "webhook"},
        )
        live = await w.operator.post(
            f"{np}/delivery-retry-worker-run", json={"execute": True, "retry_policy": IMMEDIATE}
        )
        assert live.json()["run"]["summary"]["selected_retry_count"] == 1, live.text
        [executed] = await w.wait_events(RetryExecutedV1, 1)
        assert executed["execution_status"] == "delivered"
        assert len(await w.events(NotificationDeliveredV1)) == 1, "the plan's delivery event stays the plan's"
        [retried] = [e for e in await w.events(MessageDeliveredV1) if e["job_id"].startswith("retry-")]
        assert retried["success"] is True and retried["kind"] == "rollback_drill_notification_retry"
        first, again = w.fake.requests_for("webhook")
        assert again.body["data"]["plan_id"] == first.body["data"]["plan_id"] == event.plan.plan_id


async def test_the_plan_statement_waits_out_the_backoff_like_the_rules(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    async with world(nats_url, database_url, tmp_path) as w:
        w.fake.script("webhook", [503])
        await w.fail_delivery()
        failed_at = w.clock()
        policy = {"retry_delay_minutes": 15, "backoff_multiplier": 2}
        [waiting] = (await w.post(w.operator, "retry-plan", {"retry_policy": policy}))["plan"][
            "retry_decisions"
        ]
        action, reason, delay, next_at = decide(
            retry_count=1,
            latest_failure_at=failed_at,
            now=w.clock(),
            max_retry_attempts=3,
            base_delay=15,
            multiplier=2,
            spec=FAMILY_SPECS["audit"],
        )
        assert (waiting["action"], waiting["reason"], waiting["retry_delay_minutes"]) == (
            action,
            reason,
            int(delay),
        )
        assert (action, waiting["next_retry_at"]) == ("wait", next_at.isoformat())
        assert waiting["reason"] == "retry delay 15 minutes has not elapsed"
        w.clock.advance(minutes=15)
        [due] = (await w.post(w.operator, "retry-plan", {"retry_policy": policy}))["plan"]["retry_decisions"]
        assert (due["action"], due["reason"]) == (
            "retry",
            "failed acknowledgement audit delivery is eligible for retry",
        )
        dry = await w.post(w.operator, "worker-run", {"retry_policy": policy})
        assert (
            dry["run"]["summary"]["waiting_retry_count"] == 0
            and dry["run"]["summary"]["retryable_count"] == 1
        )


async def test_old_decisions_are_pruned_and_the_plan_keeps_its_counts(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    async with world(nats_url, database_url, tmp_path) as w:
        w.fake.script("webhook", [503])
        await w.fail_delivery()
        plan = (await w.post(w.operator, "retry-plan", {"retry_policy": IMMEDIATE}))["plan"]
        path = f"{AD}/retry-plans/{plan['retry_plan_id']}"
        w.clock.advance(days=29)
        stored = (await w.operator.get(path)).json()["plan"]
        assert len(stored["retry_decisions"]) == 1 and stored["decisions_pruned_at"] is None
        w.clock.advance(days=1, minutes=1)  # past CAVRA_RETRY_DECISION_RETENTION_DAYS (30)

        async def pruned() -> bool:
            return bool((await w.operator.get(path)).json()["plan"]["decisions_pruned_at"])

        await eventually(pruned, what="the plan's decisions pruned")
        kept = (await w.operator.get(path)).json()["plan"]
        assert (kept["retry_decisions"], kept["decision_count"], kept["retryable_count"]) == ([], 1, 1)
