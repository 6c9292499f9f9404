"""Connector-delivery service: one pipeline for everything the system delivers to providers."""

from pathlib import Path

SERVICE = "delivery"
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
