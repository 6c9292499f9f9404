"""Executive report actions (spec §7.5): Schedule Executive Report (a run now), Deliver Executive Report
(the latest run, or a row's run), Plan Exec Delivery Retry. The report's HTML view is a link of the
executive view's toolbar, not an action."""

from __future__ import annotations

from typing import Any, Final

from cavra_gateway.console.actions.base import (
    Action,
    ActionForm,
    Outcome,
    answered,
    refused,
    text,
    toolbar,
)
from cavra_gateway.console.current import Viewer

AD: Final = "/runtime/go-pilot/rollback-drill-notifications/acknowledgements/audit-delivery"
REPORT: Final = f"{AD}/recovery-executive-report"
TOPICS: Final = ("executive", "delivery")
HOURLY: Final = {"interval_minutes": 60, "cadence": "hourly", "enabled": False}
"""One run now; an enabled schedule would (re)define the reporting service's cadence from a click."""
RUN_ID_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")


def _delivered(body: Any) -> str:
    success = body.get("success") if isinstance(body, dict) else None
    if success is True:
        return "Executive report delivery succeeded."
    if success is False:
        return "Executive report delivery recorded with failures."
    return f"Executive report delivery of {text(body, 'event_id')} requested; its result follows."


def _deliver(run_id: str, form: ActionForm) -> tuple[str, dict[str, Any]]:
    body: dict[str, Any] = {"retries": 1, "timeout_seconds": 10, "schedule": HOURLY}
    if form.destination:
        body["provider"] = form.destination
    return f"{REPORT}/schedule-runs/{run_id}/deliver", body


async def deliver_latest(viewer: Viewer, form: ActionForm) -> Outcome:
    path, body = _deliver("latest", form)
    posted = await viewer.api.post(
        path, body, idempotency_key=form.idempotency_key("deliver_executive_report")
    )
    return answered(posted, _delivered, TOPICS)


async def deliver_run(viewer: Viewer, form: ActionForm) -> Outcome:
    if not form.record_id or not set(form.record_id) <= RUN_ID_CHARS:
        return refused(422, "record_id", "select an executive schedule run row")
    path, body = _deliver(form.record_id, form)
    posted = await viewer.api.post(path, body, idempotency_key=form.idempotency_key("deliver_executive_run"))
    return answered(posted, _delivered, TOPICS)


ACTIONS: Final = (
    toolbar(
        "schedule_executive_report",
        "Schedule Executive Report",
        "deliver_notifications",
        "executive",
        f"{REPORT}/schedule-run",
        lambda form: {"recovery_slo_minutes": 240, "schedule": HOURLY},
        lambda b: f"Scheduled executive report run {text(b, 'run', 'run_id')}.",
        TOPICS,
        hint="Generates and stores a schedule run now.",
    ),
    Action(
        "deliver_executive_report",
        "Deliver Executive Report",
        "deliver_notifications",
        "executive",
        deliver_latest,
        hint="Delivers the latest schedule run.",
    ),  # fmt: skip
    Action("deliver_executive_run", "Deliver", "deliver_notifications", "executive", deliver_run, row=True),
    toolbar(
        "plan_exec_delivery_retry",
        "Plan Exec Delivery Retry",
        "manage_retries",
        "executive",
        f"{REPORT}/delivery-retry-plan",
        lambda form: {
            "retry_policy": {"max_retry_attempts": 3, "allow_immediate_retry": True, "retry_delay_minutes": 0}
        },
        lambda b: f"Planned {text(b, 'plan', 'retryable_count') or 0} executive delivery retries.",
        TOPICS,
    ),
)
