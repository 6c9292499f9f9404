"""Pure rules of the console's tables: how an API record becomes a row (the recommended action and
Age / SLO of a route, the suppression summary of a trend, the rows and actions of playbooks, retry
decisions and approvals), and which of the console's filters each table passes to its API."""

from __future__ import annotations

from typing import Any

from cavra_gateway.console.filters import ConsoleFilters
from cavra_gateway.console.tables import escalation_routes, recovery, retries, suppression
from cavra_gateway.console.tables.registry import TABLES, VIEWS


def route(**changes: Any) -> dict[str, Any]:
    base = {
        "route_id": "gordroute-1",
        "schedule_id": "monthly",
        "provider": "teams",
        "owner": "platform",
        "state": "outstanding",
        "acknowledged": False,
        "breached": False,
        "age_minutes": 12.5,
        "acknowledgement_minutes": 60,
    }
    return base | changes


def test_a_route_row_shows_age_over_slo_and_the_escalation_plans_recommended_action() -> None:
    waiting = escalation_routes.to_row(route())
    assert waiting.cells["age"].text == "12.5m / 60m"
    assert waiting.cells["action"].text == "wait for acknowledgement"
    assert waiting.actions == ("route_ack", "route_escalate", "route_resolve")
    late = escalation_routes.to_row(route(breached=True, age_minutes=61))
    assert (late.cells["action"].text, late.cells["age"].tone) == (
        "escalate missed drill notification",
        "bad",
    )
    cleared = escalation_routes.to_row(route(state="resolved", acknowledged=True))
    assert cleared.cells["action"].text == "no action" and cleared.cells["state"].tone == "good"
    assert escalation_routes.to_row(route(age_minutes=None)).cells["age"].text == "n/a"


def test_the_route_state_filter_maps_to_the_route_states_api() -> None:
    params = escalation_routes.route_params
    assert params(ConsoleFilters(state="escalated"))["state"] == "escalated"
    assert params(ConsoleFilters(state="critical"))["breached"] is True
    assert params(ConsoleFilters(state="healthy"))["breached"] is False
    delivered = params(ConsoleFilters(state="delivered", owner="platform"))
    assert "state" not in delivered and "breached" not in delivered and delivered["owner"] == "platform"
    assert escalation_routes.TABLE.notes(ConsoleFilters(state="delivered"))


def test_the_suppression_summary_has_one_row_per_category_or_a_single_none_row() -> None:
    trend = {
        "trend": {
            "trend_id": "gordrtrend-1",
            "generated_at": "2026-11-01T12:00:00+00:00",
            "category_counts": {"maintenance_window": 3, "owner_calendar": 1},
            "owner_counts": {"b-team": 2, "a-team": 2},
            "provider_counts": {"slack": 3, "teams": 1},
        }
    }
    records, total, more = suppression.items(trend)
    rows = [suppression.to_row(record) for record in records]
    assert [r.record_id for r in rows] == ["maintenance_window", "owner_calendar"] and (total, more) == (
        2,
        False,
    )
    assert rows[0].cells["owner"].text == "a-team (2)" and rows[0].cells["provider"].text == "slack (3)"
    empty, _, _ = suppression.items({"trend": {"category_counts": {}, "owner_counts": {}}})
    (none,) = [suppression.to_row(record) for record in empty]
    assert (none.cells["category"].text, none.cells["events"].text, none.cells["owner"].text) == (
        "none",
        "0",
        "none",
    )


def test_playbook_rows_are_per_provider_and_only_open_ones_offer_close() -> None:
    body = {
        "items": [
            {
                "playbook": {
                    "playbook_id": "gordrecovery-1",
                    "generated_at": "2026-11-01T12:00:00+00:00",
                    "provider_playbooks": [
                        {"provider": "siem", "failure_count": 2, "closure_state": "open"},
                        {"provider": "jira", "failure_count": 1, "closure_state": "resolved"},
                    ],
                }
            }
        ],
        "total": 1,
        "limit": 25,
        "offset": 0,
    }
    records, total, more = recovery.playbook_items(body)
    rows = [recovery.playbook_row(record) for record in records]
    assert [r.record_id for r in rows] == ["gordrecovery-1|siem", "gordrecovery-1|jira"]
    assert (total, more) == (None, False), "pages count playbooks, not provider rows"
    assert [r.actions for r in rows] == [("close_recovery",), ()]


def test_retry_decisions_and_approvals_offer_their_actions_only_when_they_apply() -> None:
    plan = {
        "plan": {
            "retry_plan_id": "gordackretry-1",
            "decision_count": 3,
            "retry_decisions": [
                {"delivery_id": "d1", "provider": "webhook", "action": "retry"},
                {"delivery_id": "d2", "provider": "siem", "action": "retry_exhausted"},
            ],
        },
        "limit": 2,
        "offset": 0,
    }
    records, total, more = retries.decision_items(plan)
    rows = [retries.decision_row(record) for record in records]
    assert (total, more) == (3, True)
    assert [r.actions for r in rows] == [("ack_retry",), ()]
    assert rows[0].record_id == "gordackretry-1:d1:webhook"
    pending = retries.approval_row({"approval_id": "a1", "state": "pending", "requested_by": "olivia"})
    consumed = retries.approval_row({"approval_id": "a2", "state": "consumed"})
    assert (pending.actions, consumed.actions) == (("approve_retry",), ())


def test_every_table_has_a_view_and_sorts_only_on_the_api_sort_keys() -> None:
    assert {table.view for table in TABLES.values()} <= set(VIEWS)
    assert set(TABLES["routes"].sorts) <= {
        "schedule",
        "age",
        "acknowledged",
        "owner",
        "provider",
        "state",
        "breached",
    }
    assert set(TABLES["routing"].sorts) <= {"generated", "owner", "provider", "action", "category"}
    unsorted = set(TABLES) - {"history", "routes", "routing"}
    assert all(not TABLES[name].sorts for name in unsorted)
