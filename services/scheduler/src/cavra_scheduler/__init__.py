"""Scheduler service: owns rollback drill schedules and drill runs, and evaluates their readiness."""

from pathlib import Path

SERVICE = "scheduler"
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
