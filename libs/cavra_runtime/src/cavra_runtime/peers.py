"""What a service asks another over request/reply and several services ask alike.

:class:`BusConnectors` asks the delivery service which providers a connector serves
(``ConnectorsQueryV1``), so a service can refuse a provider nothing would deliver to before it
stores or enqueues anything.
"""

from __future__ import annotations

from dataclasses import dataclass

from cavra_contracts.envelope import make_envelope
from cavra_contracts.notifications import ConnectorsQueryV1
from cavra_runtime.ports import MessageBus


@dataclass
class BusConnectors:
    """The delivery service's connector list, asked over NATS request/reply by ``producer``."""

    bus: MessageBus
    timeout: float
    producer: str

    async def routable_providers(self) -> list[str] | None:
        """Routable providers; None when no connector config is loaded. TimeoutError when unanswered."""
        reply = await self.bus.request(
            make_envelope(ConnectorsQueryV1(), producer=self.producer), timeout=self.timeout
        )
        if not reply.ok or not reply.result or not reply.result.get("configured"):
            return None
        return [str(name) for name in reply.result.get("routable_providers", [])]


__all__ = ["BusConnectors"]
