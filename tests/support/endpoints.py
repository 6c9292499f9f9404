"""Every mutating endpoint of the gateway with a valid sample request and the least role it needs:
the rows of the auth matrix (tests/integration/test_auth.py). A new mutating endpoint adds its row
here (a test fails while one is missing); one that authenticates its caller another way (a signed
Slack callback, a one-time ack link) is named in ``OTHERWISE_AUTHENTICATED`` instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cavra_contracts.actors import Role

BASE = "/runtime/go-pilot"
NOTIFICATIONS = f"{BASE}/rollback-drill-notifications"
MATRIX_SCHEDULE = "auth-matrix"
AUDIT_DELIVERY = f"{NOTIFICATIONS}/acknowledgements/audit-delivery"


def schedule_body(**changes: Any) -> dict[str, Any]:
    """A valid schedule (due in the past, so a plan has a deliverable webhook route)."""
    return {
        "schema_version": "cavra.go-backend-rollback-drill-schedule.v1",
        "environment": "production-pilot",
        "status": "active",
        "interval_days": 30,
        "next_due_at": "2026-10-01T00:00:00Z",
        "owners": ["release-governance"],
        "notification_providers": ["webhook"],
        "runbook_ref": "docs/runbook.md",
        **changes,
    }


def drill_body(**changes: Any) -> dict[str, Any]:
    return {
        "drill_id": "auth-matrix-drill",
        "schedule_id": MATRIX_SCHEDULE,
        "executed_at": "2026-10-30T10:00:00Z",
        "status": "pass",
        "source_mode": "promoted",
        "target_mode": "disabled",
        "fallback_verified": True,
        "recovery_minutes": 7,
        "max_recovery_minutes": 15,
        "runbook_ref": "docs/runbook.md",
        "evidence_refs": ["go-rollback-drill://ci/python-fallback-restored"],
        **changes,
    }


AUDIT_DELIVERY = f"{NOTIFICATIONS}/acknowledgements/audit-delivery"


def retry_endpoints() -> tuple[Endpoint, ...]:
    """Retry plan and worker run of every family, the worker schedule, and governed execution."""
    from cavra_gateway.routes.retries import FAMILY_PATHS  # the one table of retry paths

    rows: list[Endpoint] = []
    for plan_path, run_path in FAMILY_PATHS.values():
        rows.append(Endpoint("POST", plan_path, "operator", "manage_retries", {}))
        rows.append(Endpoint("POST", run_path, "operator", "manage_retries", {}))
    return (
        *rows,
        Endpoint(
            "PUT",
            f"{NOTIFICATIONS}/retries/{{family}}/worker-schedule",
            "operator",
            "manage_retries",
            {"schedule": {"interval_minutes": 30, "enabled": False}},
            {"family": "audit"},
        ),
        Endpoint(
            "POST",
            f"{AUDIT_DELIVERY}/retry-plans/{{retry_plan_id}}/acknowledgements",
            "operator",
            "manage_retries",
            {"provider": "webhook"},
            {"retry_plan_id": "gordackretry-0000000000000000"},
        ),
        Endpoint("POST", f"{AUDIT_DELIVERY}/retry-execution-approval-plan", "operator", "manage_retries", {}),
        Endpoint(
            "POST",
            f"{AUDIT_DELIVERY}/retry-execution-approval-plans/{{approval_plan_id}}/decisions",
            "approver",
            "approve_retries",
            {"provider": "webhook"},
            {"approval_plan_id": "gordackretryapproval-0000000000000000"},
        ),
    )


@dataclass(frozen=True)
class Endpoint:
    """One mutating endpoint: ``route`` is its OpenAPI template, ``path`` a concrete request path."""

    method: str
    route: str
    role: Role
    permission: str
    """Its action in ``cavra_gateway.auth.PERMISSIONS`` (whose role must equal ``role``)."""
    body: dict[str, Any] | None = None
    path_params: dict[str, str] = field(default_factory=dict)

    @property
    def path(self) -> str:
        return self.route.format(**self.path_params)

    @property
    def label(self) -> str:
        return f"{self.method} {self.route}"


MUTATING: tuple[Endpoint, ...] = (
    Endpoint(
        "PUT",
        f"{BASE}/rollback-drill-schedules/{{schedule_id}}",
        "operator",
        "manage_schedules",
        schedule_body(),
        {"schedule_id": MATRIX_SCHEDULE},
    ),
    Endpoint("POST", f"{BASE}/rollback-drills", "operator", "record_drills", drill_body()),
    Endpoint(
        "POST",
        f"{NOTIFICATIONS}/deliver",
        "operator",
        "deliver_notifications",
        {"schedule_id": MATRIX_SCHEDULE, "provider": "webhook"},
    ),
    Endpoint(
        "POST",
        f"{NOTIFICATIONS}/{{schedule_id}}/acknowledgements",
        "operator",
        "acknowledge_drill_notifications",
        {"provider": "webhook", "acknowledged_by": "mallory"},
        {"schedule_id": MATRIX_SCHEDULE},
    ),
    Endpoint(
        "POST",
        f"{NOTIFICATIONS}/acknowledgements/bulk",
        "operator",
        "bulk_acknowledge",
        {
            "routes": [{"schedule_id": MATRIX_SCHEDULE, "provider": "webhook"}],
            "acknowledgement_state": "resolved",
        },
    ),
    Endpoint(
        "POST",
        f"{NOTIFICATIONS}/routes/{{route_id}}/actions",
        "operator",
        "escalate_routes",
        {"action": "escalate"},
        {"route_id": "gordroute-auth-matrix"},
    ),
    Endpoint(
        "POST",
        f"{NOTIFICATIONS}/routes/actions",
        "operator",
        "resolve_routes",
        {"action": "resolve", "scope": {"schedule_id": MATRIX_SCHEDULE}},
    ),
    Endpoint(
        "POST",
        f"{NOTIFICATIONS}/escalation-plan",
        "operator",
        "generate_escalation_plan",
        {"policy": {"acknowledgement_minutes": 5}},
    ),
    Endpoint(
        "POST", f"{NOTIFICATIONS}/acknowledgements/audit-package", "operator", "generate_audit_package", {}
    ),
    Endpoint(
        "POST",
        f"{NOTIFICATIONS}/acknowledgements/audit-delivery",
        "operator",
        "deliver_audit_package",
        {"delivery_provider": "webhook", "retries": 0},
    ),
    Endpoint(
        "DELETE",
        f"{NOTIFICATIONS}/acknowledgements/audit-schedules/{{schedule_ref_id}}",
        "operator",
        "deliver_audit_package",
        {},
        {"schedule_ref_id": "gordackauditschedule-0000000000000000"},
    ),
    Endpoint(
        "POST",
        f"{NOTIFICATIONS}/acknowledgements/audit-delivery/recovery-executive-report/schedule-run",
        "operator",
        "deliver_audit_package",
        {"schedule": {"interval_minutes": 1440, "enabled": False}},
    ),
    Endpoint(
        "POST",
        f"{NOTIFICATIONS}/acknowledgements/audit-delivery/recovery-executive-report/schedule-runs/{{run_id}}/deliver",
        "operator",
        "deliver_audit_package",
        {"provider": "webhook"},
        {"run_id": "latest"},
    ),
    *(
        endpoint
        for alerts, health_id in (
            (f"{AUDIT_DELIVERY}/worker-health-alerts", "gordackhealth-0000000000000000"),
            (
                f"{AUDIT_DELIVERY}/recovery-escalations/retry-health-alerts",
                "gordackrecoveryeschealth-0000000000000000",
            ),
            (
                f"{AUDIT_DELIVERY}/recovery-executive-report/delivery-retry-health-alerts",
                "gordackexecdeliveryhealth-0000000000000000",
            ),
        )
        for endpoint in (
            Endpoint(
                "POST",
                f"{alerts}/deliver",
                "operator",
                "deliver_notifications",
                {"provider": "webhook", "retries": 0},
            ),
            Endpoint(
                "POST",
                f"{alerts}/{{health_id}}/acknowledgements",
                "operator",
                "acknowledge_drill_notifications",
                {"provider": "webhook"},
                {"health_id": health_id},
            ),
        )
    ),
    Endpoint(
        "POST",
        f"{NOTIFICATIONS}/acknowledgements/audit-delivery/connector-recovery-playbook",
        "operator",
        "deliver_audit_package",
        {"min_failure_count": 1},
    ),
    Endpoint(
        "POST",
        f"{NOTIFICATIONS}/acknowledgements/audit-delivery/connector-recovery-playbooks/{{playbook_id}}/closures",
        "operator",
        "deliver_audit_package",
        {"provider": "webhook"},
        {"playbook_id": "gordackrecovery-0000000000000000"},
    ),
    Endpoint(
        "POST",
        f"{NOTIFICATIONS}/acknowledgements/audit-delivery/recovery-escalation-plan",
        "operator",
        "deliver_audit_package",
        {},
    ),
    Endpoint(
        "POST",
        f"{NOTIFICATIONS}/acknowledgements/audit-delivery/recovery-escalations/{{plan_id}}/deliver",
        "operator",
        "deliver_audit_package",
        {"provider": "webhook", "retries": 0},
        {"plan_id": "gordackrecoveryesc-0000000000000000"},
    ),
    Endpoint(
        "POST",
        f"{NOTIFICATIONS}/acknowledgements/audit-delivery/recovery-escalations/{{plan_id}}/acknowledgements",
        "operator",
        "deliver_audit_package",
        {"provider": "webhook"},
        {"plan_id": "gordackrecoveryesc-0000000000000000"},
    ),

    *retry_endpoints(),
)

OTHERWISE_AUTHENTICATED: frozenset[str] = frozenset(
    {
        f"POST {NOTIFICATIONS}/integrations/slack/interactions",  # Slack's signature
        f"POST {NOTIFICATIONS}/ack-links/{{token}}",  # the signed one-time token
        f"GET {NOTIFICATIONS}/ack-links/{{token}}",  # its confirmation page
    }
)
"""``METHOD /route`` of endpoints whose caller proves itself another way than a bearer credential (a
Slack signature, an ack link's token); they are not in the matrix and declare no bearer scheme."""

PUBLIC_READS: frozenset[str] = frozenset({"/healthz", "/readyz", "/console/session"})
"""Reads that need no credentials (``/console/session`` answers who the caller is, if anyone)."""
