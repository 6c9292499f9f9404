"""Connector-delivery service: one pipeline for everything the system delivers to providers."""

from pathlib import Path

from cavra_delivery.settings import DeliverySettings as Settings

SERVICE = "delivery"
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"

__all__ = ["MIGRATIONS", "SERVICE", "Settings"]
