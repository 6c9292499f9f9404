"""Composing a report from the recovery source port (an in-memory fake), and the delivery job it makes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from cavra_contracts.deliveries import MAX_JOB_DATA_BYTES
from cavra_contracts.executive import DELIVERY_EVENT_TYPE, DELIVERY_KIND
from cavra_contracts.families import EXECUTIVE_REPORT_SOURCE
from cavra_contracts.notifications import DeliveryOptions
from cavra_reporting.executive import report, windows, workflow
from cavra_reporting.executive.report import RecoveryAnswer
from cavra_reporting.executive.windows import Window
from tests.unit.test_executive_report import recovery_answer

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 10, 26, 9, 0, tzinfo=UTC)


@dataclass
class FakeRecoveryReports:
    """The RecoveryReports port in memory: statistics by window start, the rest from ``answer``."""

    answer: dict[str, Any]
    closures_by_start: dict[datetime, int]
    asked: list[Window] = field(default_factory=list)

    async def recovery(
        self, *, recovery_slo_minutes: int, at: datetime, window: Window, generated_by: str
    ) -> RecoveryAnswer:
        self.asked.append(window)
        statistics = {
            "window_start": window.start.isoformat(),
            "window_end": window.end.isoformat(),
            "closure_count": self.closures_by_start.get(window.start, 0),
        }
        return RecoveryAnswer.of({**self.answer, "statistics": statistics})


async def test_compose_compares_the_window_with_the_previous_one_of_the_same_cadence() -> None:
    window = windows.latest_complete(NOW, 1440, BERLIN)  # 25 October: 25 hours
    previous = windows.previous_window(window, 1440, BERLIN)
    source = FakeRecoveryReports(recovery_answer(breached=1), {window.start: 3, previous.start: 1})
    composed = await workflow.compose(
        source, at=NOW, window=window, previous=previous, recovery_slo_minutes=240, generated_by="ops"
    )
    assert source.asked == [window, previous]
    assert window.minutes == 25 * 60 and previous.minutes == 24 * 60
    change = composed.report["period_over_period"]["changes"]["closure_count"]
    assert change == {"current": 3, "previous": 1, "change": 2, "change_ratio": 2.0}
    assert composed.report["key_risks"][0]["risk"] == "Connector recovery SLO breached"


@pytest.mark.parametrize(
    ("requested", "available", "message"),
    [
        (["jira"], ["webhook"], "connector provider is not configured: jira"),
        (["webhook"], None, "connector config is not configured"),
    ],
)
def test_a_provider_no_connector_serves_is_a_400_naming_provider(
    requested: list[str], available: list[str] | None, message: str
) -> None:
    with pytest.raises(workflow.Rejected) as refused:
        workflow.check_providers(requested, available)
    assert refused.value.status_code == 400
    assert refused.value.problems == [{"field": "provider", "message": message}]
    assert workflow.check_providers(["webhook"], ["webhook", "slack"]) == ["webhook"]


def test_the_delivery_job_carries_the_event_as_data_under_the_executive_source() -> None:
    composed = report.executive_report(
        RecoveryAnswer.of(recovery_answer(failed=1, breached=2, opened=1)),
        {},
        generated_at=NOW,
        generated_by="ops",
        recovery_slo_minutes=240,
    )
    window = windows.latest_complete(NOW, 1440, BERLIN)
    run = report.schedule_run(
        composed,
        run_id="gordackexecsched-00000000000000ff",
        window=window,
        schedule={"interval_minutes": 1440, "cadence": "daily"},
        generated_at=NOW,
        generated_by="ops",
        trigger="api",
    )
    event = report.delivery_event(run, max_risks=10, generated_by="ops")
    job = workflow.delivery_job(run, event, ["webhook", "slack"], "gordackexecdelivery-1", DeliveryOptions())
    assert job.source == EXECUTIVE_REPORT_SOURCE
    assert job.content.kind == DELIVERY_KIND and job.content.event_type == DELIVERY_EVENT_TYPE
    assert job.content.title == "CAVRA recovery executive report gordackexecsched-00000000000000ff"
    assert job.content.severity == "critical"
    assert [t.provider for t in job.targets] == ["webhook", "slack"]
    assert job.content.data["key_risks"] == composed["key_risks"]
    assert {f.title for f in job.content.facts} >= {"Run", "Window", "slo breached count"}
    assert len(json.dumps(job.content.data)) < MAX_JOB_DATA_BYTES
