"""Governed retry actions (spec §7.5): Ack Retry (row of a retry plan), Plan Retry Approval, Approve
Retry (row of an approval request; never offered to its requester or the retry's acknowledger, and the
API refuses them anyway) and Execute Retry (a live worker run: it sends)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from cavra_gateway.console.actions.base import (
    Action,
    ActionForm,
    Outcome,
    answered,
    failed,
    refused,
    text,
    toolbar,
)
from cavra_gateway.console.current import Viewer
from cavra_gateway.console.tables import retries as approvals_table

AD: Final = "/runtime/go-pilot/rollback-drill-notifications/acknowledgements/audit-delivery"
TOPICS: Final = ("retry", "approval", "delivery")
"""Newest approval requests searched for a row's id (the API's largest page)."""


async def ack_retry(viewer: Viewer, form: ActionForm) -> Outcome:
    """Accept the retry decision of the row (a decision row's id is ``plan:delivery:provider``), or the
    first retry decision of a retry plan given by its id alone."""
    if not form.record_id:
        return refused(422, "record_id", "select a retry plan row")
    plan_id, _, chosen = form.record_id.partition(":")
    delivery_id, _, provider = chosen.rpartition(":")
    answer = await viewer.api.get(f"{AD}/retry-plans/{plan_id}", {"limit": 100})
    if not answer.ok:
        return failed(answer)
    body: dict[str, Any] = answer.body if isinstance(answer.body, dict) else {}
    found = body.get("plan")
    plan: dict[str, Any] = found if isinstance(found, dict) else body
    listed = plan.get("retry_decisions") or body.get("retry_decisions") or []
    decisions = [d for d in listed if isinstance(d, dict)]
    decision = (
        next(
            (d for d in decisions if d.get("delivery_id") == delivery_id and d.get("provider") == provider),
            None,
        )
        if chosen
        else next((d for d in decisions if d.get("action") == "retry"), decisions[0] if decisions else None)
    )
    if decision is None:
        return refused(409, "record_id", f"retry plan {plan_id} has no such retry decision to acknowledge")
    posted = await viewer.api.post(
        f"{AD}/retry-plans/{text(plan, 'retry_plan_id') or plan_id}/acknowledgements",
        {
            "provider": decision.get("provider", ""),
            "acknowledgement_state": "accepted",
            "delivery_id": decision.get("delivery_id") or "",
            "audit_id": decision.get("audit_id") or "",
            "external_ref": form.external_ref,
            "notes": form.notes,
        },
        idempotency_key=form.idempotency_key("ack_retry"),
    )
    return answered(
        posted,
        lambda b: f"Acknowledged retry decision {text(b, 'acknowledgement', 'acknowledgement_id')}.",
        TOPICS,
    )


async def find_approval(viewer: Viewer, approval_id: str) -> tuple[Mapping[str, Any] | None, Outcome | None]:
    """The approval request as the API lists it (the approvals table's lookup, by its id)."""
    approval, answer = await approvals_table.find_approval(viewer.api, approval_id)
    if not answer.ok:
        return None, failed(answer)
    if approval is None or approval.get("approval_id") != approval_id:
        return None, refused(404, "record_id", f"no approval request {approval_id!r}")
    return approval, None


def may_approve(actor: str, approval: Mapping[str, Any]) -> bool:
    """Separation of duties as the page shows it: not the requester, not the retry's acknowledger."""
    involved = {approval.get("requested_by"), approval.get("acknowledged_by")}
    acknowledgers = approval.get("acknowledged_by_all")
    if isinstance(acknowledgers, list):
        involved |= set(acknowledgers)
    return actor not in involved


async def approve_retry(viewer: Viewer, form: ActionForm) -> Outcome:
    if not form.record_id:
        return refused(422, "record_id", "select an approval request row")
    approval, problem = await find_approval(viewer, form.record_id)
    if problem is not None or approval is None:
        return problem or refused(404, "record_id", "no approval request")
    posted = await viewer.api.post(
        f"{AD}/retry-execution-approval-plans/{approval.get('approval_plan_id', '')}/decisions",
        {
            "provider": approval.get("provider", ""),
            "approval_state": "approved",
            "retry_plan_id": approval.get("retry_plan_id") or "",
            "delivery_id": approval.get("delivery_id") or approval.get("origin_job_id") or "",
            "external_ref": form.external_ref,
            "notes": form.notes,
        },
        idempotency_key=form.idempotency_key("approve_retry"),
    )
    return answered(
        posted, lambda b: f"Approved retry execution {text(b, 'decision', 'decision_id')}.", TOPICS
    )


def _executed(body: Any) -> str:
    results = body.get("retry_results") if isinstance(body, dict) else None
    executed = [r for r in results or [] if isinstance(r, dict) and r.get("execution_record")]
    return f"Executed {len(executed)} approved retry records."


ACTIONS: Final = (
    Action("ack_retry", "Ack Retry", "manage_retries", "retries", ack_retry, row=True),
    Action("approve_retry", "Approve", "approve_retries", "retries", approve_retry, row=True),
    toolbar(
        "plan_retry_approval",
        "Plan Retry Approval",
        "manage_retries",
        "retries",
        f"{AD}/retry-execution-approval-plan",
        lambda form: {"approval_policy": {"require_retry_ack": True}},
        lambda b: f"Planned {text(b, 'plan', 'approval_required_count') or 0} retry execution approvals.",
        TOPICS,
    ),
    toolbar(
        "execute_retry",
        "Execute Retry (sends now)",
        "manage_retries",
        "retries",
        f"{AD}/worker-run",
        lambda form: {
            "execute": True,
            "dry_run": False,
            "max_retry_deliveries": 5,
            "retry_policy": {"max_retry_attempts": 3, "retry_delay_minutes": 15, "backoff_multiplier": 2},
            "schedule": {"interval_minutes": 30, "cadence": "manual_retry", "enabled": False},
            "retries": 0,
            "timeout_seconds": 0.1,
        },
        _executed,
        TOPICS,
        hint="A live worker run: approved retries are delivered to their connectors now.",
    ),
)
