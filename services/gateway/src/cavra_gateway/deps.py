"""FastAPI dependencies: the live bus, settings, outcome waiter and idempotency records, held by
the app's lifespan."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from cavra_gateway.outcomes import OutcomeWaiter
from cavra_gateway.settings import GatewaySettings
from cavra_runtime.ports import MessageBus

if TYPE_CHECKING:
    from cavra_gateway.idempotency import IdempotencyStore


@dataclass
class GatewayState:
    settings: GatewaySettings
    bus: MessageBus
    outcomes: OutcomeWaiter
    idempotency: IdempotencyStore


def gateway_state(request: Request) -> GatewayState:
    state: GatewayState = request.app.state.gateway
    return state


State = Annotated[GatewayState, Depends(gateway_state)]
