"""Router service: turns schedule readiness into notification plans (owner x provider routes)."""

from pathlib import Path

from cavra_router.settings import RouterSettings as Settings

SERVICE = "router"
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"

__all__ = ["MIGRATIONS", "SERVICE", "Settings"]
