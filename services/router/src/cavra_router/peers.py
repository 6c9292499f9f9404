"""What the router asks other services (an injected protocol, so handlers stay free of NATS)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class ReportAnswer:
    """The scheduler's answer: a report, or an HTTP-like error."""

    status_code: int
    report: dict[str, Any] | None = None
    error: str | None = None


class Peers(Protocol):
    async def schedule_report(self, schedule_id: str | None) -> ReportAnswer:
        """The scheduler's current report of one schedule (raises TimeoutError if it does not answer)."""
        ...

    async def configured_providers(self) -> list[str] | None:
        """Names of the connectors the delivery service has; None when it cannot be asked now."""
        ...
