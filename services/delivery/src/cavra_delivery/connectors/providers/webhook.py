"""Generic webhooks: the CloudEvent as structured JSON, signed per Standard Webhooks when a secret is set."""

from __future__ import annotations

import base64
import binascii
import functools
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from standardwebhooks.webhooks import Webhook

from cavra_delivery.connectors.model import ConnectorConfig
from cavra_delivery.connectors.notification import Notification
from cavra_delivery.connectors.payloads import HttpRequest, as_utc, base_headers, json_bytes, url_of
from cavra_delivery.connectors.providers.base import EntryProblem, Provider

CLOUDEVENTS_JSON = "application/cloudevents+json"
SECRET_PREFIX = "whsec_"


def check(secrets: Mapping[str, str], options: Mapping[str, str]) -> None:
    if "secret" in secrets and not _is_signing_secret(secrets["secret"]):
        raise EntryProblem("field 'secret' must be a Standard Webhooks secret (whsec_<base64>)")


@functools.lru_cache(maxsize=64)
def _signer(secret: str) -> Webhook:
    """One signer per secret (building one decodes the key): connectors are few, routes many."""
    return Webhook(secret)


def _is_signing_secret(secret: str) -> bool:
    # The signing library decodes leniently (it skips non-base64 characters): check strictly here.
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except binascii.Error:
        return False
    return bool(key)


def build(
    connector: ConnectorConfig, notification: Notification, idempotency_key: str, now: datetime
) -> list[HttpRequest]:
    """The CloudEvent as structured JSON, signed per Standard Webhooks when a secret is configured.

    ``webhook-id`` is the idempotency key, so receivers see the same id on every retry; the
    timestamp and signature are fresh per attempt. An ack link goes into the data as ``ack_url``.
    """
    body = json_bytes(_with_ack_url(notification))
    headers = {**base_headers(idempotency_key), "Content-Type": CLOUDEVENTS_JSON}
    secret = connector.secret("secret")
    if secret is not None:
        stamp = as_utc(now)
        headers["webhook-id"] = idempotency_key
        headers["webhook-timestamp"] = str(math.floor(stamp.timestamp()))
        headers["webhook-signature"] = _signer(secret).sign(idempotency_key, stamp, body.decode())
    return [HttpRequest("POST", url_of(connector), headers, content=body, signed=secret is not None)]


def _with_ack_url(notification: Notification) -> Mapping[str, Any]:
    event = notification.event
    if notification.ack_url is None:
        return event
    data = event.get("data")
    return {**event, "data": {**(data if isinstance(data, Mapping) else {}), "ack_url": notification.ack_url}}


PROVIDER = Provider(type="webhook", build=build, check=check)
