"""Executive recovery reports through the gateway (spec §1.7 #42-44, cases 53, 59, 60): the real
reporting service on NATS + PostgreSQL; the recovery report query is answered by the test (the
delivery service's handler lands from another branch); deliveries go through the real delivery
service to the fake webhook over HTTP.
"""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pypdf

from cavra_contracts.envelope import Envelope
from cavra_contracts.executive import DELIVERY_EVENT_TYPE, EXECUTIVE_REPORT_KIND, SCHEDULE_RUN_KIND
from cavra_contracts.families import EXECUTIVE_REPORT_SOURCE
from cavra_contracts.queries import QueryReplyV1
from cavra_contracts.recovery import RecoveryReportQueryV1
from cavra_reporting.rebuild import rebuild
from cavra_runtime.bus import Bus
from tests.integration.test_notification_delivery import SIGNING_SECRET
from tests.support.fake_providers import FakeProviders
from tests.support.harness import (
    FakeClock,
    answering,
    eventually,
    gateway_client,
    running_service,
    service_settings,
)
from tests.unit.test_executive_report import recovery_answer

AD = "/runtime/go-pilot/rollback-drill-notifications/acknowledgements/audit-delivery"
REPORT = f"{AD}/recovery-executive-report"


@dataclass
class RecoverySource:
    """Answers RecoveryReportQueryV1 on the real NATS with ``answer``; remembers every query."""

    answer: dict[str, Any]
    queries: list[RecoveryReportQueryV1] = field(default_factory=list)

    async def __call__(self, envelope: Envelope) -> QueryReplyV1:
        self.queries.append(RecoveryReportQueryV1.model_validate(envelope.payload))
        return QueryReplyV1(ok=True, result=self.answer)


@asynccontextmanager
async def recovery_source(nats_url: str, answer: dict[str, Any]) -> AsyncIterator[RecoverySource]:
    source = RecoverySource(answer)
    bus = await Bus.connect(nats_url, name="test-recovery-source")
    try:
        await bus.serve(RecoveryReportQueryV1.MESSAGE.subject, source, queue="test-recovery-source")
        yield source
    finally:
        await bus.close()


def webhook_only(fake: FakeProviders, path: Path) -> Path:
    path.write_text(
        json.dumps(
            {"connectors": {"webhook": {"url": fake.url("webhook", "/executive"), "secret": SIGNING_SECRET}}}
        )
    )
    return path


async def scalar(database_url: str, sql: str) -> Any:
    conn = await asyncpg.connect(database_url, server_settings={"search_path": "reporting_executive"})
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


async def stored_counts(database_url: str) -> tuple[int, int]:
    runs = await scalar(database_url, "SELECT count(*) FROM executive_runs")
    reports = await scalar(database_url, "SELECT count(*) FROM executive_reports")
    return int(runs), int(reports)


def fields(response: httpx.Response) -> list[str]:
    return [error["field"] for error in response.json()["errors"]]


