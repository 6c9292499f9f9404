"""The exact HTTP requests each provider expects (pure: no I/O, the clock is an argument).

Each builder returns the steps of one exchange. Jira and ServiceNow start with a ``lookup`` step
(search by a stable label / correlation id); when it finds an open issue or incident the exchange
ends there, otherwise the ``create`` step follows. The other providers have one ``send`` step.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlencode

from standardwebhooks.webhooks import Webhook

from cavra_delivery.connectors.config import ConnectorConfig, ConnectorType
from cavra_delivery.connectors.notification import Notification
from cavra_delivery.connectors.redaction import target_host

Step = Literal["send", "lookup", "create"]
Builder = Callable[[ConnectorConfig, Notification, str, datetime], list["HttpRequest"]]

USER_AGENT = "cavra-drillops-delivery/1"
HEC_HOST = "cavra-drillops"
JIRA_LABEL = "cavra-drillops"
SERVICENOW_DISPLAY = "CAVRA Drill Ops"
CLOUDEVENTS_JSON = "application/cloudevents+json"
# Fixed namespace so the HEC channel is a pure function of the idempotency key.
HEC_CHANNEL_NAMESPACE = uuid.UUID("5f1c9a4e-3b7d-5e2a-9c61-8d0f4b2a7e13")

_TEAMS_COLOURS = {"critical": "Attention", "warning": "Warning", "healthy": "Good"}
# ServiceNow priority = f(urgency, impact): critical -> 2 (High), warning -> 3 (Moderate), healthy -> 5.
_SERVICENOW_LEVELS = {"critical": ("1", "2"), "warning": ("2", "2"), "healthy": ("3", "3")}


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One request of an exchange. ``repr`` shows the host only: URL and headers may hold secrets."""

    method: str
    url: str
    headers: Mapping[str, str]
    json_body: Any = None
    content: bytes | None = None
    step: Step = "send"
    signed: bool | None = field(default=None, compare=False)

    def body(self) -> bytes | None:
        """The bytes to send: ``content`` as given, else ``json_body`` as compact UTF-8 JSON."""
        if self.content is not None:
            return self.content
        if self.json_body is None:
            return None
        return _json_bytes(self.json_body)

    def __repr__(self) -> str:
        return f"HttpRequest(method={self.method!r}, host={target_host(self.url)!r}, step={self.step!r})"

    __str__ = __repr__


def stable_hash(dedup_key: str) -> str:
    """16 hex characters of SHA-256 over the dedup key."""
    return hashlib.sha256(dedup_key.encode()).hexdigest()[:16]


def jira_label(dedup_key: str) -> str:
    """The Jira label that marks every issue of one dedup key (searched before creating)."""
    return f"cavra-drill-{stable_hash(dedup_key)}"


def servicenow_correlation_id(dedup_key: str) -> str:
    """The ServiceNow ``correlation_id`` of one dedup key (queried before creating)."""
    return f"cavra:drill-{stable_hash(dedup_key)}"


def hec_channel(idempotency_key: str) -> str:
    """``X-Splunk-Request-Channel``: a UUID derived from the idempotency key."""
    return str(uuid.uuid5(HEC_CHANNEL_NAMESPACE, idempotency_key))


def build_requests(
    connector: ConnectorConfig, notification: Notification, idempotency_key: str, now: datetime
) -> list[HttpRequest]:
    """The steps of one exchange for ``connector``'s type."""
    return BUILDERS[connector.type](connector, notification, idempotency_key, now)


def slack_requests(
    connector: ConnectorConfig, notification: Notification, idempotency_key: str, now: datetime
) -> list[HttpRequest]:
    """Incoming webhook with Block Kit: header, text, facts, links and an Ack button."""
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _clip(notification.title, 150), "emoji": True},
        },
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": _clip(f"*Severity:* {notification.severity}\n{_mrkdwn(notification.text)}", 3000),
            },
        },
    ]
    if notification.facts:
        fields = [
            {"type": "mrkdwn", "text": _clip(f"*{_mrkdwn(title)}*\n{_mrkdwn(value)}", 2000)}
            for title, value in notification.facts[:10]
        ]
        blocks.append({"type": "section", "fields": fields})
    if notification.links:
        links = " | ".join(f"<{url}|{_mrkdwn(label)}>" for label, url in notification.links)
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _clip(links, 3000)}]})
    blocks.append(
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Ack"},
                    "action_id": "ack",
                    "value": _clip(notification.route_id, 2000),
                    "style": "primary",
                }
            ],
        }
    )
    body = {"text": _clip(f"{notification.title}: {notification.text}", 3000), "blocks": blocks}
    return [HttpRequest("POST", _url(connector), _headers(idempotency_key), json_body=body)]


