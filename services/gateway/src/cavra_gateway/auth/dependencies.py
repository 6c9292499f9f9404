"""Who is calling: FastAPI dependencies that resolve a verified :class:`ActorV1` with a role.

``Viewer``, ``Operator``, ``Approver`` and ``Admin`` are the dependencies routes declare; each answers
401 without valid credentials and 403 when the caller's role is too weak, before the route runs (so
nothing is stored or sent on a refusal). A credential is, in this order: the bootstrap admin token
(``CAVRA_BOOTSTRAP_ADMIN_TOKEN``, compared in constant time), an API token (``cavra_…``, checked
against the in-memory index of ``CAVRA_API_TOKENS``), or an OIDC JWT when OIDC is configured.
An identity claimed in a request body is never one. The Evidence Console calls the API in-process
for its signed-in user: that actor travels in the ASGI scope (:data:`IN_PROCESS_ACTOR`), which no HTTP
client can set.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any, Final

import structlog
from fastapi import Depends, HTTPException, Request, Security
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

from cavra_contracts.actors import ActorV1, Role, may
from cavra_contracts.envelope import utc_now
from cavra_gateway.auth.oidc import InvalidToken, NoRole, OidcVerifier, looks_like_jwt
from cavra_gateway.auth.tokens import MAX_TOKEN_LENGTH, TOKEN_PREFIX, TokenIndex
from cavra_gateway.deps import state_of
from cavra_gateway.errors import problem_response

log = structlog.get_logger()

BEARER: Final = "bearer"
REALM: Final = 'Bearer realm="cavra"'
IN_PROCESS_ACTOR: Final = "cavra.console.actor"
"""ASGI scope key of an actor the console verified from its session (see ``cavra_gateway.console.api``)."""
CLAIMED_IDENTITY_FIELDS: Final = ("actor_claims", "actor_token")
"""Body fields the original trusted as an identity (spec §9); here they are refused with 422."""

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="An API token (`cavra tokens create`), the bootstrap admin token, or an OIDC JWT "
    "when CAVRA_OIDC_* is configured.",
)

BEARER_CREDENTIALS = Security(bearer_scheme)
"""Declares the bearer scheme on a route (OpenAPI); the credential itself is read by ``credentials``."""


class Authenticator:
    """Turns a bearer credential into an actor; no I/O (the token index is kept in memory)."""

    def __init__(self, *, bootstrap: SecretStr | None, tokens: TokenIndex, oidc: OidcVerifier | None) -> None:
        self._bootstrap = bootstrap.get_secret_value().encode() if bootstrap else None
        self._tokens = tokens
        self._oidc = oidc

    @property
    def oidc_enabled(self) -> bool:
        return self._oidc is not None

    def authenticate(self, token: str) -> ActorV1:
        """The actor of ``token``; ``HTTPException`` 401 (not valid) or 403 (valid, no role)."""
        if len(token) > MAX_TOKEN_LENGTH:
            raise _unauthorized(f"credential longer than {MAX_TOKEN_LENGTH} characters", invalid=True)
        if self._bootstrap and hmac.compare_digest(token.encode(), self._bootstrap):
            return ActorV1(actor="bootstrap-admin", role="admin", method="bootstrap", subject="bootstrap")
        if token.startswith(TOKEN_PREFIX):
            indexed = self._tokens.lookup(token)
            if indexed is None:
                raise _unauthorized("unknown API token", invalid=True)
            state = indexed.record.state(utc_now())
            if state != "active":
                raise _unauthorized(f"API token {indexed.record.token_id} is {state}", invalid=True)
            return indexed.actor
        if looks_like_jwt(token):
            if self._oidc is None:
                raise _unauthorized("OIDC is not configured: JWTs are not accepted", invalid=True)
            try:
                return self._oidc.verify(token)
            except InvalidToken as exc:
                raise _unauthorized(str(exc), invalid=True) from exc
            except NoRole as exc:
                raise HTTPException(403, str(exc)) from exc
        raise _unauthorized("unknown token", invalid=True)


    def still_valid(self, method: str, credential_hash: str) -> bool:
        """Does the credential a console session was opened with still verify? An API token must be
        neither revoked nor expired, the bootstrap token still the configured one; an OIDC session ends
        at its JWT's expiry, which the session itself carries."""
        if method == "bootstrap":
            return self._bootstrap is not None and hmac.compare_digest(
                hashlib.sha256(self._bootstrap).hexdigest(), credential_hash
            )
        if method == "api_token":
            indexed = self._tokens.lookup_hash(credential_hash)
            return indexed is not None and indexed.record.state(utc_now()) == "active"
        return method == "oidc" and self._oidc is not None


def _unauthorized(message: str, *, invalid: bool = False) -> HTTPException:
    challenge = f'{REALM}, error="invalid_token"' if invalid else REALM
    return HTTPException(401, message, headers={"WWW-Authenticate": challenge})


def credentials(request: Request) -> str | None:
    """The bearer token of ``request``; None without an Authorization header; 401 for another scheme."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != BEARER or not token.strip():
        raise _unauthorized("authorization header must use Bearer token", invalid=True)
    return token.strip()


async def resolve_actor(request: Request) -> ActorV1:
    """The verified actor of this request (401 when there is none, 403 for a JWT without a role)."""
    actor = await optional_actor(request)
    if actor is None:
        raise _unauthorized("credentials required: Authorization: Bearer <token>")
    return actor


async def optional_actor(request: Request) -> ActorV1 | None:
    """The verified actor, or None when the request carries no credentials at all."""
    in_process = request.scope.get(IN_PROCESS_ACTOR)
    if isinstance(in_process, ActorV1):
        return in_process
    token = credentials(request)
    if token is None:
        return None
    authenticator = state_of(request).auth
    if authenticator is None:
        raise HTTPException(503, "authentication is not available")
    try:
        return authenticator.authenticate(token)
    except HTTPException as exc:
        log.info("auth.refused", status=exc.status_code, reason=exc.detail, path=request.url.path)
        raise


def require(role: Role) -> Callable[..., Awaitable[ActorV1]]:
    """A dependency that resolves the actor and refuses (403) a role weaker than ``role``."""

    async def dependency(
        request: Request,
        _: HTTPAuthorizationCredentials | None = BEARER_CREDENTIALS,
    ) -> ActorV1:
        actor = await resolve_actor(request)
        if not may(actor.role, role):
            log.info("auth.forbidden", role=actor.role, needed=role, path=request.url.path)
            raise HTTPException(
                403,
                f"role {actor.role} may not do this: {role} required",
                headers={"WWW-Authenticate": f'{REALM}, error="insufficient_scope"'},
            )
        return actor

    dependency.__name__ = f"require_{role}"
    return dependency


def refuse_claimed_identity(body: Mapping[str, Any]) -> JSONResponse | None:
    """422 naming a body field that claims an identity (the actor comes from the credentials only)."""
    claimed = [name for name in CLAIMED_IDENTITY_FIELDS if name in body]
    if not claimed:
        return None
    message = "not accepted: the actor comes from the Authorization header only"
    return problem_response(422, "invalid request", [{"field": name, "message": message} for name in claimed])


Viewer = Annotated[ActorV1, Depends(require("viewer"))]
Operator = Annotated[ActorV1, Depends(require("operator"))]
Approver = Annotated[ActorV1, Depends(require("approver"))]
Admin = Annotated[ActorV1, Depends(require("admin"))]