async def test_the_report_reads_as_json_html_and_pdf_and_stores_nothing(
    nats_url: str, database_url: str
) -> None:
    answer = recovery_answer(failed=1, breached=1, opened=2, closure_minutes=(30, 90))
    async with (
        recovery_source(nats_url, answer) as source,
        running_service("reporting", nats_url, database_url, executive_report_time_zone="Europe/Berlin"),
        gateway_client(nats_url, database_url) as api,
    ):
        response = await answering(api, f"{REPORT}?recovery_slo_minutes=120")
        body = response.json()
        report = body["report"]
        assert [risk["risk"] for risk in report["key_risks"]] == [
            "Retry execution failed or was skipped",
            "Connector recovery SLO breached",
            "Connector recovery remains open",
        ]
        assert report["recovery_slo_minutes"] == 120
        assert report["executive_summary"]["closure_minutes_median"] == 60.0
        assert body["metadata"]["metadata_kind"] == EXECUTIVE_REPORT_KIND
        assert body["metadata"]["executive_report_id"] == report["executive_report_id"]
        asked = sorted(source.queries[-2:], key=lambda q: str(q.window_start))
        assert [q.recovery_slo_minutes for q in asked] == [120, 120]
        assert asked[0].window_end == asked[1].window_start  # the previous period, same cadence

        html = await api.get(REPORT, params={"format": "html"})
        assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
        assert html.text.count("<svg") == 3
        assert "Connector recovery SLO breached" in html.text and "<script" not in html.text

        pdf = await api.get(REPORT, params={"format": "pdf"})
        assert pdf.status_code == 200, pdf.text
        assert pdf.headers["content-type"] == "application/pdf"
        assert pdf.headers["content-disposition"].startswith("attachment;")
        text = "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf.content)).pages)
        assert "CAVRA recovery executive report" in text
        assert "Connector recovery SLO breached" in text
        assert "Connector recovery requires leadership attention" in text

        unknown = await api.get(REPORT, params={"format": "xml"})
        assert unknown.status_code == 422 and fields(unknown) == ["query.format"]
        assert await stored_counts(database_url) == (0, 0)  # GET never writes


async def test_a_schedule_run_is_stored_and_bad_input_stores_nothing(
    nats_url: str, database_url: str
) -> None:
    clock = FakeClock()
    async with (
        recovery_source(nats_url, recovery_answer(breached=1)),
        running_service("reporting", nats_url, database_url, clock=clock),
        gateway_client(nats_url, database_url) as api,
    ):
        await answering(api, f"{REPORT}/schedule-runs")
        for schedule, field_name in [
            ({"time_zone": "Mars/Olympus"}, "schedule.time_zone"),
            ({"interval_minutes": 7}, "schedule.interval_minutes"),
            ({"interval_minutes": 50_000}, "schedule.interval_minutes"),
            ({"at_local_time": "25:00"}, "schedule.at_local_time"),
            ({"cadence": "x" * 500}, "schedule.cadence"),
        ]:
            refused = await api.post(f"{REPORT}/schedule-run", json={"schedule": schedule})
            assert refused.status_code == 422, refused.text
            assert fields(refused) == [field_name]
        slo = await api.post(f"{REPORT}/schedule-run", json={"recovery_slo_minutes": 0})
        assert slo.status_code == 422 and fields(slo) == ["recovery_slo_minutes"]
        assert await stored_counts(database_url) == (0, 0)

        ran = await api.post(
            f"{REPORT}/schedule-run",
            json={"schedule": {"interval_minutes": 60, "cadence": "hourly", "enabled": False}},
        )
        assert ran.status_code == 200, ran.text
        body = ran.json()
        run = body["run"]
        assert run["summary"]["executive_report_count"] == 1  # case 54
        assert run["schedule"]["window_minutes"] == 60
        assert run["schedule"]["window_end"] == "2026-11-01T12:00:00+00:00"  # latest complete hour
        assert body["metadata"]["metadata_kind"] == SCHEDULE_RUN_KIND
        assert body["report_metadata"]["metadata_kind"] == EXECUTIVE_REPORT_KIND
        assert body["actor"]["role"] == "admin"
        assert await stored_counts(database_url) == (1, 1)

        listed = (await api.get(f"{REPORT}/schedule-runs")).json()
        assert listed["total"] == 1 and listed["items"][0]["run_id"] == run["run_id"]
        assert listed["schedule"]["enabled"] is False
        one = await api.get(f"{REPORT}/schedule-runs/{run['run_id']}")
        assert one.status_code == 200 and one.json()["run"]["run_id"] == run["run_id"]
        page = await api.get(f"{REPORT}/schedule-runs/{run['run_id']}", params={"format": "html"})
        assert run["run_id"] in page.text and "<svg" in page.text
        missing = await api.get(f"{REPORT}/schedule-runs/gordackexecsched-0000000000000000")
        assert missing.status_code == 404
        assert "recovery executive report schedule run not found" in missing.text
        malformed = await api.get(f"{REPORT}/schedule-runs/not-a-run")
        assert malformed.status_code == 422 and fields(malformed) == ["path.run_id"]


