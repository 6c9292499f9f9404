"""Microsoft Teams Workflows webhooks: one Adaptive Card 1.4 (never the retired MessageCard)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cavra_delivery.connectors.model import ConnectorConfig
from cavra_delivery.connectors.notification import Notification
from cavra_delivery.connectors.payloads import HttpRequest, base_headers, url_of
from cavra_delivery.connectors.providers.base import Provider

ACK_TITLE = "Acknowledge"
_COLOURS = {"critical": "Attention", "warning": "Warning", "healthy": "Good"}


def build(
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
                "color": _COLOURS.get(notification.severity, "Default"),
            },
            {"type": "TextBlock", "text": notification.text, "wrap": True},
            {
                "type": "FactSet",
                "facts": [{"title": title, "value": value} for title, value in notification.facts],
            },
        ],
        "msteams": {"width": "Full"},
    }
    links = [*notification.links]
    if notification.ack_url is not None:
        links.insert(0, (ACK_TITLE, notification.ack_url))
    if links:
        card["actions"] = [{"type": "Action.OpenUrl", "title": label, "url": url} for label, url in links]
    body = {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }
    return [HttpRequest("POST", url_of(connector), base_headers(idempotency_key), json_body=body)]


PROVIDER = Provider(type="teams", build=build)
