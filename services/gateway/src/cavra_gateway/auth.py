"""Who is calling: FastAPI dependencies that resolve a verified :class:`ActorV1` with a role.

``Viewer``, ``Operator``, ``Approver`` and ``Admin`` are the dependencies routes declare; each answers
401 without valid credentials and 403 when the caller's role is too weak, before the route runs (so
nothing is stored or sent on a refusal).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from cavra_contracts.actors import ActorV1, may
from cavra_gateway.deps import gateway_state

BEARER = "bearer"


def _credentials(request: Request) -> str:
    header = request.headers.get("authorization")
    if not header:
        raise HTTPException(
            401, "credentials required: Authorization: Bearer <token>", headers={"WWW-Authenticate": "Bearer"}
        )
    scheme, _, token = header.partition(" ")
    if scheme.lower() != BEARER or not token.strip():
        raise HTTPException(
            401, "authorization header must use Bearer token", headers={"WWW-Authenticate": "Bearer"}
        )
    return token.strip()


async def resolve_actor(request: Request) -> ActorV1:
    """The verified actor of this request (401 when there is none)."""
    token = _credentials(request)
    bootstrap = gateway_state(request).settings.bootstrap_admin_token
    if bootstrap and hmac.compare_digest(token.encode(), bootstrap.get_secret_value().encode()):
        return ActorV1(actor="bootstrap-admin", role="admin", method="bootstrap", subject="bootstrap")
    raise HTTPException(401, "unknown or revoked token", headers={"WWW-Authenticate": "Bearer"})


def require(role: str) -> Callable[[Request], Awaitable[ActorV1]]:
    """A dependency that resolves the actor and refuses (403) a role weaker than ``role``."""

    async def dependency(request: Request) -> ActorV1:
        actor = await resolve_actor(request)
        if not may(actor.role, role):
            raise HTTPException(403, f"role {actor.role} may not do this: {role} required")
        return actor

    dependency.__name__ = f"require_{role}"
    return dependency


Viewer = Annotated[ActorV1, Depends(require("viewer"))]
Operator = Annotated[ActorV1, Depends(require("operator"))]
Approver = Annotated[ActorV1, Depends(require("approver"))]
Admin = Annotated[ActorV1, Depends(require("admin"))]
