"""Acknowledgement service: records acks, escalations, resolutions and dismissals of notification routes."""

from pathlib import Path

from cavra_acknowledgement.settings import AcknowledgementSettings as Settings

SERVICE = "acknowledgement"
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"

__all__ = ["MIGRATIONS", "SERVICE", "Settings"]
