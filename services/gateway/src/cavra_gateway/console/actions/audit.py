"""Acknowledgement audit actions (spec §7.5): Export Ack Audit (the signed package as a file), Deliver Ack
Audit (to the destination of the mutation inputs), Plan Audit Retry, Run Audit Worker (a dry run) and
Send Worker Alert. Owner and provider are the filters of the page."""

from __future__ import annotations

from typing import Any, Final

from cavra_gateway.console.actions.base import (
    Action,
    ActionForm,
    Outcome,
    count,
    failed,
    queued,
    text,
    toolbar,
)
from cavra_gateway.console.current import Viewer

NP: Final = "/runtime/go-pilot/rollback-drill-notifications"
AD: Final = f"{NP}/acknowledgements/audit-delivery"
TOPICS: Final = ("delivery", "acknowledgement", "retry", "health")
WORKER_SCHEDULE: Final = {"interval_minutes": 30, "cadence": "every_30_minutes", "enabled": False}
"""The original sent ``enabled: true``, which was only metadata there; here an enabled schedule keeps a
worker running, which one click on a button should not start (PUT …/worker-schedule does that)."""


def _scope(form: ActionForm) -> dict[str, str]:
    return {k: v for k, v in {"owner": form.filters.owner, "provider": form.filters.provider}.items() if v}


async def export_audit(viewer: Viewer, form: ActionForm) -> Outcome:
    """The API's audit package answer, downloaded as ``{audit_id}.json``."""
    answer = await viewer.api.post(
        f"{NP}/acknowledgements/audit-package", _scope(form), idempotency_key=form.idempotency_key("export")
    )
    if not answer.ok:
        return failed(answer)
    audit_id = text(answer.body, "audit_package", "audit_id")
    if not audit_id:
        return queued(answer)
    return Outcome(
        200, f"Downloaded audit package {audit_id}.", download=(answer.content, f"{audit_id}.json")
    )


def _delivered(body: Any) -> str:
    selected = (body.get("delivery_plan") or {}).get("selected_providers") if isinstance(body, dict) else None
    names = (
        ", ".join(str(p) for p in selected) if isinstance(selected, list) and selected else "no destination"
    )
    return f"Delivered acknowledgement audit package {text(body, 'audit_package', 'audit_id')} to {names}."


ACTIONS: Final = (
    Action(
        "export_audit",
        "Export Ack Audit",
        "generate_audit_package",
        "notifications",
        export_audit,
        hint="Downloads the signed acknowledgement audit package of the current owner and provider.",
    ),
    toolbar(
        "deliver_audit",
        "Deliver Ack Audit",
        "deliver_audit_package",
        "notifications",
        f"{NP}/acknowledgements/audit-delivery",
        lambda form: {
            **_scope(form),
            "delivery_provider": form.destination or "webhook",
            "cadence": "on_demand",
            "schedule_ref": "evidence-console",
        },
        _delivered,
        TOPICS,
        hint="Sends the audit package to the destination chosen above.",
    ),
    toolbar(
        "plan_audit_retry",
        "Plan Audit Retry",
        "manage_retries",
        "notifications",
        f"{AD}/retry-plan",
        lambda form: {
            "retry_policy": {"max_retry_attempts": 3, "retry_delay_minutes": 15, "backoff_multiplier": 2}
        },
        lambda body: f"Planned {text(body, 'plan', 'retryable_count') or 0} retryable audit deliveries.",
        TOPICS,
    ),
    toolbar(
        "run_audit_worker",
        "Run Audit Worker (dry run)",
        "manage_retries",
        "notifications",
        f"{AD}/worker-run",
        lambda form: {
            "dry_run": True,
            "max_retry_deliveries": 5,
            "retry_policy": {
                "max_retry_attempts": 3,
                "retry_delay_minutes": 0,
                "allow_immediate_retry": True,
                "backoff_multiplier": 2,
            },
            "schedule": WORKER_SCHEDULE,
        },
        lambda body: (
            "Worker dry-run selected "
            f"{text(body, 'run', 'summary', 'selected_retry_count') or 0} retry deliveries."
        ),
        TOPICS,
        hint="A dry run: selects retries, sends nothing.",
    ),
    toolbar(
        "send_worker_alert",
        "Send Worker Alert",
        "deliver_notifications",
        "notifications",
        f"{AD}/worker-health-alerts/deliver",
        lambda form: {
            "provider": form.destination or "all",
            "force": True,
            "expected_interval_minutes": 30,
            "stale_metadata_minutes": 120,
            "retries": 0,
            "timeout_seconds": 0.1,
        },
        lambda body: (
            f"Worker health alert {text(body, 'plan', 'plan_id')} selected "
            f"{count(body, 'plan', 'selected_providers')} destinations."
        ),
        TOPICS,
    ),
)
