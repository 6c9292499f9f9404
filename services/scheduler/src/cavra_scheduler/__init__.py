"""Scheduler service: owns rollback drill schedules and drill runs, and evaluates their readiness."""

from pathlib import Path

from cavra_scheduler.settings import SchedulerSettings as Settings

SERVICE = "scheduler"
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"

__all__ = ["MIGRATIONS", "SERVICE", "Settings"]
