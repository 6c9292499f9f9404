"""What executive reports ask other services: the recovery report (delivery service) and which
providers a connector serves (``cavra_runtime.peers.BusConnectors``). Both are ports, so handler
tests answer them in memory."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from cavra_contracts.envelope import make_envelope
from cavra_contracts.recovery import RecoveryReportQueryV1
from cavra_runtime.ports import MessageBus

from .report import RecoveryAnswer
from .windows import Window

PRODUCER = "reporting"


class RecoverySourceUnavailable(Exception):
    """The recovery source did not answer, or answered with an error."""


class RecoveryReports(Protocol):
    async def recovery(
        self, *, recovery_slo_minutes: int, at: datetime, window: Window, generated_by: str
    ) -> RecoveryAnswer:
        """The recovery report as of ``at``, with statistics over ``window``."""


class Connectors(Protocol):
    async def routable_providers(self) -> list[str] | None:
        """The providers a connector serves; None when no connector config is loaded."""


@dataclass
class BusRecoveryReports:
    """``RecoveryReportQueryV1`` over NATS request/reply, bounded by ``timeout``."""

    bus: MessageBus
    timeout: float

    async def recovery(
        self, *, recovery_slo_minutes: int, at: datetime, window: Window, generated_by: str
    ) -> RecoveryAnswer:
        query = RecoveryReportQueryV1(
            recovery_slo_minutes=recovery_slo_minutes,
            at=at,
            window_start=window.start,
            window_end=window.end,
            generated_by=generated_by,
        )
        try:
            reply = await self.bus.request(make_envelope(query, producer=PRODUCER), timeout=self.timeout)
        except Exception as exc:  # no responder, timeout, connection lost
            raise RecoverySourceUnavailable(type(exc).__name__) from exc
        if not reply.ok:
            raise RecoverySourceUnavailable(reply.error or "recovery report query failed")
        result: dict[str, Any] = reply.result or {}
        return RecoveryAnswer.of(result)
