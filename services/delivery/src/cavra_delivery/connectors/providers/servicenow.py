"""ServiceNow Table API: query active incidents by correlation id first, create one only if none."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from cavra_delivery.connectors.model import ConnectorConfig
from cavra_delivery.connectors.notification import Notification
from cavra_delivery.connectors.payloads import HttpRequest, base_headers, clip, first_text, url_of
from cavra_delivery.connectors.providers.base import Provider, auth_header, one_auth
from cavra_delivery.connectors.providers.keys import stable_hash

DISPLAY = "CAVRA Drill Ops"
BASIC = ("username", "password")
# Priority = f(urgency, impact): critical -> 2 (High), warning -> 3 (Moderate), healthy -> 5.
_LEVELS = {"critical": ("1", "2"), "warning": ("2", "2"), "healthy": ("3", "3")}


def servicenow_correlation_id(dedup_key: str) -> str:
    """The ServiceNow ``correlation_id`` of one dedup key (queried before creating)."""
    return f"cavra:drill-{stable_hash(dedup_key)}"


def check(secrets: Mapping[str, str], options: Mapping[str, str]) -> None:
    one_auth(secrets, bearer="token", basic=BASIC)


def build(
    connector: ConnectorConfig, notification: Notification, idempotency_key: str, now: datetime
) -> list[HttpRequest]:
    """Query active incidents by correlation id (Table API), then create one if none."""
    base = url_of(connector).rstrip("/")
    headers = {
        **base_headers(idempotency_key),
        "Accept": "application/json",
        "Authorization": auth_header(connector, BASIC),
    }
    correlation_id = servicenow_correlation_id(notification.dedup_key)
    query = urlencode(
        {
            "sysparm_query": f"correlation_id={correlation_id}^active=true",
            "sysparm_fields": "sys_id,number",
            "sysparm_limit": "1",
        },
        safe="=^,:",
    )
    urgency, impact = _LEVELS.get(notification.severity, ("3", "3"))
    incident: dict[str, Any] = {
        "short_description": clip(" ".join(notification.title.split()), 160),
        "description": _plain_description(notification),
        "urgency": urgency,
        "impact": impact,
        "category": "software",
        "correlation_id": correlation_id,
        "correlation_display": DISPLAY,
    }
    for option in ("assignment_group", "caller_id"):
        if option in connector.options:
            incident[option] = connector.options[option]
    table = f"{base}/api/now/table/incident"
    lookup_headers = {key: value for key, value in headers.items() if key != "Content-Type"}
    return [
        HttpRequest("GET", f"{table}?{query}", lookup_headers, step="lookup"),
        HttpRequest("POST", table, headers, json_body=incident, step="create"),
    ]


def existing_ref(body: Any) -> str | None:
    """The number of the first active incident found, else None; ``ValueError`` on another shape."""
    result = body.get("result") if isinstance(body, Mapping) else None
    if not isinstance(result, Sequence) or isinstance(result, str):
        raise ValueError("unexpected query response shape")
    return next((ref for item in result if (ref := first_text(item, ("number", "sys_id"))) is not None), None)


def created_ref(body: Any) -> str | None:
    """The new incident's number."""
    return first_text(body.get("result"), ("number", "sys_id")) if isinstance(body, Mapping) else None


def _plain_description(notification: Notification) -> str:
    lines = [notification.text, "", f"Severity: {notification.severity}"]
    lines += [f"{title}: {value}" for title, value in notification.facts]
    if notification.ack_url is not None:
        lines += ["", f"Acknowledge (one-time link): {notification.ack_url}"]
    lines += [f"{label}: {url}" for label, url in notification.links]
    return "\n".join(lines)


PROVIDER = Provider(
    type="servicenow",
    build=build,
    check=check,
    base_url=True,
    option_keys=("assignment_group", "caller_id"),
    existing_ref=existing_ref,
    created_ref=created_ref,
)
