"""Slack incoming webhooks: Block Kit with the facts and an Ack button carrying the route id."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cavra_delivery.connectors.model import ConnectorConfig
from cavra_delivery.connectors.notification import Notification
from cavra_delivery.connectors.payloads import HttpRequest, base_headers, clip, url_of
from cavra_delivery.connectors.providers.base import Provider


def build(
    connector: ConnectorConfig, notification: Notification, idempotency_key: str, now: datetime
) -> list[HttpRequest]:
    """Incoming webhook with Block Kit: header, text, facts, links and an Ack button (with a route)."""
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": clip(notification.title, 150), "emoji": True},
        },
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": clip(f"*Severity:* {notification.severity}\n{_mrkdwn(notification.text)}", 3000),
            },
        },
    ]
    if notification.facts:
        fields = [
            {"type": "mrkdwn", "text": clip(f"*{_mrkdwn(title)}*\n{_mrkdwn(value)}", 2000)}
            for title, value in notification.facts[:10]
        ]
        blocks.append({"type": "section", "fields": fields})
    if notification.links:
        links = " | ".join(f"<{url}|{_mrkdwn(label)}>" for label, url in notification.links)
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": clip(links, 3000)}]})
    if notification.route_id:  # a message about no route (an audit package) has nothing to ack
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Ack"},
                        "action_id": "ack",
                        "value": clip(notification.route_id, 2000),
                        "style": "primary",
                    }
                ],
            }
        )
    body = {"text": clip(f"{notification.title}: {notification.text}", 3000), "blocks": blocks}
    return [HttpRequest("POST", url_of(connector), base_headers(idempotency_key), json_body=body)]


def _mrkdwn(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


PROVIDER = Provider(type="slack", build=build)
