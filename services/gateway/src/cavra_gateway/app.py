"""The FastAPI application: routes, error handlers, body limits, and the lifespan that owns the NATS
connection, the idempotency records and the API token index."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse

from cavra_gateway import console as evidence_console
from cavra_gateway.auth import Authenticator
from cavra_gateway.auth.oidc import OidcConfig, OidcVerifier
from cavra_gateway.auth.openapi import declare_auth_responses
from cavra_gateway.auth.tokens import SPEC as TOKENS_SPEC
from cavra_gateway.auth.tokens import TokenIndex
from cavra_gateway.console.live import LiveFeed
from cavra_gateway.console.sessions import SessionStore
from cavra_gateway.console.sessions import bucket_spec as session_bucket
from cavra_gateway.deps import GatewayState
from cavra_gateway.errors import on_request_validation_error
from cavra_gateway.idempotency import IdempotencyStore, bucket_spec
from cavra_gateway.limits import BodyLimits
from cavra_gateway.outcomes import OutcomeWaiter
from cavra_gateway.routes import (
    ack_links,
    acknowledgements,
    audit,
    console,
    escalations,
    executive,
    health,
    health_alerts,
    history,
    notifications,
    schedules,
    slack,
)
from cavra_gateway.routes import approvals as retry_approvals
from cavra_gateway.routes import recovery as recovery_routes
from cavra_gateway.routes import retries as retry_routes
from cavra_gateway.settings import GatewaySettings
from cavra_runtime.bus import Bus, ensure_bucket


def oidc_verifier(settings: GatewaySettings) -> OidcVerifier | None:
    """The JWT verifier CAVRA_OIDC_* configure, or None (a broken JWKS file fails the start)."""
    if not settings.oidc_enabled:
        return None
    assert settings.oidc_issuer and settings.oidc_audience and settings.oidc_jwks_file
    return OidcVerifier(
        OidcConfig(
            issuer=settings.oidc_issuer,
            audience=settings.oidc_audience,
            jwks_file=settings.oidc_jwks_file,
            role_claim=settings.oidc_role_claim,
            role_map=settings.oidc_role_map,
            leeway_seconds=settings.oidc_leeway_seconds,
        )
    )


def create_app(settings: GatewaySettings) -> FastAPI:
    oidc = oidc_verifier(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        bus = await Bus.connect(settings.nats_url, name=f"cavra-gateway-{settings.instance_id}")
        await bus.ensure_streams()
        idempotency = IdempotencyStore(await ensure_bucket(bus, bucket_spec(settings)), settings)
        tokens = TokenIndex(await ensure_bucket(bus, TOKENS_SPEC))
        await tokens.start()
        auth = Authenticator(bootstrap=settings.bootstrap_admin_token, tokens=tokens, oidc=oidc)
        outcomes = OutcomeWaiter()
        await bus.listen("cavra.evt.>", outcomes.observe, wanted=outcomes.wanted)
        lifetime = timedelta(hours=settings.console_session_hours)
        sessions = SessionStore(await ensure_bucket(bus, session_bucket(lifetime)), lifetime)
        app.state.gateway = GatewayState(settings, bus, outcomes, idempotency, auth, sessions)
        app.state.live = live = LiveFeed(bus, settings)
        await live.start()
        try:
            yield
        finally:
            await live.close()
            await idempotency.close()
            await tokens.close()
            await bus.close()

    app = FastAPI(
        title="CAVRA Drill Ops",
        version="0.1.0",
        description="Governed rollback drills for the CAVRA Go runtime backend. "
        "Mutations are commands on JetStream; the gateway waits a bounded time for their outcome "
        "and answers 202 with a poll URL when it does not arrive in time. "
        "Every route but /healthz, /readyz, /docs and /openapi.json needs a bearer credential "
        "(an API token or an OIDC JWT): reads need the viewer role, mutations operator or more.",
        lifespan=lifespan,
    )
    app.add_exception_handler(RequestValidationError, on_request_validation_error)
    app.add_middleware(BodyLimits, max_bytes=settings.max_body_bytes, max_depth=settings.max_json_depth)
    app.include_router(health.router)
    app.include_router(schedules.router)
    app.include_router(notifications.router)
    app.include_router(escalations.router)
    app.include_router(history.router)
    app.include_router(console.router)
    app.include_router(acknowledgements.router)
    app.include_router(slack.router)
    app.include_router(ack_links.router)
    app.include_router(audit.router)
    app.include_router(executive.router)

    app.include_router(health_alerts.router)

    app.include_router(recovery_routes.router)

    app.include_router(retry_routes.router)
    app.include_router(retry_approvals.router)
    declare_auth_responses(app)
    evidence_console.install(app)

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/docs")

    return app
