"""Every action of the system and the least role that may do it: the one table that
``GET /console/session`` answers from and that docs/api.md lists (a test keeps the two equal)."""

from __future__ import annotations

from typing import Final

from cavra_contracts.actors import Role, may

PERMISSIONS: Final[dict[str, Role]] = {
    "view": "viewer",
    "manage_schedules": "operator",
    "record_drills": "operator",
    "deliver_notifications": "operator",
    "acknowledge_drill_notifications": "operator",
    "escalate_routes": "operator",
    "resolve_routes": "operator",
    "bulk_acknowledge": "operator",
    "generate_escalation_plan": "operator",
    "generate_audit_package": "operator",
    "deliver_audit_package": "operator",
    "manage_retries": "operator",
    "approve_retries": "approver",
    "manage_tokens": "admin",
}


def permissions_of(role: Role | None) -> dict[str, bool]:
    """What ``role`` may do, action by action (nothing without a role)."""
    return {action: role is not None and may(role, needed) for action, needed in PERMISSIONS.items()}