def teams_requests(
    connector: ConnectorConfig, notification: Notification, idempotency_key: str, now: datetime
) -> list[HttpRequest]:
    """Workflows webhook carrying one Adaptive Card 1.4 (never the retired MessageCard)."""
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {
                "type": "TextBlock",
                "text": notification.title,
                "weight": "Bolder",
                "size": "Medium",
                "wrap": True,
                "color": _TEAMS_COLOURS.get(notification.severity, "Default"),
            },
            {"type": "TextBlock", "text": notification.text, "wrap": True},
            {
                "type": "FactSet",
                "facts": [{"title": title, "value": value} for title, value in notification.facts],
            },
        ],
        "msteams": {"width": "Full"},
    }
    if notification.links:
        card["actions"] = [
            {"type": "Action.OpenUrl", "title": label, "url": url} for label, url in notification.links
        ]
    body = {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }
    return [HttpRequest("POST", _url(connector), _headers(idempotency_key), json_body=body)]


def jira_requests(
    connector: ConnectorConfig, notification: Notification, idempotency_key: str, now: datetime
) -> list[HttpRequest]:
    """Search open issues by the stable label (REST v3 ``search/jql``), then create one if none."""
    base = _url(connector).rstrip("/")
    headers = {**_headers(idempotency_key), "Accept": "application/json", "Authorization": _auth(connector)}
    project = connector.options["project_key"]
    label = jira_label(notification.dedup_key)
    jql = f"project = {_jql_string(project)} AND labels = {_jql_string(label)} AND statusCategory != Done"
    search = {"jql": jql, "fields": ["key"], "maxResults": 1}
    create = {
        "fields": {
            "project": {"key": project},
            "issuetype": {"name": connector.options.get("issue_type", "Task")},
            "summary": _clip(" ".join(notification.title.split()), 255),
            "description": _adf(notification),
            "labels": [JIRA_LABEL, label],
        }
    }
    return [
        HttpRequest("POST", f"{base}/rest/api/3/search/jql", headers, json_body=search, step="lookup"),
        HttpRequest("POST", f"{base}/rest/api/3/issue", headers, json_body=create, step="create"),
    ]


