"""FastAPI dependencies: the live bus, settings, outcome waiter, idempotency records and the
authenticator, held by the app's lifespan."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from cavra_gateway.outcomes import OutcomeWaiter
from cavra_gateway.settings import GatewaySettings
from cavra_runtime.ports import MessageBus

if TYPE_CHECKING:
    from cavra_gateway.auth import Authenticator
    from cavra_gateway.console.sessions import SessionStore
    from cavra_gateway.idempotency import IdempotencyStore


@dataclass
class GatewayState:
    settings: GatewaySettings
    bus: MessageBus
    outcomes: OutcomeWaiter
    idempotency: IdempotencyStore
    auth: Authenticator | None = None
    """None only in tests that build a state by hand: every credential is then refused (503)."""
    console_sessions: SessionStore | None = None


def state_of(request: Request) -> GatewayState:
    """The gateway's live state, held by the app's lifespan."""
    state: GatewayState = request.app.state.gateway
    return state


async def gateway_state(request: Request) -> GatewayState:
    """FastAPI dependency: :func:`state_of` (``async``: FastAPI runs a plain ``def`` dependency in its
    thread pool, a hand-off that cost ~20% of the gateway's CPU per acknowledgement POST)."""
    return state_of(request)


State = Annotated[GatewayState, Depends(gateway_state)]
