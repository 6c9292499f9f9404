"""Connector recovery end to end: gateway -> NATS -> delivery service -> PostgreSQL, and the recovery
escalation delivered over real HTTP to a local fake provider.

A connector keeps failing (seeded delivery rows) -> playbook -> recovery open -> the clock passes the
SLO -> breached -> the escalation goes to the operations channel (webhook), never to the broken SIEM
-> closure -> the report is healthy. Every bad request is a 4xx naming the field and stores nothing;
the report never writes.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from cavra_contracts.families import RECOVERY_ESCALATION_SOURCE
from tests.integration.test_notification_delivery import SIGNING_SECRET
from tests.support.fake_providers import FakeProviders
from tests.support.harness import FakeClock, answering, eventually, gateway_client, running_service

AD = "/runtime/go-pilot/rollback-drill-notifications/acknowledgements/audit-delivery"
RECOVERY_TABLES = (
    "recovery_playbooks",
    "recovery_playbook_providers",
    "recovery_closures",
    "recovery_escalation_plans",
    "recovery_escalation_deliveries",
    "recovery_escalation_acks",
    "outbox",
)


@dataclass
class Stack:
    client: httpx.AsyncClient
    fake: FakeProviders
    clock: FakeClock
    database_url: str

    async def sql(self, statement: str, *args: Any) -> Any:
        conn = await asyncpg.connect(self.database_url, server_settings={"search_path": "delivery"})
        try:
            return await conn.fetchval(statement, *args)
        finally:
            await conn.close()

    async def counts(self) -> dict[str, int]:
        return {table: int(await self.sql(f"SELECT count(*) FROM {table}")) for table in RECOVERY_TABLES}

    async def fail(self, provider: str, n: int, at: datetime, status_code: int = 503) -> None:
        """``n`` failed delivery rows of a provider, as the pipeline writes them."""
        for i in range(n):
            await self.sql(
                """
                INSERT INTO deliveries (delivery_id, plan_id, route_key, schedule_id, provider, owner,
                                        connector, status, attempt_count, status_code, created_at,
                                        completed_at, job_id, source)
                VALUES ($1, '', $2, '', $3, '', $3, 'failed', 1, $4, $5, $5, $6, $7)
                """,
                f"job-{provider}-{i}:{provider}:{provider}",
                provider,
                provider,
                status_code,
                at,
                f"job-{provider}-{i}",
                RECOVERY_ESCALATION_SOURCE,
            )

    async def execution(self, provider: str, status: str, at: datetime, family: str = "audit") -> None:
        await self.sql(
            """
            INSERT INTO retry_executions (execution_id, family, run_id, retry_plan_id, origin_job_id,
                                          provider,
                                          attempt, digest, execution_status, executed_at, executed_by,
                                          delivery_success, approval_id, document)
            VALUES ($1, $2, 'gordackworker-1', 'gordackretry-1', 'job-origin', $3, 1, 'd', $4, $5, 'ops',
                    $6, 'approval-1', '{}')
            """,
            f"gordackretryexec-{provider}-{status}",
            family,
            provider,
            status,
            at,
            status == "delivered",
        )


def connectors(fake: FakeProviders, path: Path) -> Path:
    document = {
        "connectors": {
            "webhook": {"url": fake.url("webhook", "/ops"), "secret": SIGNING_SECRET},
            "siem": {"url": fake.url("hec"), "token": "CANARY-HEC-TOKEN", "index": "security"},
        }
    }
    path.write_text(json.dumps(document))
    return path


@asynccontextmanager
async def stack(nats_url: str, database_url: str, tmp_path: Path, **settings: Any) -> AsyncIterator[Stack]:
    clock = FakeClock()
    async with FakeProviders(webhook_secret=SIGNING_SECRET) as fake:
        settings.setdefault("connector_config", str(connectors(fake, tmp_path / "connectors.json")))
        async with (
            running_service("delivery", nats_url, database_url, clock=clock, **settings),
            gateway_client(nats_url, database_url) as client,
        ):
            await answering(client, f"{AD}/recovery-escalations")
            yield Stack(client, fake, clock, database_url)


def fields(response: httpx.Response) -> list[str]:
    return [problem["field"] for problem in response.json()["errors"]]


async def report(s: Stack, **params: Any) -> dict[str, Any]:
    response = await s.client.get(f"{AD}/retry-recovery-report", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_failing_connector_is_escalated_to_the_operations_channel_then_closed(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    async with stack(nats_url, database_url, tmp_path) as s:
        start = s.clock()
        await s.fail("siem", 3, start - timedelta(hours=1))
        await s.fail("webhook", 1, start - timedelta(hours=2))  # once is not "repeated"
        await s.execution("siem", "delivered", start - timedelta(minutes=30))

        made = await s.client.post(f"{AD}/connector-recovery-playbook", json={"generated_by": "mallory"})
        assert made.status_code == 200, made.text
        playbook = made.json()["playbook"]
        assert made.json()["metadata"]["metadata_kind"].endswith("-connector-recovery-playbook")
        assert (playbook["provider_count"], playbook["failure_count"], playbook["alert_level"]) == (
            1,
            3,
            "critical",
        )
        entry = playbook["provider_playbooks"][0]
        assert (entry["provider"], entry["category"], entry["status_codes"]) == ("siem", "siem", ["503"])
        assert len(entry["recovery_steps"]) == 6 and playbook["generated_by"] == "bootstrap-admin"

        opened = await report(s, recovery_slo_minutes=240)
        row = opened["report"]["recovery_rows"][0]
        assert (row["slo_status"], row["age_minutes"], opened["report"]["alert_level"]) == (
            "open",
            0,
            "warning",
        )
        assert opened["escalation_plan"]["escalation_routes"][0]["severity"] == "warning"
        assert opened["metadata"]["session_id"] == opened["report"]["report_id"]

        s.clock.advance(minutes=240)
        assert (await report(s))["report"]["recovery_rows"][0]["slo_status"] == "open", "breach is strict"
        s.clock.advance(minutes=1)
        before = await s.counts()
        breached = await report(s)
        assert await s.counts() == before, "GET writes nothing"
        assert breached["report"]["recovery_slo_breached_count"] == 1
        assert breached["report"]["alert_level"] == "critical"
        assert breached["escalation_plan"]["selected_providers"] == ["siem"]

        sent = await s.client.post(f"{AD}/recovery-escalations/latest/deliver", json={"retries": 0})
        assert sent.status_code == 200, sent.text
        body = sent.json()
        plan = body["plan"]
        assert body["event_id"] == plan["plan_id"] and plan["slo_breached_count"] == 1
        assert body["delivery"]["providers"] == ["webhook"]
        assert body["actor"]["actor"] == "bootstrap-admin"

        async def ops_got_it() -> bool:
            return len(s.fake.requests_for("webhook")) == 1

        await eventually(ops_got_it, what="the escalation at the operations channel")
        assert s.fake.requests_for("hec") == [], "the broken connector gets nothing"
        request = s.fake.requests_for("webhook")[0]
        assert b"recovery SLO breached" in request.raw and request.status == 204

        listed = (await s.client.get(f"{AD}/recovery-escalations")).json()
        assert listed["total"] == 1 and listed["items"][0]["plan"]["plan_id"] == plan["plan_id"]
        stored = await s.client.get(f"{AD}/recovery-escalations/{plan['plan_id']}")
        assert stored.status_code == 200 and stored.json()["deliveries"][0]["providers"] == ["webhook"]

        acked = await s.client.post(
            f"{AD}/recovery-escalations/{plan['plan_id']}/acknowledgements",
            json={"provider": "webhook", "acknowledgement_state": "accepted", "acknowledged_by": "mallory"},
        )
        assert acked.status_code == 200, acked.text
        assert acked.json()["acknowledgement"]["acknowledged_by"] == "bootstrap-admin"

        closed = await s.client.post(
            f"{AD}/connector-recovery-playbooks/{playbook['playbook_id']}/closures",
            json={"provider": "siem", "external_ref": "INC-123", "verification_refs": ["INC-123"]},
        )
        assert closed.status_code == 200, closed.text
        closure = closed.json()["closure"]
        assert (closure["closure_state"], closure["closed_by"]) == ("resolved", "bootstrap-admin")
        assert len(closure["closure_hash"]) == 64

        healthy = await report(s)
        assert healthy["report"]["alert_level"] == "healthy"
        assert healthy["report"]["recovery_closed_count"] == 1
        assert healthy["report"]["closure_trends"][0]["resolved_count"] == 1
        siem = next(row for row in healthy["report"]["provider_summary"] if row["provider"] == "siem")
        assert (
            siem["execution_delivered_count"],
            siem["recovery_closure_count"],
            siem["open_recovery_count"],
        ) == (
            1,
            1,
            0,
        )
        assert healthy["statistics"]["closure_minutes_median"] == 241.0
        assert healthy["escalation_plan"]["escalation_count"] == 0

        pages = (await s.client.get(f"{AD}/connector-recovery-playbooks")).json()
        assert pages["total"] == 1
        assert pages["items"][0]["playbook"]["provider_playbooks"][0]["closure_state"] == "resolved"

        s.clock.advance(minutes=1)
        reopened = await s.client.post(
            f"{AD}/connector-recovery-playbooks/{playbook['playbook_id']}/closures",
            json={"provider": "siem", "closure_state": "reopened"},
        )
        assert reopened.status_code == 200, reopened.text
        again = await report(s)
        assert again["report"]["recovery_rows"][0]["slo_status"] == "breached", "reopened is open again"


async def test_bad_requests_name_the_field_and_store_nothing(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    async with stack(nats_url, database_url, tmp_path) as s:
        await s.fail("webhook", 2, s.clock() - timedelta(minutes=5))
        made = await s.client.post(f"{AD}/connector-recovery-playbook", json={"min_failure_count": 2})
        assert made.status_code == 200, made.text
        playbook_id = made.json()["playbook"]["playbook_id"]
        planned = await s.client.post(f"{AD}/recovery-escalation-plan", json={"recovery_slo_minutes": 60})
        assert planned.status_code == 200, planned.text
        plan_id = planned.json()["plan"]["plan_id"]
        assert planned.json()["plan"]["escalation_count"] == 1
        before = await s.counts()

        cases: list[tuple[str, str, dict[str, Any], int, str]] = [
            ("POST", f"{AD}/connector-recovery-playbook", {"min_failure_count": 0}, 422, "min_failure_count"),
            ("POST", f"{AD}/connector-recovery-playbook", {"lookback_hours": "x"}, 422, "lookback_hours"),
            (
                "POST",
                f"{AD}/connector-recovery-playbook",
                {"actor_claims": {"email": "x"}},
                422,
                "actor_claims",
            ),
            (
                "POST",
                f"{AD}/connector-recovery-playbooks/{playbook_id}/closures",
                {"provider": "webhook", "closure_state": "closed"},
                422,
                "closure_state",
            ),
            (
                "POST",
                f"{AD}/connector-recovery-playbooks/{playbook_id}/closures",
                {"provider": "webhook", "verification_refs": [""]},
                422,
                "verification_refs",
            ),
            ("POST", f"{AD}/connector-recovery-playbooks/{playbook_id}/closures", {}, 422, "provider"),
            (
                "POST",
                f"{AD}/connector-recovery-playbooks/gordackrecovery-0000000000000000/closures",
                {"provider": "webhook"},
                404,
                "playbook_id",
            ),
            (
                "POST",
                f"{AD}/connector-recovery-playbooks/{playbook_id}/closures",
                {"provider": "jira"},
                404,
                "provider",
            ),
            (
                "POST",
                f"{AD}/recovery-escalation-plan",
                {"recovery_slo_minutes": 0},
                422,
                "recovery_slo_minutes",
            ),
            ("POST", f"{AD}/recovery-escalations/unknown-id/deliver", {}, 404, "plan_id"),
            ("POST", f"{AD}/recovery-escalations/{plan_id}/deliver", {"provider": "jira"}, 400, "provider"),
            ("POST", f"{AD}/recovery-escalations/{plan_id}/deliver", {"max_routes": 0}, 422, "max_routes"),
            (
                "POST",
                f"{AD}/recovery-escalations/{plan_id}/acknowledgements",
                {"provider": "webhook", "acknowledgement_state": "closed"},
                422,
                "acknowledgement_state",
            ),
            (
                "POST",
                f"{AD}/recovery-escalations/{plan_id}/acknowledgements",
                {"provider": "jira"},
                404,
                "provider",
            ),
            (
                "POST",
                f"{AD}/recovery-escalations/unknown-id/acknowledgements",
                {"provider": "slack"},
                404,
                "plan_id",
            ),
            ("GET", f"{AD}/retry-recovery-report?recovery_slo_minutes=0", {}, 422, "recovery_slo_minutes"),
            ("GET", f"{AD}/retry-recovery-report?family=nope", {}, 422, "family"),
            (
                "GET",
                f"{AD}/retry-recovery-report?window_start=2026-11-02T00:00:00Z&window_end=2026-11-01T00:00:00Z",
                {},
                422,
                "window_end",
            ),
            ("GET", f"{AD}/connector-recovery-playbooks?limit=0", {}, 422, "limit"),
            ("GET", f"{AD}/recovery-escalations?offset=-1", {}, 422, "offset"),
        ]
        for method, path, body, status, field in cases:
            response = await (s.client.get(path) if method == "GET" else s.client.post(path, json=body))
            assert response.status_code == status, (path, body, response.text)
            named = fields(response)
            assert field in named or f"query.{field}" in named, (path, body, response.text)
        unknown = await s.client.post(f"{AD}/recovery-escalations/unknown-id/deliver", json={})
        assert unknown.json()["errors"][0]["message"] == "recovery escalation plan not found"
        closed = await s.client.post(
            f"{AD}/connector-recovery-playbooks/{playbook_id}/closures",
            json={"provider": "webhook", "closure_state": "closed"},
        )
        assert "closure_state must be resolved, mitigated, deferred, escalated, or reopened" in closed.text
        missing = await s.client.get(f"{AD}/recovery-escalations/gordackrecoveryesc-0000000000000000")
        assert missing.status_code == 404
        after = await s.counts()
        assert {k: v for k, v in after.items() if k != "outbox"} == {
            k: v for k, v in before.items() if k != "outbox"
        }, "nothing stored"
        assert s.fake.requests == []


async def test_the_policy_names_the_channels_latest_reuses_the_stored_plan_and_the_report_filters(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    async with stack(nats_url, database_url, tmp_path, recovery_escalation_providers="siem") as s:
        start = s.clock()
        await s.fail("webhook", 2, start - timedelta(hours=3))
        await s.execution("webhook", "failed", start - timedelta(days=2), family="audit")
        await s.execution("siem", "delivered", start - timedelta(hours=1), family="executive_report")
        made = await s.client.post(f"{AD}/connector-recovery-playbook", json={"lookback_hours": 2})
        assert made.json()["playbook"]["provider_playbooks"] == [], "outside the lookback"
        assert made.json()["playbook"]["alert_level"] == "healthy"
        made = await s.client.post(f"{AD}/connector-recovery-playbook", json={})
        playbook = made.json()["playbook"]
        assert playbook["provider_count"] == 1

        everything = await report(s)
        assert everything["report"]["execution_count"] == 2
        assert everything["report"]["alert_level"] == "critical", "a failed execution"
        routes = everything["escalation_plan"]["escalation_routes"]
        assert [(r["provider"], r["slo_status"]) for r in routes] == [
            ("webhook", "review_required"),
            ("webhook", "open"),
        ]
        executive = await report(s, family="executive_report")
        assert (executive["report"]["execution_count"], executive["report"]["execution_failed_count"]) == (
            1,
            0,
        )
        window = await report(
            s, window_start=(start - timedelta(days=1)).isoformat(), window_end=start.isoformat()
        )
        assert window["statistics"]["execution_count"] == 1
        assert window["statistics"]["execution_status_counts"] == {"delivered": 1}
        assert window["statistics"]["playbook_provider_count"] == 0, "generated at the window's end"

        planned = await s.client.post(f"{AD}/recovery-escalation-plan", json={})
        plan_id = planned.json()["plan"]["plan_id"]
        first = await s.client.post(f"{AD}/recovery-escalations/latest/deliver", json={"retries": 0})
        assert first.status_code == 200, first.text
        assert first.json()["plan"]["plan_id"] == plan_id, "latest is the stored plan"
        assert first.json()["delivery"]["providers"] == ["siem"], "the policy names the channel"

        async def hec_got_it() -> bool:
            return len(s.fake.requests_for("hec")) == 1

        await eventually(hec_got_it, what="the escalation at the policy's channel")
        again = await s.client.post(f"{AD}/recovery-escalations/{plan_id}/deliver", json={"retries": 0})
        assert again.status_code == 200, again.text
        assert again.json()["delivery"]["job_id"] == first.json()["delivery"]["job_id"]
        assert int(await s.sql("SELECT count(*) FROM recovery_escalation_plans")) == 1
        assert len(s.fake.requests_for("hec")) == 1, "nothing twice"
        assert s.fake.requests_for("webhook") == []


async def test_without_a_connector_config_latest_delivers_nothing_and_keeps_no_fresh_plan(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    async with stack(nats_url, database_url, tmp_path, connector_config="") as s:
        refused = await s.client.post(f"{AD}/recovery-escalations/latest/deliver", json={})
        assert refused.status_code == 400, refused.text
        assert fields(refused) == ["CAVRA_CONNECTOR_CONFIG"]
        counts = await s.counts()
        assert counts["recovery_escalation_plans"] == 0 and counts["recovery_escalation_deliveries"] == 0


async def test_a_repeated_request_with_its_idempotency_key_stores_one_closure(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    async with stack(nats_url, database_url, tmp_path) as s:
        await s.fail("siem", 2, s.clock() - timedelta(minutes=5))
        playbook_id = (await s.client.post(f"{AD}/connector-recovery-playbook", json={})).json()["playbook"][
            "playbook_id"
        ]
        path = f"{AD}/connector-recovery-playbooks/{playbook_id}/closures"
        body = {"provider": "SIEM", "closure_state": "mitigated"}
        first = await s.client.post(path, json=body, headers={"Idempotency-Key": "close-siem-1"})
        second = await s.client.post(path, json=body, headers={"Idempotency-Key": "close-siem-1"})
        assert first.status_code == second.status_code == 200, (first.text, second.text)
        assert first.json()["closure"]["closure_id"] == second.json()["closure"]["closure_id"]
        assert first.json()["closure"]["provider"] == "siem", "normalised"
        assert int(await s.sql("SELECT count(*) FROM recovery_closures")) == 1
