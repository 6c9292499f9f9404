"""The executive report as a pure function of the recovery answer (spec §3.21, cases 53, 59)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cavra_contracts.executive import DELIVERY_EVENT_TYPE, EXECUTIVE_REPORT_SCHEMA
from cavra_reporting.executive import records, report
from cavra_reporting.executive.report import RecoveryAnswer
from cavra_reporting.executive.windows import Window

NOW = datetime(2026, 3, 29, 6, 0, tzinfo=UTC)


def row(provider: str, status: str, closure_minutes: int | None = None) -> dict[str, Any]:
    return {
        "playbook_id": f"gordackrecovery-{provider}",
        "provider": provider,
        "category": "webhook",
        "slo_status": status,
        "slo_breached": status == "breached",
        "closure_minutes": closure_minutes,
    }


def recovery_answer(
    *,
    failed: int = 0,
    breached: int = 0,
    opened: int = 0,
    closure_minutes: tuple[int, ...] = (),
    escalations: int | None = None,
    statistics: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A RecoveryReportQueryV1 result as the delivery service answers it (spec §3.19, §3.20)."""
    rows = [row(f"p{i}", "closed", minutes) for i, minutes in enumerate(closure_minutes)]
    rows += [row(f"b{i}", "breached") for i in range(breached)] + [
        row(f"o{i}", "open") for i in range(opened)
    ]
    escalation_count = breached + opened + (1 if failed else 0) if escalations is None else escalations
    critical = breached + (1 if failed else 0)
    level = "critical" if critical else "warning" if escalation_count else "healthy"
    return {
        "report": {
            "report_id": "gordackretryreport-00000000000000aa",
            "alert_level": level,
            "execution_count": 3 + failed,
            "execution_success_count": 3,
            "execution_failed_count": failed,
            "execution_status_counts": {"delivered": 3, "failed": failed},
            "recovery_closed_count": len(closure_minutes),
            "recovery_open_count": opened,
            "recovery_slo_breached_count": breached,
            "recovery_rows": rows,
            "provider_summary": [{"provider": "webhook", "execution_count": 3 + failed}],
            "closure_trends": [
                {"date": "2026-03-28", "closure_count": len(closure_minutes), "resolved_count": 1}
            ],
        },
        "escalation_plan": {
            "plan_id": "gordackrecoveryesc-00000000000000bb",
            "alert_level": level,
            "escalation_count": escalation_count,
            "critical_escalation_count": critical,
        },
        "statistics": statistics
        or {
            "window_start": "2026-03-28T23:00:00+00:00",
            "window_end": "2026-03-29T22:00:00+00:00",
            "closure_count": len(closure_minutes),
            "closure_minutes_median": None,
            "closure_minutes_p90": None,
            "execution_count": 3 + failed,
            "playbook_provider_count": len(rows),
            "open_count": opened,
            "breached_count": breached,
        },
    }


def compose(answer: dict[str, Any], previous: dict[str, Any] | None = None) -> dict[str, Any]:
    return report.executive_report(
        RecoveryAnswer.of(answer),
        previous or {},
        generated_at=NOW,
        generated_by="operator@example.test",
        recovery_slo_minutes=240,
    )


def test_key_risks_come_in_the_spec_order_failed_breached_open() -> None:
    composed = compose(recovery_answer(failed=2, breached=1, opened=3))
    assert [(r["severity"], r["risk"], r["count"]) for r in composed["key_risks"]] == [
        ("critical", "Retry execution failed or was skipped", 2),
        ("critical", "Connector recovery SLO breached", 1),
        ("warning", "Connector recovery remains open", 3),
    ]
    assert {r["owner"] for r in composed["key_risks"]} == {"release-governance"}


def test_a_breach_alone_is_the_first_risk_and_escalation_is_the_first_action() -> None:
    composed = compose(recovery_answer(breached=1))
    assert composed["executive_summary"]["escalation_count"] == 1
    assert composed["key_risks"][0]["risk"] == "Connector recovery SLO breached"
    assert composed["recommended_actions"][0] == report.FIRST_ACTION_ESCALATE
    assert composed["executive_summary"]["business_impact"] == report.ATTENTION
    assert composed["alert_level"] == composed["executive_summary"]["status"] == "critical"


def test_a_healthy_recovery_recommends_routine_monitoring() -> None:
    composed = compose(recovery_answer(closure_minutes=(30,)))
    assert composed["key_risks"] == []
    assert composed["recommended_actions"] == [report.FIRST_ACTION_ROUTINE, *report.FOLLOW_UP_ACTIONS]
    assert composed["executive_summary"]["business_impact"] == report.MONITORED
    assert composed["alert_level"] == "healthy"
    assert composed["schema_version"] == EXECUTIVE_REPORT_SCHEMA


