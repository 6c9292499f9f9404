"""What connector recovery adds to the delivery service: its command consumer and its queries.

The service's bootstrap merges this :class:`Wiring` into its own, so recovery code stays in this package.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from cavra_delivery.registry import ConnectorRegistry, routable_providers
from cavra_delivery.settings import DeliverySettings
from cavra_runtime.dispatch import bind_table
from cavra_runtime.ports import Infrastructure
from cavra_runtime.service import Wiring, bind_queries

from . import handlers, queries, subscriptions
from .handlers import RecoveryDeps


def recovery_wiring(
    runtime: Infrastructure,
    settings: DeliverySettings,
    registry: ConnectorRegistry,
    clock: Callable[[], datetime],
) -> Wiring:
    """The recovery consumer and queries, wired to ``runtime`` and the connector registry."""

    def routable() -> list[str] | None:
        current = registry.current()
        if not registry.configured:
            return None
        return routable_providers(current)

    deps = RecoveryDeps(
        pool=runtime.pool,
        clock=clock,
        routable=routable,
        policy_providers=settings.recovery_escalation_channels(),
    )
    return Wiring(
        consumers=[
            (subscriptions.recovery_commands(settings.ack_wait_seconds), bind_table(handlers.COMMANDS, deps))
        ],
        queries=bind_queries(queries.QUERIES, deps),
    )
