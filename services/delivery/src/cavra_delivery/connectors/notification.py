"""What one route delivery says, independent of the provider that carries it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["healthy", "warning", "critical"]


@dataclass(frozen=True, slots=True)
class Notification:
    """One notification for one route, filled in by the delivery service.

    ``dedup_key`` must be stable for a route across retries and re-plans of the same
    schedule/state/due date: Jira labels and ServiceNow correlation ids are derived from it.
    ``event`` is a structured CloudEvent, sent as-is by the webhook connector and as the HEC ``event``.
    ``ack_url`` is a signed one-time ack link (a credential): the webhook puts it in the CloudEvent's
    data, Teams, Jira and ServiceNow show it; Slack keeps its Ack button and HEC (a store) never
    gets it. It is left out of ``repr`` so that no log line can carry it.
    """

    notification_id: str
    kind: str
    title: str
    text: str
    severity: Severity
    facts: tuple[tuple[str, str], ...]
    dedup_key: str
    route_id: str
    owner: str
    event: Mapping[str, Any]
    links: tuple[tuple[str, str], ...] = ()
    ack_url: str | None = field(default=None, repr=False)
