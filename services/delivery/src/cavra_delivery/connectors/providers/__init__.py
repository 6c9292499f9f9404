"""Every provider type the delivery service can send to, in one table.

A provider is one module (``providers/<type>.py``) exporting a :class:`Provider`: its config
rules, its request builder and the readers of the references its answers hold. Adding one
(PagerDuty Events v2, say) is one new module, one line in ``PROVIDERS``, one fake and one test;
the loader, the HTTP exchange, retries and evidence are generic.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cavra_contracts.vocabulary import normalize_provider
from cavra_delivery.connectors.model import ConnectorConfig
from cavra_delivery.connectors.notification import Notification
from cavra_delivery.connectors.payloads import HttpRequest
from cavra_delivery.connectors.providers import jira, servicenow, siem, slack, teams, webhook
from cavra_delivery.connectors.providers.base import EntryProblem, Provider

PROVIDERS: Mapping[str, Provider] = {
    provider.type: provider
    for provider in (
        slack.PROVIDER,
        teams.PROVIDER,
        jira.PROVIDER,
        servicenow.PROVIDER,
        webhook.PROVIDER,
        siem.PROVIDER,
    )
}
"""Provider type -> its module's Provider."""

CONNECTOR_TYPES: frozenset[str] = frozenset(PROVIDERS)
TYPE_ALIASES: Mapping[str, str] = {alias: p.type for p in PROVIDERS.values() for alias in p.aliases}


def normalise_type(value: str) -> str:
    """Lower-case, trim, ``-`` -> ``_``, and map aliases (``splunk`` -> ``siem``)."""
    key = normalize_provider(value)
    return TYPE_ALIASES.get(key, key)


def provider_for(connector_type: str) -> Provider:
    """The Provider of a (normalised) type; ``KeyError`` for an unknown one."""
    return PROVIDERS[connector_type]


def build_requests(
    connector: ConnectorConfig, notification: Notification, idempotency_key: str, now: datetime
) -> list[HttpRequest]:
    """The steps of one exchange for ``connector``'s type."""
    return PROVIDERS[connector.type].build(connector, notification, idempotency_key, now)


def existing_ref(connector_type: str, body: Any) -> str | None:
    """From a ``lookup`` answer: the open issue or incident it found, else None."""
    reader = PROVIDERS[connector_type].existing_ref
    return reader(body) if reader else None


def created_ref(connector_type: str, body: Any) -> str | None:
    """From a ``create`` answer: the new issue key or incident number, else None."""
    reader = PROVIDERS[connector_type].created_ref
    return reader(body) if reader else None


__all__ = [
    "CONNECTOR_TYPES",
    "PROVIDERS",
    "TYPE_ALIASES",
    "EntryProblem",
    "Provider",
    "build_requests",
    "created_ref",
    "existing_ref",
    "normalise_type",
    "provider_for",
]
