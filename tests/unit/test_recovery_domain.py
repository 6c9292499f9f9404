"""Connector recovery rules: the category map (case 61), SLO strictness (case 56), closure states
(case 57), closure trends, the report's totals and alert level, escalation routes with their
``review_required`` rows and order, and the destinations of an escalation."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from cavra_contracts.actors import ActorV1
from cavra_contracts.recovery import (
    CLOSURE_STATE_MESSAGE,
    ESCALATION_ACK_STATE_MESSAGE,
    CloseRecoveryV1,
    GenerateRecoveryPlaybookV1,
    recovery_category,
)
from cavra_delivery.recovery import domain, escalation
from cavra_delivery.recovery.report import assemble, closure_trends, recovery_row
from cavra_gateway.routes.recovery_models import ClosureRequest, EscalationAckRequest, PlanIdConvertor

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
ACTOR = ActorV1(actor="ops", role="operator", method="api_token")


@pytest.mark.parametrize(
    ("provider", "category"),
    [
        ("splunk", "siem"),
        ("sentinel", "siem"),
        ("datadog", "siem"),
        ("siem", "siem"),
        ("jira", "itsm"),
        ("servicenow", "itsm"),
        ("slack", "chatops"),
        ("teams", "chatops"),
        ("pagerduty", "chatops"),
        ("email", "chatops"),
        ("webhook", "webhook"),
        ("github", "webhook"),
        ("Service-Now", "webhook"),
        ("JIRA", "itsm"),
    ],
)
def test_the_category_of_a_connector(provider: str, category: str) -> None:
    assert recovery_category(provider) == category


def test_a_breach_is_strictly_past_the_slo() -> None:
    assert domain.slo_status(None, 240, 240) == ("open", False)
    assert domain.slo_status(None, 241, 240) == ("breached", True)
    assert domain.slo_status("resolved", 10_000, 240) == ("closed", False)
    assert domain.slo_status("mitigated", 10_000, 240) == ("closed", False)
    for still_open in ("deferred", "escalated", "reopened"):
        assert domain.slo_status(still_open, 241, 240) == ("breached", True)
        assert domain.slo_status(still_open, 1, 240) == ("open", False)


def test_age_is_floored_to_whole_minutes() -> None:
    assert domain.age_minutes(NOW, NOW + timedelta(minutes=240, seconds=59)) == 240


def test_an_unknown_closure_state_is_refused_with_the_spec_message() -> None:
    with pytest.raises(ValidationError) as raised:
        ClosureRequest.model_validate({"provider": "webhook", "closure_state": "closed"})
    assert raised.value.errors()[0]["loc"] == ("closure_state",)
    assert CLOSURE_STATE_MESSAGE in str(raised.value)
    with pytest.raises(ValidationError):
        CloseRecoveryV1.model_validate(
            {"playbook_id": "p", "provider": "webhook", "closure_state": "closed", "actor": ACTOR}
        )
    with pytest.raises(ValidationError) as refs:
        ClosureRequest.model_validate({"provider": "webhook", "verification_refs": ["INC-1", " "]})
    assert refs.value.errors()[0]["loc"] == ("verification_refs",)
    assert ClosureRequest.model_validate({"provider": "webhook"}).closure_state == "resolved"


def test_an_unknown_acknowledgement_state_is_refused_with_the_spec_message() -> None:
    with pytest.raises(ValidationError) as raised:
        EscalationAckRequest.model_validate({"provider": "webhook", "acknowledgement_state": "closed"})
    assert ESCALATION_ACK_STATE_MESSAGE in str(raised.value)
    assert (
        EscalationAckRequest.model_validate({"provider": "webhook"}).acknowledgement_state == "acknowledged"
    )


def test_playbook_bounds_name_the_field() -> None:
    for field, value in (("min_failure_count", 0), ("lookback_hours", 0), ("lookback_hours", 10**6)):
        with pytest.raises(ValidationError) as raised:
            GenerateRecoveryPlaybookV1.model_validate({field: value, "actor": ACTOR})
        assert raised.value.errors()[0]["loc"] == (field,)


def test_a_closure_hash_covers_what_was_closed_and_the_closer_is_the_actor() -> None:
    command = CloseRecoveryV1(
        playbook_id="gordackrecovery-1", provider="webhook", verification_refs=["INC-123"], actor=ACTOR
    )
    closure = domain.closure_document(command, command_id="m1", closed_at=NOW)
    assert closure["closed_by"] == "ops" and closure["closure_state"] == "resolved"
    again = domain.closure_document(command, command_id="m1", closed_at=NOW)
    assert again["closure_id"] == closure["closure_id"], "stable for the command"
    other = domain.closure_document(
        command.model_copy(update={"verification_refs": ["INC-124"]}), command_id="m1", closed_at=NOW
    )
    assert other["closure_hash"] != closure["closure_hash"]
    record = domain.closure_record(closure, NOW)
    assert (record.decision_count, record.blocked_count) == (1, 0)
    reopened = domain.closure_document(
        command.model_copy(update={"closure_state": "reopened"}), command_id="m2", closed_at=NOW
    )
    assert domain.closure_record(reopened, NOW).blocked_count == 1


def test_an_empty_playbook_is_healthy_and_a_failing_provider_makes_it_critical() -> None:
    empty = domain.playbook_document(
        command_id="m",
        generated_at=NOW,
        generated_by="ops",
        lookback_hours=24,
        min_failure_count=2,
        failures=[],
    )
    assert (empty["alert_level"], empty["provider_count"], empty["failure_count"]) == ("healthy", 0, 0)
    failing = domain.playbook_document(
        command_id="m",
        generated_at=NOW,
        generated_by="ops",
        lookback_hours=24,
        min_failure_count=2,
        failures=[
            {"provider": "jira", "failure_count": 3, "latest_failure_at": NOW, "status_codes": ["401"]}
        ],
    )
    entry = failing["provider_playbooks"][0]
    assert (failing["alert_level"], entry["category"], len(entry["recovery_steps"])) == (
        "critical",
        "itsm",
        6,
    )
    record = domain.playbook_record(failing, NOW)
    assert (record.decision_count, record.blocked_count, record.approval_required_count) == (1, 3, 1)


def test_closure_trends_are_per_day_newest_first() -> None:
    counts = [
        {"date": "2026-10-30", "provider": "webhook", "closure_state": "resolved", "n": 2},
        {"date": "2026-10-31", "provider": "webhook", "closure_state": "reopened", "n": 1},
        {"date": "2026-10-31", "provider": "jira", "closure_state": "resolved", "n": 1},
    ]
    trends = closure_trends(counts)
    assert [t["date"] for t in trends] == ["2026-10-31", "2026-10-30"]
    assert trends[0]["closure_count"] == 2 and trends[0]["reopened_count"] == 1
    assert trends[0]["provider_counts"] == {"jira": 1, "webhook": 1}
    assert trends[1]["resolved_count"] == 2


def row(
    provider: str, age: int, failures: int, state: str | None = None, breached: bool = False
) -> dict[str, Any]:
    return {
        "playbook_id": f"gordackrecovery-{provider}",
        "provider": provider,
        "category": recovery_category(provider),
        "failure_count": failures,
        "generated_at": (NOW - timedelta(minutes=age)).isoformat(),
        "age_minutes": age,
        "closure_state": state,
        "closure_id": None,
        "closed_at": None,
    }


def summary(provider: str, *, failed: int = 0, skipped: int = 0, open_rows: int = 0) -> dict[str, Any]:
    return {
        "provider": provider,
        "execution_count": failed + skipped,
        "delivered": 0,
        "failed": failed,
        "skipped": skipped,
        "latest_execution_at": None,
        "playbooks": open_rows,
        "closure_count": 0,
        "latest_closure_at": None,
        "open": open_rows,
        "breached": 0,
    }


def aggregates(
    rows: list[dict[str, Any]], providers: list[dict[str, Any]], status: dict[str, int]
) -> dict[str, Any]:
    closed = sum(1 for r in rows if domain.is_closed(r["closure_state"]))
    breached = sum(1 for r in rows if domain.slo_status(r["closure_state"], r["age_minutes"], 240)[1])
    return {
        "rows": rows,
        "candidates": [r for r in rows if not domain.is_closed(r["closure_state"])],
        "row_totals": {
            "rows": len(rows),
            "closed": closed,
            "open": len(rows) - closed,
            "breached": breached,
            "state_counts": {},
        },
        "providers": providers,
        "execution_status_counts": status,
    }


def built(
    rows: list[dict[str, Any]], providers: list[dict[str, Any]], status: dict[str, int]
) -> dict[str, Any]:
    agg = aggregates(rows, providers, status)
    report = assemble(agg, [], [], now=NOW, slo_minutes=240, generated_by="ops", family=None)
    candidates = [recovery_row(r, 240) for r in agg["candidates"]]
    return escalation.plan_document(report, candidates, generated_by="ops") | {"_report": report}


def test_escalation_routes_put_critical_first_then_failures_then_age_with_review_rows() -> None:
    rows = [
        row("slack", age=30, failures=9),
        row("jira", age=300, failures=2),
        row("webhook", age=500, failures=5),
        row("teams", age=10, failures=1, state="resolved"),
    ]
    plan = built(
        rows,
        [summary("siem", failed=1, skipped=2), summary("slack", open_rows=1)],
        {"failed": 1, "skipped": 2},
    )
    routes = plan["escalation_routes"]
    assert [(r["provider"], r["slo_status"]) for r in routes] == [
        ("webhook", "breached"),
        ("siem", "review_required"),
        ("jira", "breached"),
        ("slack", "open"),
    ]
    review = routes[1]
    assert (review["category"], review["closure_state"], review["failure_count"], review["age_minutes"]) == (
        "retry-execution",
        "review_required",
        3,
        None,
    )
    assert (plan["escalation_count"], plan["critical_escalation_count"], plan["slo_breached_count"]) == (
        4,
        3,
        2,
    )
    assert plan["alert_level"] == "critical" and plan["executive_summary"]["closure_rate"] == 0.25
    assert plan["_report"]["alert_level"] == "critical"
    assert plan["selected_providers"] == ["siem", "slack"]


def test_the_report_is_healthy_when_everything_is_closed_and_its_id_follows_its_content() -> None:
    closed = [row("webhook", age=500, failures=5, state="mitigated")]
    plan = built(closed, [], {"delivered": 2})
    report = plan["_report"]
    assert (report["alert_level"], report["execution_success_rate"], plan["alert_level"]) == (
        "healthy",
        1.0,
        "healthy",
    )
    assert plan["escalation_routes"] == []
    assert built(closed, [], {"delivered": 2})["_report"]["report_id"] == report["report_id"]
    assert built(closed, [], {"delivered": 3})["_report"]["report_id"] != report["report_id"]
    open_only = built([row("webhook", age=5, failures=5)], [], {})["_report"]
    assert (open_only["alert_level"], open_only["execution_success_rate"]) == ("warning", None)


def test_destinations_are_the_operations_channels_never_the_failing_connectors() -> None:
    plan = {"selected_providers": ["siem"]}
    assert escalation.destinations("", [], ["siem", "webhook", "slack"], plan) == ["webhook", "slack"]
    assert escalation.destinations("", ["siem"], ["siem", "webhook"], plan) == ["siem"], "policy names it"
    assert escalation.destinations("Slack, webhook", ["siem"], ["siem"], plan) == ["slack", "webhook"]
    with pytest.raises(escalation.NoDestination):
        escalation.destinations("", [], ["siem"], plan)


def test_a_delivery_job_is_stable_per_plan_and_destinations() -> None:
    assert escalation.job_id("p", ["a", "b"]) == escalation.job_id("p", ["b", "a"])
    assert escalation.job_id("p", ["a"]) != escalation.job_id("p", ["a", "b"])
    assert escalation.job_id("p", ["a"]) != escalation.job_id("q", ["a"])


def test_the_escalation_message_carries_the_event_as_data() -> None:
    plan = built([row("webhook", age=500, failures=5)], [], {})
    content = escalation.content(plan, max_routes=1)
    assert content.severity == "critical" and content.data["event_id"] == plan["plan_id"]
    assert content.data["event_type"].endswith("recovery_escalation") and len(content.data["routes"]) == 1
    assert {fact.title for fact in content.facts} >= {"Plan", "SLO breached"}


@pytest.mark.parametrize(
    ("segment", "is_plan"),
    [
        ("gordackrecoveryesc-0123456789abcdef", True),
        ("latest", True),
        ("unknown-id", True),
        ("retry-health", False),
        ("retry-health-alerts", False),
        ("retry-plan", False),
        ("retry-worker-run", False),
    ],
)
def test_a_plan_id_segment_leaves_the_escalation_retry_paths_alone(segment: str, is_plan: bool) -> None:
    assert bool(re.fullmatch(PlanIdConvertor.regex, segment)) is is_plan


def test_a_failing_connector_is_recognised_under_its_alias() -> None:
    plan = {"selected_providers": ["splunk"]}
    assert escalation.destinations("", [], ["siem", "webhook"], plan) == ["webhook"]
