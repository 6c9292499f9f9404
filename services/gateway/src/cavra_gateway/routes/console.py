"""The console's view of the caller: ``GET /console/session`` (``cavra.console.session.v1``)."""

from __future__ import annotations

from typing import Final, Literal

from fastapi import APIRouter, Request
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel

from cavra_contracts.actors import ActorV1, Role
from cavra_gateway.auth import optional_actor, permissions_of
from cavra_gateway.auth.dependencies import BEARER_CREDENTIALS
from cavra_gateway.errors import error_responses

SESSION_SCHEMA: Final = "cavra.console.session.v1"
PRODUCT: Final = "CAVRA"

router = APIRouter(prefix="/console", tags=["console"], responses=error_responses(503))


class Session(BaseModel):
    """Who the caller is and what they may do; without credentials ``authenticated`` is false."""

    schema_version: Literal["cavra.console.session.v1"] = SESSION_SCHEMA
    product: str = PRODUCT
    mode: Literal["authenticated", "auth_required"]
    authenticated: bool
    auth_required: bool
    actor: ActorV1 | None
    role: Role | None
    permissions: dict[str, bool]


@router.get(
    "/session",
    summary="The caller, the role and every action with whether it is allowed (cavra.console.session.v1)",
    description="Answers 200 without credentials (authenticated false, every permission false) so a "
    "sign-in page can ask; credentials that do not verify are 401.",
    response_model=Session,
)
async def session(request: Request, _: HTTPAuthorizationCredentials | None = BEARER_CREDENTIALS) -> Session:
    actor = await optional_actor(request)
    return Session(
        mode="authenticated" if actor else "auth_required",
        authenticated=actor is not None,
        auth_required=True,
        actor=actor,
        role=actor.role if actor else None,
        permissions=permissions_of(actor.role if actor else None),
    )
