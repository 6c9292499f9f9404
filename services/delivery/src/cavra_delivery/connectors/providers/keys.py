"""Stable keys providers de-duplicate on (Jira labels, ServiceNow correlation ids)."""

from __future__ import annotations

import hashlib


def stable_hash(dedup_key: str) -> str:
    """16 hex characters of SHA-256 over the dedup key."""
    return hashlib.sha256(dedup_key.encode()).hexdigest()[:16]
