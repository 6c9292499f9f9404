"""Router service: turns schedule readiness into notification plans (owner x provider routes)."""

from pathlib import Path

SERVICE = "router"
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
