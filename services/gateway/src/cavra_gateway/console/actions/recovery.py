"""Connector recovery actions (spec §7.5): Recovery Playbook, Close Recovery (row of a playbook: its first
open provider, with the three latest retry execution ids as verification), Plan Recovery Escalation,
Deliver / Ack Recovery Escalation (row of an escalation plan), Plan and Run Escalation Retry."""

from __future__ import annotations

from typing import Any, Final

from cavra_contracts.recovery_names import MAX_PAGE
from cavra_gateway.console.actions.base import (
    Action,
    ActionForm,
    Outcome,
    answered,
    count,
    failed,
    refused,
    text,
    toolbar,
)
from cavra_gateway.console.current import Viewer

AD: Final = "/runtime/go-pilot/rollback-drill-notifications/acknowledgements/audit-delivery"
TOPICS: Final = ("recovery", "retry", "delivery")
CLOSED: Final = frozenset({"resolved", "mitigated"})
VERIFICATION_REFS: Final = 3
IMMEDIATE: Final = {"max_retry_attempts": 3, "allow_immediate_retry": True, "retry_delay_minutes": 0}


async def _playbook(viewer: Viewer, playbook_id: str) -> tuple[dict[str, Any] | None, Outcome | None]:
    answer = await viewer.api.get(f"{AD}/connector-recovery-playbooks", {"limit": MAX_PAGE})
    if not answer.ok:
        return None, failed(answer)
    for item in (answer.body or {}).get("items") or []:
        playbook = item.get("playbook") if isinstance(item, dict) else None
        if isinstance(playbook, dict) and playbook.get("playbook_id") == playbook_id:
            return playbook, None
    return None, refused(
        404, "record_id", f"no recovery playbook {playbook_id!r} among the newest {MAX_PAGE}"
    )


async def close_recovery(viewer: Viewer, form: ActionForm) -> Outcome:
    if not form.record_id:
        return refused(422, "record_id", "select a recovery playbook row")
    playbook, problem = await _playbook(viewer, form.record_id)
    if playbook is None:
        return problem or refused(404, "record_id", "no playbook")
    open_entries = [
        entry
        for entry in playbook.get("provider_playbooks") or []
        if isinstance(entry, dict) and entry.get("closure_state") not in CLOSED
    ]
    if not open_entries:
        return refused(409, "record_id", f"every provider of playbook {form.record_id} is already closed")
    executions = await viewer.api.get(f"{AD}/retry-executions", {"limit": VERIFICATION_REFS})
    if not executions.ok:
        return failed(executions)
    refs = [
        str(e["execution_id"])
        for e in (executions.body or {}).get("items") or []
        if isinstance(e, dict) and e.get("execution_id")
    ][:VERIFICATION_REFS]
    posted = await viewer.api.post(
        f"{AD}/connector-recovery-playbooks/{playbook['playbook_id']}/closures",
        {
            "provider": open_entries[0]["provider"],
            "closure_state": "resolved",
            "external_ref": form.external_ref,
            "notes": form.notes,
            "verification_refs": refs,
        },
        idempotency_key=form.idempotency_key("close_recovery"),
    )
    return answered(posted, lambda b: f"Closed recovery {text(b, 'closure', 'closure_id')}.", TOPICS)


async def _escalation_plan(viewer: Viewer, plan_id: str) -> tuple[dict[str, Any] | None, Outcome | None]:
    answer = await viewer.api.get(f"{AD}/recovery-escalations/{plan_id}")
    if not answer.ok:
        return None, failed(answer)
    plan = (answer.body or {}).get("plan")
    return (plan, None) if isinstance(plan, dict) else (None, refused(404, "record_id", "no escalation plan"))