async def test_deliver_latest_reaches_the_webhook_and_unknown_runs_or_providers_are_refused(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    async with FakeProviders(webhook_secret=SIGNING_SECRET) as fake:
        config = webhook_only(fake, tmp_path / "connectors.json")
        async with (
            recovery_source(nats_url, recovery_answer(breached=1, opened=1)),
            running_service("delivery", nats_url, database_url, connector_config=str(config)),
            running_service("reporting", nats_url, database_url),
            gateway_client(nats_url, database_url) as api,
        ):
            await answering(api, f"{REPORT}/schedule-runs")
            unknown = await api.post(
                f"{REPORT}/schedule-runs/gordackexecsched-0000000000000000/deliver", json={}
            )
            assert unknown.status_code == 404, unknown.text
            assert "recovery executive report schedule run not found" in unknown.json()["detail"]
            unserved = await api.post(f"{REPORT}/schedule-runs/latest/deliver", json={"provider": "jira"})
            assert unserved.status_code == 400, unserved.text
            assert fields(unserved) == ["provider"]
            too_many = await api.post(f"{REPORT}/schedule-runs/latest/deliver", json={"max_risks": 1000})
            assert too_many.status_code == 422 and fields(too_many) == ["max_risks"]
            assert await stored_counts(database_url) == (0, 0)
            assert fake.requests_for("webhook") == []

            delivered = await api.post(
                f"{REPORT}/schedule-runs/latest/deliver", json={"provider": "webhook", "max_risks": 1}
            )
            assert delivered.status_code == 200, delivered.text
            body = delivered.json()
            run_id = body["run"]["run_id"]
            assert body["event_id"] == run_id
            assert body["delivery"]["job_id"].startswith("gordackexecdelivery-")
            assert body["metadata"]["connector_delivery_source"] == EXECUTIVE_REPORT_SOURCE
            assert body["run_metadata"]["metadata_kind"] == SCHEDULE_RUN_KIND
            assert await stored_counts(database_url) == (1, 1)  # latest with no run: one generated now

            async def sent() -> bool:
                return len(fake.requests_for("webhook")) == 1

            await eventually(sent, what="the executive report at the fake webhook")
            event = fake.requests_for("webhook")[0].body
            assert event["type"] == DELIVERY_EVENT_TYPE
            assert event["data"]["run_id"] == run_id
            assert event["data"]["title"] == f"CAVRA recovery executive report {run_id}"
            assert len(event["data"]["key_risks"]) == 1
            assert "slack" not in event["data"] and "webhook" not in event["data"]

            again = await api.post(f"{REPORT}/schedule-runs/{run_id}/deliver", json={"provider": "webhook"})
            assert again.status_code == 200 and again.json()["run"]["run_id"] == run_id
            assert await stored_counts(database_url) == (1, 1)  # the stored run, not a new one


async def test_a_rebuild_of_the_read_models_keeps_the_runs_and_the_cadence(
    nats_url: str, database_url: str
) -> None:
    async with (
        recovery_source(nats_url, recovery_answer(opened=1)),
        running_service("reporting", nats_url, database_url),
        gateway_client(nats_url, database_url) as api,
    ):
        await answering(api, f"{REPORT}/schedule-runs")
        ran = await api.post(f"{REPORT}/schedule-run", json={"schedule": {"time_zone": "Europe/Berlin"}})
        assert ran.status_code == 200, ran.text
    before = await stored_counts(database_url)
    assert before == (1, 1)
    rebuilt = await rebuild(service_settings("reporting", nats_url, database_url), timeout=60)
    assert rebuilt.events >= 2
    assert await stored_counts(database_url) == before
    assert await scalar(database_url, "SELECT time_zone FROM executive_schedule") == "Europe/Berlin"
