"""The ``release-connector-delivery`` record of a job's delivery (pure; redacted by construction)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

from cavra_contracts.notifications import DELIVERY_RECORD_KIND, DELIVERY_SCHEMA, NOTIFICATION_EVENT_TYPE


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "connector"


def record_id(event_id: str, generated_at: str, providers: Sequence[str]) -> str:
    """``rcd-{slug}-{12 hex}`` as the original, over event id, time and providers."""
    material = f"{event_id}|{generated_at}|{','.join(providers)}"
    return f"rcd-{_slug(event_id)}-{hashlib.sha256(material.encode()).hexdigest()[:12]}"


def delivery_record(
    ids: Mapping[str, Any],
    deliveries: Sequence[Mapping[str, Any]],
    *,
    source: str,
    generated_at: str,
    event_type: str = NOTIFICATION_EVENT_TYPE,
) -> dict[str, Any]:
    """Summarise every delivery of one job; only hosts, codes, counts and ids — no secrets.

    ``ids`` are merged into the record (spec §5.5): a plan's ``plan_id`` and ``schedule_id``, a
    job's ``job_id`` and ``kind``, ...; the job id is ``job_id``, else ``plan_id`` (a plan's own)."""
    providers = sorted({d["provider"] for d in deliveries})
    failed = sorted({d["provider"] for d in deliveries if d["outcome"] != "delivered"})
    job_id = str(ids.get("job_id") or ids["plan_id"])
    event_id = str(ids.get("schedule_id") or job_id)
    attempts = [int(d["attempt_count"]) for d in deliveries]
    rid = record_id(f"{event_id}-{job_id}", generated_at, providers)
    return {
        "schema_version": "cavra.evidence.metadata.v1",
        "product": "CAVRA",
        "session_id": rid,
        "record_id": rid,
        "created_at": generated_at,
        "signer": source,
        "decision_count": 0,
        "blocked_count": len(failed),
        "approval_required_count": 0,
        "metadata_kind": DELIVERY_RECORD_KIND,
        "connector_delivery_source": source,
        "event_id": event_id,
        "event_type": event_type,
        **ids,
        "job_id": job_id,
        "delivery_success": not failed,
        "providers": providers,
        "failed_providers": failed,
        "attempt_count": sum(attempts),
        "max_attempt_count": max(attempts, default=0),
        "status_codes": [d["status_code"] for d in deliveries],
        "delivery": {
            "schema_version": DELIVERY_SCHEMA,
            "product": "CAVRA",
            "event_type": event_type,
            "event_id": event_id,
            "generated_at": generated_at,
            "success": not failed,
            "deliveries": list(deliveries),
        },
    }


def without_deliveries(record: Mapping[str, Any]) -> dict[str, Any]:
    """The record as stored: its route deliveries are rows of their own, so they are left out."""
    delivery = {key: value for key, value in record["delivery"].items() if key != "deliveries"}
    return {**record, "delivery": delivery}


def with_deliveries(document: Mapping[str, Any], deliveries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A stored record with its route deliveries back in (records stored whole are returned as they are)."""
    if "deliveries" in document["delivery"]:
        return dict(document)
    return {**document, "delivery": {**document["delivery"], "deliveries": list(deliveries)}}