def servicenow_requests(
    connector: ConnectorConfig, notification: Notification, idempotency_key: str, now: datetime
) -> list[HttpRequest]:
    """Query active incidents by correlation id (Table API), then create one if none."""
    base = _url(connector).rstrip("/")
    headers = {**_headers(idempotency_key), "Accept": "application/json", "Authorization": _auth(connector)}
    correlation_id = servicenow_correlation_id(notification.dedup_key)
    query = urlencode(
        {
            "sysparm_query": f"correlation_id={correlation_id}^active=true",
            "sysparm_fields": "sys_id,number",
            "sysparm_limit": "1",
        },
        safe="=^,:",
    )
    urgency, impact = _SERVICENOW_LEVELS.get(notification.severity, ("3", "3"))
    incident: dict[str, Any] = {
        "short_description": _clip(" ".join(notification.title.split()), 160),
        "description": _plain_description(notification),
        "urgency": urgency,
        "impact": impact,
        "category": "software",
        "correlation_id": correlation_id,
        "correlation_display": SERVICENOW_DISPLAY,
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


def webhook_requests(
    connector: ConnectorConfig, notification: Notification, idempotency_key: str, now: datetime
) -> list[HttpRequest]:
    """The CloudEvent as structured JSON, signed per Standard Webhooks when a secret is configured.

    ``webhook-id`` is the idempotency key, so receivers see the same id on every retry; the
    timestamp and signature are fresh per attempt.
    """
    body = _json_bytes(notification.event)
    headers = {**_headers(idempotency_key), "Content-Type": CLOUDEVENTS_JSON}
    secret = connector.secret("secret")
    if secret is not None:
        stamp = _utc(now)
        headers["webhook-id"] = idempotency_key
        headers["webhook-timestamp"] = str(math.floor(stamp.timestamp()))
        headers["webhook-signature"] = Webhook(secret).sign(idempotency_key, stamp, body.decode())
    return [HttpRequest("POST", _url(connector), headers, content=body, signed=secret is not None)]


def siem_requests(
    connector: ConnectorConfig, notification: Notification, idempotency_key: str, now: datetime
) -> list[HttpRequest]:
    """Splunk HEC ``/services/collector/event`` with the CloudEvent as ``event``."""
    base = _url(connector).rstrip("/")
    headers = {
        **_headers(idempotency_key),
        "Accept": "application/json",
        "Authorization": f"Splunk {connector.secret('token')}",
        "X-Splunk-Request-Channel": hec_channel(idempotency_key),
    }
    body: dict[str, Any] = {
        "time": round(_utc(now).timestamp(), 3),
        "host": HEC_HOST,
        "source": connector.options.get("source", "cavra-drillops"),
        "sourcetype": connector.options.get("sourcetype", "_json"),
    }
    if "index" in connector.options:
        body["index"] = connector.options["index"]
    body["event"] = dict(notification.event)
    body["fields"] = {
        "owner": notification.owner,
        "severity": notification.severity,
        "route_id": notification.route_id,
    }
    return [HttpRequest("POST", f"{base}/services/collector/event", headers, json_body=body)]


BUILDERS: Mapping[ConnectorType, Builder] = {
    "slack": slack_requests,
    "teams": teams_requests,
    "jira": jira_requests,
    "servicenow": servicenow_requests,
    "webhook": webhook_requests,
    "siem": siem_requests,
}


def existing_ref(connector_type: str, body: Any) -> str | None:
    """From a ``lookup`` response: the key/number of an open issue or incident, else ``None``.

    Raises ``ValueError`` when the body is not the provider's search shape.
    """
    items_key, ref_keys = (
        ("issues", ("key", "id")) if connector_type == "jira" else ("result", ("number", "sys_id"))
    )
    items = body.get(items_key) if isinstance(body, Mapping) else None
    if not isinstance(items, Sequence) or isinstance(items, str):
        raise ValueError("unexpected lookup response shape")
    for item in items:
        ref = _first_text(item, ref_keys)
        if ref is not None:
            return ref
    return None


def created_ref(connector_type: str, body: Any) -> str | None:
    """From a ``create`` response: the new issue key (Jira) or incident number (ServiceNow)."""
    if connector_type == "jira":
        return _first_text(body, ("key", "id"))
    if connector_type == "servicenow" and isinstance(body, Mapping):
        return _first_text(body.get("result"), ("number", "sys_id"))
    return None


def _first_text(item: Any, keys: Sequence[str]) -> str | None:
    if isinstance(item, Mapping):
        for key in keys:
            value = item.get(key)
            if isinstance(value, str | int) and str(value):
                return str(value)
    return None


def _headers(idempotency_key: str) -> dict[str, str]:
    return {"Content-Type": "application/json", "Idempotency-Key": idempotency_key, "User-Agent": USER_AGENT}


def _url(connector: ConnectorConfig) -> str:
    return connector.url.get_secret_value()


def _auth(connector: ConnectorConfig) -> str:
    token = connector.secret("token")
    if token is not None:
        return f"Bearer {token}"
    user_key, password_key = ("email", "api_token") if connector.type == "jira" else ("username", "password")
    pair = f"{connector.secret(user_key)}:{connector.secret(password_key)}"
    return f"Basic {base64.b64encode(pair.encode()).decode()}"


# Built once: json.dumps with options builds a new encoder per call (a quarter of its cost here).
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str)


def _json_bytes(value: Any) -> bytes:
    return _COMPACT_JSON.encode(value).encode()


def _utc(now: datetime) -> datetime:
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _mrkdwn(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _jql_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _adf_text(text: str, **marks: Any) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "text", "text": text or "-"}
    if marks.get("strong"):
        node["marks"] = [{"type": "strong"}]
    if marks.get("href"):
        node["marks"] = [{"type": "link", "attrs": {"href": marks["href"]}}]
    return node


def _adf(notification: Notification) -> dict[str, Any]:
    content: list[dict[str, Any]] = [
        {"type": "paragraph", "content": [_adf_text(line)]} for line in notification.text.splitlines() if line
    ] or [{"type": "paragraph", "content": [_adf_text(notification.title)]}]
    facts = [("Severity", notification.severity), *notification.facts]
    content.append(
        {
            "type": "bulletList",
            "content": [
                {
                    "type": "listItem",
                    "content": [
                        {
                            "type": "paragraph",
                            "content": [_adf_text(f"{title}: ", strong=True), _adf_text(value)],
                        }
                    ],
                }
                for title, value in facts
            ],
        }
    )
    for label, url in notification.links:
        content.append({"type": "paragraph", "content": [_adf_text(label, href=url)]})
    return {"type": "doc", "version": 1, "content": content}


def _plain_description(notification: Notification) -> str:
    lines = [notification.text, "", f"Severity: {notification.severity}"]
    lines += [f"{title}: {value}" for title, value in notification.facts]
    lines += [f"{label}: {url}" for label, url in notification.links]
    return "\n".join(lines)
