"""Signed one-time ack links for the targets that get one (the gateway verifies and records them).

A link is a credential: it is built per sent notification, handed to the provider module in the
Notification, and never put into evidence, outcome rows, records, events or logs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import SecretStr

from cavra_contracts import ack_links
from cavra_delivery.settings import DeliverySettings
from cavra_delivery.targets import Target


@dataclass(frozen=True, slots=True)
class AckLinks:
    """Signs a fresh link, valid for ``ttl``, for each notification of a target with a route."""

    secret: SecretStr
    base_url: str
    ttl: timedelta

    def __repr__(self) -> str:
        return f"AckLinks(base_url={self.base_url!r}, ttl={self.ttl!r})"

    def for_target(self, target: Target, now: datetime) -> str | None:
        """A new link for ``target``'s route, or ``None`` when it gets none."""
        if not (target.ack_link and target.route_id):
            return None
        claims = ack_links.new_claims(
            route_id=target.route_id,
            plan_id=target.plan_id,
            schedule_id=target.schedule_id,
            provider=target.provider,
            now=now,
            ttl=self.ttl,
        )
        return ack_links.link(self.base_url, claims, self.secret.get_secret_value())


def ack_links_from(settings: DeliverySettings) -> AckLinks | None:
    """Ack links when both ``CAVRA_ACK_LINK_SECRET`` and ``CAVRA_PUBLIC_BASE_URL`` are set, else none."""
    if settings.ack_link_secret is None or not settings.public_base_url:
        return None
    return AckLinks(
        settings.ack_link_secret, settings.public_base_url, timedelta(seconds=settings.ack_link_ttl_seconds)
    )
