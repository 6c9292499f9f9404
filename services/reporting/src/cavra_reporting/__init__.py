"""Reporting service: notification history and dashboard read models, built only from CAVRA_EVENTS."""

from pathlib import Path

from cavra_reporting.settings import ReportingSettings as Settings

SERVICE = "reporting"
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"

__all__ = ["MIGRATIONS", "SERVICE", "Settings"]
