"""Splunk HTTP Event Collector (the ``siem`` type): the CloudEvent as the ``event`` of
``/services/collector/event``."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cavra_delivery.connectors.model import ConnectorConfig
from cavra_delivery.connectors.notification import Notification
from cavra_delivery.connectors.payloads import HttpRequest, as_utc, base_headers, url_of
from cavra_delivery.connectors.providers.base import EntryProblem, Provider

HEC_HOST = "cavra-drillops"
# Fixed namespace so the HEC channel is a pure function of the idempotency key.
HEC_CHANNEL_NAMESPACE = uuid.UUID("5f1c9a4e-3b7d-5e2a-9c61-8d0f4b2a7e13")


def hec_channel(idempotency_key: str) -> str:
    """``X-Splunk-Request-Channel``: a UUID derived from the idempotency key."""
    return str(uuid.uuid5(HEC_CHANNEL_NAMESPACE, idempotency_key))


def check(secrets: Mapping[str, str], options: Mapping[str, str]) -> None:
    if "token" not in secrets:
        raise EntryProblem("must configure token (or token_env) for the HEC 'Authorization: Splunk' header")


def build(
    connector: ConnectorConfig, notification: Notification, idempotency_key: str, now: datetime
) -> list[HttpRequest]:
    """Splunk HEC ``/services/collector/event`` with the CloudEvent as ``event``."""
    base = url_of(connector).rstrip("/")
    headers = {
        **base_headers(idempotency_key),
        "Accept": "application/json",
        "Authorization": f"Splunk {connector.secret('token')}",
        "X-Splunk-Request-Channel": hec_channel(idempotency_key),
    }
    body: dict[str, Any] = {
        "time": round(as_utc(now).timestamp(), 3),
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


PROVIDER = Provider(
    type="siem",
    build=build,
    check=check,
    aliases=("splunk", "splunk_hec", "hec"),
    base_url=True,
    option_keys=("index", "source", "sourcetype"),
    option_defaults={"source": "cavra-drillops", "sourcetype": "_json"},
)
