"""Worker health and health alerts end to end: gateway -> NATS -> delivery service -> PostgreSQL, and the
alerts over real HTTP to the local fake providers.

The retry machinery's tables are seeded with plain INSERTs (its columns of migration 0006). A failing
family is warned about, alerted once, suppressed inside the window, sent again when forced,
acknowledged; the health report writes nothing; bad input is a 4xx naming the field, nothing stored.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from cavra_contracts.deliveries import AUDIT_SOURCE, DeliverMessageV1
from cavra_contracts.health import STATE_PROBLEM
from cavra_runtime.testing import FakeClock
from tests.integration.test_notification_delivery import SIGNING_SECRET
from tests.support.fake_providers import FakeProviders
from tests.support.harness import answering, eventually, gateway_client, running_service

AD = "/runtime/go-pilot/rollback-drill-notifications/acknowledgements/audit-delivery"
NOW = datetime.now(UTC).replace(microsecond=0)
ALERT_KIND = "go-backend-rollback-drill-acknowledgement-audit-delivery-worker-health-alert"
COUNTED = (
    "health_alert_plans",
    "health_alert_acks",
    "worker_health_checks",
    "outbox",
    "inbox",
    "deliveries",
    "delivery_records",
)


@dataclass
class Stack:
    client: httpx.AsyncClient
    fake: FakeProviders
    database_url: str
    nats_url: str

    async def sql(self, sql: str, *args: Any) -> Any:
        conn = await asyncpg.connect(self.database_url, server_settings={"search_path": "delivery"})
        try:
            return await conn.fetchval(sql, *args)
        finally:
            await conn.close()

    async def counts(self) -> dict[str, int]:
        return {table: int(await self.sql(f"SELECT count(*) FROM {table}")) for table in COUNTED}

    def alerts_received(self) -> list[Any]:
        return [r for r in self.fake.requests_for("webhook") if b"worker_health_alert" in r.raw]

    async def jobs(self) -> int:
        """Delivery jobs the delivery service enqueued (its outbox keeps published rows a while)."""
        subject = DeliverMessageV1.MESSAGE.subject
        return int(await self.sql("SELECT count(*) FROM outbox WHERE subject = $1", subject))


@asynccontextmanager
async def stack(nats_url: str, database_url: str, tmp_path: Path, **settings: Any) -> AsyncIterator[Stack]:
    async with FakeProviders(webhook_secret=SIGNING_SECRET) as fake:
        config = tmp_path / "connectors.json"
        config.write_text(
            json.dumps(
                {
                    "connectors": {
                        "webhook": {"url": fake.url("webhook", "/health"), "secret": SIGNING_SECRET},
                        "splunk": {
                            "type": "splunk",
                            "url": fake.url("hec"),
                            "token": "CANARY-HEC-TOKEN",
                            "index": "ops",
                        },
                    }
                }
            )
        )
        async with (
            running_service(
                "delivery",
                nats_url,
                database_url,
                connector_config=str(config),
                clock=settings.pop("clock", None),
                **settings,
            ),
            gateway_client(nats_url, database_url) as client,
        ):
            s = Stack(client, fake, database_url, nats_url)
            await answering(client, f"{AD}/worker-health-alert-dashboard")
            yield s


async def seed(s: Stack, family: str, *, at: datetime, retryable: int, failed_source: str | None) -> None:
    """A worker run and a retry plan of ``family`` at ``at``; a failed delivery record of ``failed_source``
    (the columns of migration 0006 and the pipeline's delivery_records)."""
    conn = await asyncpg.connect(s.database_url, server_settings={"search_path": "delivery"})
    try:
        plan_id = f"seed-plan-{family}"
        await conn.execute(
            """INSERT INTO retry_plans (retry_plan_id, family, generated_at, generated_by, policy,
                   alert_level, decision_count, retryable_count, waiting_count, suppressed_count)
               VALUES ($1, $2, $3, 'seed', '{}', 'critical', $4, $4, 0, 0)""",
            plan_id,
            family,
            at,
            retryable,
        )
        await conn.execute(
            """INSERT INTO worker_runs (run_id, family, generated_at, generated_by, dry_run, retry_plan_id,
                   retryable_count, selected_retry_count, document)
               VALUES ($1, $2, $3, 'seed', true, $4, $5, $5, '{}')""",
            f"seed-run-{family}",
            family,
            at,
            plan_id,
            retryable,
        )
        if failed_source is not None:
            document = {
                "metadata_kind": "release-connector-delivery",
                "failed_providers": ["webhook"],
                "status_codes": [503],
                "providers": ["webhook"],
            }
            await conn.execute(
                """INSERT INTO delivery_records (record_id, plan_id, job_id, source, success, document,
                   created_at) VALUES ($1, NULL, $2, $3, false, $4::jsonb, $5)""",
                f"rcd-seed-{family}",
                f"seed-job-{family}",
                failed_source,
                json.dumps(document),
                at,
            )
    finally:
        await conn.close()


def fields(response: httpx.Response) -> list[str]:
    return [problem["field"] for problem in response.json()["errors"]]


async def test_a_failing_family_is_alerted_once_per_window_forced_again_and_acknowledged(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    async with stack(nats_url, database_url, tmp_path) as s:
        await seed(s, "audit", at=NOW - timedelta(minutes=10), retryable=1, failed_source=AUDIT_SOURCE)

        async def checked() -> bool:
            return int(await s.sql("SELECT count(*) FROM worker_health_checks")) == 3

        await eventually(checked, what="the health timer's first check")
        before = await s.counts()
        first = await s.client.get(f"{AD}/worker-health")
        again = await s.client.get(f"{AD}/worker-health", params={"expected_interval_minutes": 30})
        assert first.status_code == 200 and again.status_code == 200, first.text
        assert await s.counts() == before, "GET worker-health wrote something"
        health = first.json()
        assert health["schema_version"].endswith("-acknowledgement-audit-delivery-worker-health.v1")
        assert health["alert_level"] == "warning"
        assert (health["retryable_count"], health["connector_delivery_failure_count"]) == (1, 1)
        assert health["missed_run_count"] == 0 and health["latest_run_id"] == "seed-run-audit"
        assert again.json()["health_id"] == health["health_id"]

        delivered = await s.client.post(
            f"{AD}/worker-health-alerts/deliver", json={"provider": "webhook", "generated_by": "mallory"}
        )
        assert delivered.status_code == 200, delivered.text
        body = delivered.json()
        assert body["event_id"] == health["health_id"] == body["plan"]["health_id"]
        assert (
            body["plan"]["selected_providers"] == ["webhook"] and body["plan"]["suppressed_providers"] == []
        )
        assert (
            body["plan"]["generated_by"] == "bootstrap-admin" and body["actor"]["actor"] == "bootstrap-admin"
        )
        assert (
            body["delivery"]["status"] == "pending" and body["delivery"]["job_id"] == body["plan"]["plan_id"]
        )
        assert body["plan_metadata"]["metadata_kind"] == f"{ALERT_KIND}-plan"
        assert body["health"]["health_id"] == health["health_id"]

        async def alerted(count: int) -> bool:
            return len(s.alerts_received()) == count

        await eventually(lambda: alerted(1), what="the alert at the webhook")
        [received] = s.alerts_received()
        assert received.body["data"]["health_id"] == health["health_id"]
        assert (
            received.body["type"]
            == "cavra.go_backend.rollback_drill.acknowledgement_audit_worker_health_alert"
        )

        suppressed = await s.client.post(f"{AD}/worker-health-alerts/deliver", json={"provider": "webhook"})
        assert suppressed.status_code == 200, suppressed.text
        held = suppressed.json()
        assert (
            held["plan"]["selected_providers"] == [] and held["delivery"] is None and held["success"] is True
        )
        assert [p["provider"] for p in held["plan"]["suppressed_providers"]] == ["webhook"]
        assert held["event_id"] == health["health_id"]
        assert await s.jobs() == 1, "a suppressed alert enqueued a delivery"

        forced = await s.client.post(
            f"{AD}/worker-health-alerts/deliver", json={"provider": "webhook", "force": True}
        )
        assert forced.status_code == 200 and forced.json()["plan"]["selected_providers"] == ["webhook"]
        await eventually(lambda: alerted(2), what="the forced alert at the webhook")

        async def recorded(count: int) -> bool:
            dashboard = (await s.client.get(f"{AD}/worker-health-alert-dashboard")).json()
            return bool(dashboard["delivery_count"] == count)

        await eventually(lambda: recorded(2), what="both alert deliveries recorded")
        dashboard = (await s.client.get(f"{AD}/worker-health-alert-dashboard")).json()
        assert dashboard["schema_version"].endswith("-worker-health-alert-dashboard.v1")
        assert (dashboard["plan_count"], dashboard["failed_delivery_count"]) == (3, 0)
        assert dashboard["suppressed_provider_count"] == 1
        assert dashboard["outstanding_acknowledgement_count"] == 1 and dashboard["alert_level"] == "critical"
        assert dashboard["outstanding_acknowledgements"][0]["provider"] == "webhook"

        acked = await s.client.post(
            f"{AD}/worker-health-alerts/{health['health_id']}/acknowledgements",
            json={"provider": "WebHook", "acknowledged_by": "mallory", "external_ref": "INC-42"},
        )
        assert acked.status_code == 201, acked.text
        ack = acked.json()
        assert ack["acknowledgement"]["acknowledged_by"] == "bootstrap-admin"
        assert ack["acknowledgement"]["acknowledgement_state"] == "acknowledged"
        assert ack["acknowledgement"]["provider"] == "webhook"
        assert ack["metadata"]["metadata_kind"] == f"{ALERT_KIND}-ack"
        assert ack["acknowledgement"]["acknowledgement_id"].startswith("gordackhealthack-")

        after = (await s.client.get(f"{AD}/worker-health-alert-dashboard")).json()
        assert after["outstanding_acknowledgement_count"] == 0 and after["acknowledgement_count"] == 1
        assert after["alert_level"] == "warning"  # a provider was suppressed, nothing is outstanding

        listed = (
            await s.client.get(f"{AD}/worker-health-alerts", params={"health_id": health["health_id"]})
        ).json()
        assert listed["total"] == 6  # three plans, one ack, two alert deliveries
        kinds = sorted(item["metadata_kind"] for item in listed["items"])
        assert kinds == [
            f"{ALERT_KIND}-ack",
            *[f"{ALERT_KIND}-plan"] * 3,
            *["release-connector-delivery"] * 2,
        ]
        only_acks = await s.client.get(
            f"{AD}/worker-health-alerts", params={"acknowledgement_state": "acknowledged"}
        )
        assert only_acks.json()["total"] == 1
        assert (await s.client.get(f"{AD}/worker-health-alerts", params={"suppressed": "true"})).json()[
            "total"
        ] == 1
        page = (await s.client.get(f"{AD}/worker-health-alerts", params={"limit": 2, "offset": 1})).json()
        assert (len(page["items"]), page["total"], page["limit"], page["offset"]) == (2, 6, 2, 1)
        slack = await s.client.get(f"{AD}/worker-health-alerts", params={"provider": "splunk"})
        assert slack.json()["total"] == 0
        # the other families have their own alerts and paths
        other = (await s.client.get(f"{AD}/recovery-escalations/retry-health-alerts")).json()
        assert other["total"] == 0 and other["schema_version"].endswith(
            "-recovery-escalation-retry-health-alert-history.v1"
        )
        assert len(s.alerts_received()) == 2


async def test_the_other_families_answer_with_their_names_and_a_healthy_one_alerts_nobody(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    async with stack(nats_url, database_url, tmp_path) as s:
        await seed(s, "executive_report", at=NOW - timedelta(minutes=5), retryable=0, failed_source=None)
        recovery = await s.client.get(f"{AD}/recovery-escalations/retry-health")
        assert recovery.status_code == 200, recovery.text
        report = recovery.json()["health"]
        assert report["schema_version"].endswith("-recovery-escalation-retry-health.v1")
        assert report["alert_level"] == "critical" and report["missed_worker_count"] == 1
        assert report["expected_interval_minutes"] == 30
        assert recovery.json()["metadata"]["metadata_kind"].endswith("-recovery-escalation-retry-health")

        executive = (await s.client.get(f"{AD}/recovery-executive-report/delivery-retry-health")).json()[
            "health"
        ]
        assert executive["schema_version"].endswith("-recovery-executive-report-delivery-retry-health.v1")
        assert (executive["expected_interval_minutes"], executive["stale_metadata_minutes"]) == (60, 180)
        assert executive["alert_level"] == "healthy", executive["alerts"]
        forced = await s.client.post(
            f"{AD}/recovery-executive-report/delivery-retry-health-alerts/deliver", json={"force": True}
        )
        assert forced.status_code == 200, forced.text
        assert forced.json()["plan"]["eligible_providers"] == ["siem", "webhook"]
        assert forced.json()["plan"]["selected_providers"] == [] and forced.json()["delivery"] is None

        critical = await s.client.post(
            f"{AD}/recovery-escalations/retry-health-alerts/deliver",
            json={"provider": "splunk", "retries": 0},
        )
        assert critical.status_code == 200, critical.text
        plan = critical.json()["plan"]
        assert plan["plan_id"].startswith("gordackrecoveryhealthalert-") and plan["selected_providers"] == [
            "siem"
        ]

        async def hec_alerted() -> bool:
            return len(s.fake.requests_for("hec")) == 1

        await eventually(hec_alerted, what="the recovery alert at the HEC")
        assert b"gordackrecoveryeschealth-" in s.fake.requests_for("hec")[0].raw
        assert s.alerts_received() == []


async def test_bad_input_is_a_4xx_naming_the_field_and_stores_nothing(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    async with stack(nats_url, database_url, tmp_path) as s:
        alerts = f"{AD}/worker-health-alerts"
        unknown = "gordackhealth-0000000000000000"
        cases: list[tuple[str, str, dict[str, Any] | None, dict[str, Any] | None, int, str]] = [
            (
                "POST",
                f"{alerts}/{unknown}/acknowledgements",
                {"provider": "webhook", "acknowledgement_state": "done"},
                None,
                422,
                "acknowledgement_state",
            ),
            ("POST", f"{alerts}/{unknown}/acknowledgements", {"provider": "webhook"}, None, 404, "health_id"),
            ("POST", f"{alerts}/{unknown}/acknowledgements", {}, None, 422, "provider"),
            ("POST", f"{alerts}/{unknown}/acknowledgements", {"provider": 7}, None, 422, "provider"),
            (
                "POST",
                f"{alerts}/not-a-health-id/acknowledgements",
                {"provider": "webhook"},
                None,
                422,
                "path.health_id",
            ),
            ("POST", f"{alerts}/deliver", {"provider": "pagerduty"}, None, 400, "provider"),
            (
                "POST",
                f"{alerts}/deliver",
                {"suppression_window_minutes": "sixty"},
                None,
                422,
                "suppression_window_minutes",
            ),
            (
                "POST",
                f"{alerts}/deliver",
                {"suppression_window_minutes": 0},
                None,
                422,
                "suppression_window_minutes",
            ),
            (
                "POST",
                f"{alerts}/deliver",
                {"expected_interval_minutes": 10_081},
                None,
                422,
                "expected_interval_minutes",
            ),
            ("POST", f"{alerts}/deliver", {"force": "yes"}, None, 422, "force"),
            ("POST", f"{alerts}/deliver", {"max_alerts": 101}, None, 422, "max_alerts"),
            (
                "POST",
                f"{alerts}/deliver",
                {"actor_claims": {"email": "mallory@example.com"}},
                None,
                422,
                "actor_claims",
            ),
            (
                "GET",
                f"{AD}/worker-health",
                None,
                {"expected_interval_minutes": 0},
                422,
                "query.expected_interval_minutes",
            ),
            (
                "GET",
                f"{AD}/worker-health",
                None,
                {"stale_metadata_minutes": "abc"},
                422,
                "query.stale_metadata_minutes",
            ),
            ("GET", alerts, None, {"limit": 501}, 422, "query.limit"),
            ("GET", alerts, None, {"suppressed": "maybe"}, 422, "query.suppressed"),
        ]
        for method, path, body, params, status, field in cases:
            response = await s.client.request(method, path, json=body, params=params)
            case = f"{method} {path} {body or params}"
            assert response.status_code == status, f"{case}: {response.status_code} {response.text}"
            assert field in fields(response), f"{case}: {response.text}"
        state = await s.client.post(
            f"{alerts}/{unknown}/acknowledgements",
            json={"provider": "webhook", "acknowledgement_state": "done"},
        )
        assert state.json()["errors"][0]["message"] == STATE_PROBLEM
        assert int(await s.sql("SELECT count(*) FROM health_alert_plans")) == 0
        assert int(await s.sql("SELECT count(*) FROM health_alert_acks")) == 0

        # a provider that was not alerted about an existing health_id: 404 naming it, nothing stored
        planned = await s.client.post(f"{alerts}/deliver", json={"provider": "webhook", "retries": 0})
        assert planned.status_code == 200, planned.text
        health_id = planned.json()["event_id"]
        stranger = await s.client.post(f"{alerts}/{health_id}/acknowledgements", json={"provider": "splunk"})
        assert stranger.status_code == 404 and fields(stranger) == ["provider"], stranger.text
        wrong_plan = await s.client.post(
            f"{alerts}/{health_id}/acknowledgements",
            json={"provider": "webhook", "plan_id": "gordackhealthalert-x"},
        )
        assert wrong_plan.status_code == 404 and fields(wrong_plan) == ["plan_id"], wrong_plan.text
        assert int(await s.sql("SELECT count(*) FROM health_alert_acks")) == 0


async def test_the_timer_alerts_an_unhealthy_worker_once_per_window(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    # The HEC, not the signed webhook: the clock moves past the webhook signature's tolerance.
    clock = FakeClock(NOW)
    async with stack(
        nats_url,
        database_url,
        tmp_path,
        clock=clock,
        health_alert_providers="splunk",
        worker_health_check_minutes=15,
        health_tick_seconds=0.05,
        delivery_retries=0,
    ) as s:
        # nothing ever ran: every monitored family is critical (missed run), each alerted once

        def alerted_ids() -> list[str]:
            return [
                prefix
                for request in s.fake.requests_for("hec")
                for prefix in ("gordackhealth-", "gordackrecoveryeschealth-", "gordackexecdeliveryhealth-")
                if prefix.encode() in request.raw
            ]

        async def alerted(count: int) -> bool:
            return len(s.fake.requests_for("hec")) == count

        await eventually(lambda: alerted(3), what="one alert per family")
        assert sorted(alerted_ids()) == sorted(
            ["gordackhealth-", "gordackrecoveryeschealth-", "gordackexecdeliveryhealth-"]
        )
        assert int(await s.sql("SELECT count(*) FROM health_alert_plans WHERE trigger = 'timer'")) == 3

        clock.advance(minutes=16)  # the next check: same situation, inside the window -> suppressed

        async def checked_again() -> bool:
            due = await s.sql("SELECT min(due_at) FROM worker_health_checks")
            return bool(due is not None and due > clock.now)

        await eventually(checked_again, what="the second round of checks")
        assert int(await s.sql("SELECT count(*) FROM health_alert_plans WHERE trigger = 'timer'")) == 6
        assert int(await s.sql("SELECT count(*) FROM health_alert_plans WHERE job_id IS NOT NULL")) == 3
        assert len(s.fake.requests_for("hec")) == 3

        clock.advance(minutes=60)  # past the suppression window: the lasting problem is alerted again
        await eventually(lambda: alerted(6), what="the alerts after the window")
        assert alerted_ids().count("gordackhealth-") == 2


async def test_two_deliveries_at_the_same_moment_alert_once(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    async with stack(nats_url, database_url, tmp_path) as s:
        await seed(s, "audit", at=NOW - timedelta(minutes=10), retryable=2, failed_source=None)
        responses = await asyncio.gather(
            *(
                s.client.post(f"{AD}/worker-health-alerts/deliver", json={"provider": "webhook"})
                for _ in range(4)
            )
        )
        assert [r.status_code for r in responses] == [200] * 4, [r.text for r in responses]
        selected = [r.json()["plan"]["selected_providers"] for r in responses]
        assert sorted(selected) == [[], [], [], ["webhook"]]
        assert len({r.json()["event_id"] for r in responses}) == 1

        async def alerted() -> bool:
            return len(s.alerts_received()) == 1

        await eventually(alerted, what="the one alert")
        assert await s.jobs() == 1


async def test_without_a_connector_config_deliver_is_a_400_and_nothing_is_stored(
    nats_url: str, database_url: str
) -> None:
    async with (
        running_service("delivery", nats_url, database_url),
        gateway_client(nats_url, database_url) as client,
    ):
        await answering(client, f"{AD}/worker-health-alert-dashboard")
        for path in (
            f"{AD}/worker-health-alerts/deliver",
            f"{AD}/recovery-escalations/retry-health-alerts/deliver",
            f"{AD}/recovery-executive-report/delivery-retry-health-alerts/deliver",
        ):
            response = await client.post(path, json={"force": True})
            assert response.status_code == 400, response.text
            assert fields(response) == ["CAVRA_CONNECTOR_CONFIG"]
        dashboard = (await client.get(f"{AD}/worker-health-alert-dashboard")).json()
        assert dashboard["plan_count"] == 0 and dashboard["alert_level"] == "healthy"
        # the health report needs no connector: it is computed all the same
        health = await client.get(f"{AD}/worker-health")
        assert health.status_code == 200 and health.json()["alert_level"] == "critical"