async def deliver_recovery_escalation(viewer: Viewer, form: ActionForm) -> Outcome:
    if not form.record_id:
        return refused(422, "record_id", "select a recovery escalation row")
    plan, problem = await _escalation_plan(viewer, form.record_id)
    if plan is None:
        return problem or refused(404, "record_id", "no escalation plan")
    body: dict[str, Any] = {"retries": 0, "timeout_seconds": 0.1}
    if form.destination:
        body["provider"] = form.destination
    posted = await viewer.api.post(
        f"{AD}/recovery-escalations/{plan['plan_id']}/deliver",
        body,
        idempotency_key=form.idempotency_key("deliver_recovery_escalation"),
    )
    return answered(posted, lambda b: f"Delivered recovery escalation {text(b, 'event_id')}.", TOPICS)


async def ack_recovery_escalation(viewer: Viewer, form: ActionForm) -> Outcome:
    if not form.record_id:
        return refused(422, "record_id", "select a recovery escalation row")
    plan, problem = await _escalation_plan(viewer, form.record_id)
    if plan is None:
        return problem or refused(404, "record_id", "no escalation plan")
    routes = [r for r in plan.get("escalation_routes") or [] if isinstance(r, dict)]
    if not routes:
        return refused(409, "record_id", f"escalation plan {form.record_id} has no route to acknowledge")
    posted = await viewer.api.post(
        f"{AD}/recovery-escalations/{plan['plan_id']}/acknowledgements",
        {
            "provider": routes[0].get("provider", ""),
            "acknowledgement_state": "accepted",
            "external_ref": form.external_ref,
            "notes": form.notes,
            "escalation_reason": str(routes[0].get("reason") or ""),
        },
        idempotency_key=form.idempotency_key("ack_recovery_escalation"),
    )
    return answered(
        posted,
        lambda b: f"Acknowledged recovery escalation {text(b, 'acknowledgement', 'acknowledgement_id')}.",
        TOPICS,
    )


ACTIONS: Final = (
    toolbar(
        "recovery_playbook",
        "Recovery Playbook",
        "manage_retries",
        "recovery",
        f"{AD}/connector-recovery-playbook",
        lambda form: {"min_failure_count": 1, "lookback_hours": 24},
        lambda b: f"Built {count(b, 'playbook', 'provider_playbooks')} connector recovery playbooks.",
        TOPICS,
    ),
    Action("close_recovery", "Close", "manage_retries", "recovery", close_recovery, row=True),
    toolbar(
        "plan_recovery_escalation",
        "Plan Recovery Escalation",
        "manage_retries",
        "recovery",
        f"{AD}/recovery-escalation-plan",
        lambda form: {"recovery_slo_minutes": 240},
        lambda b: f"Planned {text(b, 'plan', 'escalation_count') or 0} recovery escalations.",
        TOPICS,
    ),
    Action(
        "deliver_recovery_escalation",
        "Deliver",
        "deliver_notifications",
        "recovery",
        deliver_recovery_escalation,
        row=True,
    ),  # fmt: skip
    Action(
        "ack_recovery_escalation",
        "Ack",
        "acknowledge_drill_notifications",
        "recovery",
        ack_recovery_escalation,
        row=True,
    ),  # fmt: skip
    toolbar(
        "plan_escalation_retry",
        "Plan Escalation Retry",
        "manage_retries",
        "recovery",
        f"{AD}/recovery-escalations/retry-plan",
        lambda form: {"retry_policy": IMMEDIATE},
        lambda b: f"Planned {text(b, 'plan', 'retryable_count') or 0} recovery escalation retries.",
        TOPICS,
    ),
    toolbar(
        "run_escalation_retry",
        "Run Escalation Retry (dry run)",
        "manage_retries",
        "recovery",
        f"{AD}/recovery-escalations/retry-worker-run",
        lambda form: {
            "dry_run": True,
            "max_retry_deliveries": 5,
            "retry_policy": IMMEDIATE,
            "schedule": {"interval_minutes": 30, "cadence": "half_hourly", "enabled": False},
        },
        lambda b: (
            "Recovery escalation retry worker selected "
            f"{text(b, 'run', 'summary', 'selected_retry_count') or 0} retries."
        ),
        TOPICS,
    ),
)
