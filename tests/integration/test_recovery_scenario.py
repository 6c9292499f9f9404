"""Issue 8 end to end: a failed delivery governed back to success, then a connector that keeps failing
escalated to the operations channel, closed, and reported — with one controllable clock.

Every service involved runs its real bootstrap on the test's NATS and PostgreSQL (delivery, reporting,
the gateway); the providers are fakes on 127.0.0.1. Part one: an audit delivery fails at the webhook →
retry plan → a dry run sends nothing → an approver acknowledges the retry → the same person may not
approve it → another approver does → the live run re-sends the same payload once → the execution
record says ``delivered``; executing the consumed approval again is refused. Part two: the SIEM
connector keeps failing → a playbook → the recovery is open, then breached once the clock passes the
SLO → the recovery escalation goes to the policy's operations channel (Teams), never to the broken
SIEM → the SIEM is closed ``resolved`` → the recovery report and the executive report are healthy
again, and the dashboard and history count every record on the way.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from cavra_contracts.approvals import ApprovalRefusedV1
from cavra_contracts.deliveries import AUDIT_SOURCE, DeliverMessageV1, MessageDeliveredV1
from cavra_contracts.envelope import make_envelope
from cavra_contracts.families import FAMILY_SPECS
from cavra_contracts.retries import RetryExecutedV1
from cavra_runtime.bus import Bus
from tests.integration.test_notification_delivery import SIGNING_SECRET
from tests.support.auth import create_token
from tests.support.fake_providers import FakeProviders
from tests.support.harness import FakeClock, eventually, gateway_client, running_service, stored_events

NP = "/runtime/go-pilot/rollback-drill-notifications"
AD = f"{NP}/acknowledgements/audit-delivery"
IMMEDIATE = {"allow_immediate_retry": True, "retry_delay_minutes": 0}


def audit_job(job_id: str, provider: str) -> DeliverMessageV1:
    """An acknowledgement audit delivery, as the acknowledgement service sends it."""
    return DeliverMessageV1.model_validate(
        {
            "job_id": job_id,
            "source": AUDIT_SOURCE,
            "content": {
                "kind": "rollback_drill_acknowledgement_audit",
                "event_type": "cavra.go_backend.rollback_drill.acknowledgement_audit_delivery",
                "title": "CAVRA rollback drill acknowledgement audit critical",
                "text": f"Audit package for {job_id} has 1 outstanding route(s).",
                "severity": "critical",
                "data": {"audit_id": f"gordackaudit-{job_id[-16:]}", "outstanding_count": 1},
            },
            "targets": [
                {"target_key": f"audit:{provider}", "provider": provider, "owner": "release-governance"}
            ],
            "delivery": {"retries": 0, "timeout_seconds": 10},
        }
    )


def connectors(fake: FakeProviders, path: Path) -> str:
    path.write_text(
        json.dumps(
            {
                "connectors": {
                    "webhook": {"url": fake.url("webhook", "/audit"), "secret": SIGNING_SECRET},
                    "siem": {"url": fake.url("hec"), "token": "CANARY-HEC-TOKEN", "index": "security"},
                    "teams": {"type": "teams", "url": fake.url("teams", "/workflows/run")},
                }
            }
        )
    )
    return str(path)


async def ok(response: Awaitable[httpx.Response]) -> dict[str, Any]:
    answer = await response
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def test_a_failed_delivery_is_governed_back_and_a_broken_connector_is_escalated_closed_and_reported(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    clock = FakeClock()
    async with FakeProviders(webhook_secret=SIGNING_SECRET) as fake:
        config = connectors(fake, tmp_path / "connectors.json")
        tokens = {
            name: (await create_token(nats_url, role, name))[0]  # type: ignore[arg-type]
            for role, name in (
                ("operator", "olivia-operator"),
                ("approver", "carol-approver"),
                ("approver", "bob-approver"),
            )
        }
        async with (
            running_service(
                "delivery",
                nats_url,
                database_url,
                clock=clock,
                connector_config=config,
                retry_tick_seconds=0.2,
                recovery_escalation_providers="teams",
            ),
            running_service("reporting", nats_url, database_url, clock=clock),
            gateway_client(nats_url, database_url, token=tokens["olivia-operator"]) as operator,
            gateway_client(nats_url, database_url, token=tokens["carol-approver"]) as carol,
            gateway_client(nats_url, database_url, token=tokens["bob-approver"]) as bob,
        ):
            bus = await Bus.connect(nats_url, name="test-recovery-scenario")
            try:

                async def events(contract: type[Any], count: int) -> list[dict[str, Any]]:
                    async def enough() -> bool:
                        return len(await stored_events(nats_url, contract.MESSAGE.subject)) >= count

                    await eventually(enough, what=f"{count} {contract.__name__}")
                    return [e.payload for e in await stored_events(nats_url, contract.MESSAGE.subject)]

                async def send(job: DeliverMessageV1, delivered: int) -> None:
                    await bus.publish(make_envelope(job, producer="acknowledgement"))
                    await events(MessageDeliveredV1, delivered)

                # Part one: the webhook refuses the audit delivery once.
                fake.script("webhook", [503])
                await send(audit_job("gordackdelivery-00000000000000a1", "webhook"), 1)
                [first] = fake.requests_for("webhook")

                plan = (await ok(operator.post(f"{AD}/retry-plan", json={"retry_policy": IMMEDIATE})))["plan"]
                [decision] = plan["retry_decisions"]
                assert (decision["provider"], decision["action"], decision["attempt"]) == (
                    "webhook",
                    "retry",
                    1,
                )

                dry = await ok(operator.post(f"{AD}/worker-run", json={"retry_policy": IMMEDIATE}))
                assert dry["run"]["dry_run"] is True and dry["retry_results"][0]["skipped"] == "dry_run"
                assert len(fake.requests_for("webhook")) == 1, "a dry run sends nothing"

                acked = await ok(
                    carol.post(
                        f"{AD}/retry-plans/{plan['retry_plan_id']}/acknowledgements",
                        json={"provider": "webhook"},
                    )
                )
                assert acked["acknowledgement"]["acknowledgement_state"] == "accepted"
                approvals = (await ok(operator.post(f"{AD}/retry-execution-approval-plan", json={})))["plan"]
                assert approvals["approval_decisions"][0]["action"] == "request_approval"
                decide = f"{AD}/retry-execution-approval-plans/{approvals['approval_plan_id']}/decisions"

                refused = await carol.post(decide, json={"provider": "webhook"})
                assert refused.status_code == 403, "who acknowledged the retry may not approve it"
                [refusal] = await events(ApprovalRefusedV1, 1)
                assert refusal["reason"] == "separation_of_duties"

                approved = await ok(bob.post(decide, json={"provider": "webhook", "external_ref": "CHG-789"}))
                assert approved["decision"]["digest"] == decision["digest"], "bound to exactly this retry"

                live = await ok(
                    operator.post(f"{AD}/worker-run", json={"execute": True, "retry_policy": IMMEDIATE})
                )
                assert live["run"]["summary"]["selected_retry_count"] == 1
                [executed] = await events(RetryExecutedV1, 1)
                assert executed["execution_status"] == "delivered"
                records = await ok(
                    operator.get(f"{AD}/retry-executions", params={"run_id": live["run"]["run_id"]})
                )
                [record] = records["items"]
                assert record["payload_hash"] == decision["payload_hash"]
                assert record["approval_decision_id"] == approved["decision"]["decision_id"]
                requests = fake.requests_for("webhook")
                assert len(requests) == 2, "exactly one re-delivery"
                assert {k: v for k, v in requests[1].body["data"].items() if k != "job_id"} == {
                    k: v for k, v in first.body["data"].items() if k != "job_id"
                }, "of the payload that was approved"

                again = await ok(
                    operator.post(f"{AD}/worker-run", json={"execute": True, "retry_policy": IMMEDIATE})
                )
                assert again["run"]["summary"]["selected_retry_count"] == 0
                used = await ok(operator.get(f"{AD}/retry-execution-approvals", params={"state": "consumed"}))
                assert used["total"] == 1, "the approval was used once and is spent"
                assert len(fake.requests_for("webhook")) == 2, "a consumed approval sends nothing"

                async def audit_health() -> dict[str, Any]:
                    return await ok(operator.get(f"{AD}/worker-health"))

                health = await audit_health()
                assert (health["connector_delivery_failure_count"], health["failed_job_count"]) == (0, 0), (
                    "a retry that worked resolves the failure it retried"
                )

                # Part two: the SIEM keeps failing.
                fake.script("hec", [503, 503])
                await send(audit_job("gordackdelivery-00000000000000b1", "siem"), 3)
                await send(audit_job("gordackdelivery-00000000000000b2", "siem"), 4)
                siem_requests = len(fake.requests_for("hec"))
                health = await audit_health()
                assert health["connector_delivery_failure_count"] == 2 and health["alert_level"] != "healthy"

                made = await ok(
                    operator.post(f"{AD}/connector-recovery-playbook", json={"min_failure_count": 2})
                )
                playbook = made["playbook"]
                assert [p["provider"] for p in playbook["provider_playbooks"]] == ["siem"]
                assert playbook["provider_playbooks"][0]["category"] == "siem"

                async def recovery(**params: Any) -> dict[str, Any]:
                    report: dict[str, Any] = (
                        await ok(operator.get(f"{AD}/retry-recovery-report", params=params))
                    )["report"]
                    return report

                opened = await recovery()
                assert (opened["recovery_open_count"], opened["recovery_slo_breached_count"]) == (1, 0)
                assert opened["alert_level"] == "warning"

                clock.advance(minutes=241)
                breached = await recovery()
                assert breached["recovery_slo_breached_count"] == 1 and breached["alert_level"] == "critical"

                plan_made = await ok(operator.post(f"{AD}/recovery-escalation-plan", json={}))
                escalation = plan_made["plan"]
                assert escalation["slo_breached_count"] == 1

                sent = await ok(
                    operator.post(
                        f"{AD}/recovery-escalations/{escalation['plan_id']}/deliver", json={"retries": 0}
                    )
                )
                assert sent["event_id"] == escalation["plan_id"]

                async def at_the_operations_channel() -> bool:
                    return len(fake.requests_for("teams")) == 1

                await eventually(at_the_operations_channel, what="the recovery escalation at Teams")
                assert len(fake.requests_for("hec")) == siem_requests, "the broken SIEM gets nothing"
                assert "siem" in fake.requests_for("teams")[0].raw.decode()

                closed = await ok(
                    operator.post(
                        f"{AD}/connector-recovery-playbooks/{playbook['playbook_id']}/closures",
                        json={
                            "provider": "siem",
                            "external_ref": "INC-123",
                            "verification_refs": [record["execution_id"]],
                        },
                    )
                )
                assert closed["closure"]["closure_state"] == "resolved"
                assert closed["closure"]["closed_by"] == "olivia-operator"

                healthy = await recovery()
                assert (healthy["alert_level"], healthy["recovery_closed_count"]) == ("healthy", 1)
                assert healthy["execution_success_count"] == 1

                executive = (await ok(operator.get(f"{AD}/recovery-executive-report")))["report"]
                assert executive["executive_summary"]["status"] == "healthy"
                document = await operator.get(f"{AD}/recovery-executive-report", params={"format": "html"})
                assert document.status_code == 200 and "siem" in document.text

                async def counted(check: Callable[[dict[str, Any]], bool]) -> bool:
                    return check(await ok(operator.get(f"{NP}/dashboard")))

                kinds = FAMILY_SPECS["audit"]

                def everything(dashboard: dict[str, Any]) -> bool:
                    return bool(
                        dashboard.get("acknowledgement_audit_delivery_retry_execution_record_count") == 1
                        and dashboard.get("acknowledgement_audit_delivery_connector_recovery_playbook_count")
                        == 1
                        and dashboard.get("acknowledgement_audit_delivery_connector_recovery_closure_count")
                        == 1
                        and dashboard.get("acknowledgement_audit_delivery_recovery_escalation_plan_count")
                        == 1
                    )

                await eventually(lambda: counted(everything), what="the dashboard to count every record")
                history = await ok(
                    operator.get(f"{NP}", params={"metadata_kind": kinds.execution_kind, "limit": 10})
                )
                assert history["total"] == 1
            finally:
                await bus.close()