def test_open_recoveries_warn_without_calling_for_leadership_attention() -> None:
    composed = compose(recovery_answer(opened=2))
    assert composed["alert_level"] == "warning"
    assert composed["executive_summary"]["business_impact"] == report.MONITORED
    assert composed["recommended_actions"][0] == report.FIRST_ACTION_ESCALATE


def test_median_and_p90_of_closure_time_sit_beside_the_counts() -> None:
    composed = compose(recovery_answer(closure_minutes=(10, 20, 30, 40, 50, 60, 70, 80, 90, 1000)))
    summary = composed["executive_summary"]
    assert summary["closed_recovery_count"] == 10
    assert summary["closure_minutes_median"] == 55.0
    assert summary["closure_minutes_p90"] == 90.0  # nearest rank: the 9th of 10
    assert report.percentile([5.0], 0.9) == 5.0
    assert report.median([]) is None and report.percentile([], 0.9) is None


def test_period_over_period_compares_this_window_with_the_previous_one() -> None:
    current = {
        "window_start": "b",
        "window_end": "c",
        "closure_count": 6,
        "breached_count": 0,
        "closure_minutes_median": 45.0,
        "execution_count": 10,
    }
    previous = {
        "window_start": "a",
        "window_end": "b",
        "closure_count": 4,
        "breached_count": 2,
        "closure_minutes_median": 60.0,
        "execution_count": 0,
    }
    composed = compose(recovery_answer(statistics=current), previous)
    changes = composed["period_over_period"]["changes"]
    assert changes["closure_count"] == {"current": 6, "previous": 4, "change": 2, "change_ratio": 0.5}
    assert changes["breached_count"] == {"current": 0, "previous": 2, "change": -2, "change_ratio": -1.0}
    assert changes["closure_minutes_median"]["change"] == -15.0
    assert changes["execution_count"]["change_ratio"] is None  # nothing before: no ratio
    assert changes["open_count"] == {"current": None, "previous": None, "change": None, "change_ratio": None}
    assert composed["period_over_period"]["previous_window"] == {"start": "a", "end": "b"}
    assert composed["previous_closure_statistics"]["closure_count"] == 4


def test_the_report_id_is_a_function_of_the_content_only() -> None:
    answer = recovery_answer(breached=1)
    first = compose(answer)
    later = report.executive_report(
        RecoveryAnswer.of(answer),
        {},
        generated_at=datetime(2027, 1, 1, tzinfo=UTC),
        generated_by="operator@example.test",
        recovery_slo_minutes=240,
    )
    assert first["executive_report_id"] == later["executive_report_id"]
    assert first["executive_report_id"].startswith("gordackexecreport-")
    assert compose(recovery_answer(breached=2))["executive_report_id"] != first["executive_report_id"]


def test_a_run_and_its_delivery_event_carry_the_window_and_at_most_max_risks() -> None:
    composed = compose(recovery_answer(failed=1, breached=1, opened=1))
    window = Window(datetime(2026, 3, 28, 23, tzinfo=UTC), datetime(2026, 3, 29, 22, tzinfo=UTC))
    run = report.schedule_run(
        composed,
        run_id="gordackexecsched-0000000000000001",
        window=window,
        schedule={"interval_minutes": 1440, "cadence": "daily"},
        generated_at=NOW,
        generated_by="cavra-reporting",
        trigger="schedule",
    )
    assert run["schedule"]["window_minutes"] == 23 * 60
    assert run["summary"] == {
        "executive_report_count": 1,
        "escalation_count": 3,
        "failed_execution_count": 1,
        "open_recovery_count": 1,
        "slo_breached_count": 1,
    }
    event = report.delivery_event(run, max_risks=2, generated_by="cavra-reporting")
    assert event["event_type"] == DELIVERY_EVENT_TYPE and event["event_type"].endswith(
        "recovery_executive_report"
    )
    assert event["title"] == "CAVRA recovery executive report gordackexecsched-0000000000000001"
    assert len(event["key_risks"]) == 2
    assert "slack" not in event and "webhook" not in event  # no top-level provider bodies (§9)
    metadata = records.run_record(run, NOW).document()
    assert (metadata["decision_count"], metadata["blocked_count"], metadata["approval_required_count"]) == (
        1,
        2,
        1,
    )
    assert metadata["metadata_kind"].endswith("-recovery-executive-report-schedule-run")
    report_metadata = records.report_record(composed, NOW).document()
    assert report_metadata["metadata_kind"].endswith("-recovery-executive-report")
    assert report_metadata["decision_count"] == 3
    assert report.job_id_for("r", ["webhook", "slack"]) == report.job_id_for("r", ["slack", "webhook"])
