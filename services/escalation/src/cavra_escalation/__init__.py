"""Escalation service: acknowledgement SLOs of delivered routes, reminders, automatic escalation,
and on-demand escalation plans (spec §3.6)."""

from pathlib import Path

from cavra_escalation.settings import EscalationSettings as Settings

SERVICE = "escalation"
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"

__all__ = ["MIGRATIONS", "SERVICE", "Settings"]
