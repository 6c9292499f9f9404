"""Liveness and readiness."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from cavra_contracts.envelope import make_envelope
from cavra_contracts.queries import HealthQueryV1, health_subject
from cavra_gateway import SERVICE
from cavra_gateway.api_models import Readiness
from cavra_gateway.deps import GatewayState, State

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The gateway process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


async def _database(state: GatewayState) -> str:
    try:
        conn = await asyncpg.connect(state.settings.database_url, timeout=2)
    except Exception as exc:
        return f"error: {type(exc).__name__}"
    try:
        await conn.fetchval("SELECT 1")
    finally:
        await conn.close()
    return "ok"


async def _service(state: GatewayState, service: str) -> dict[str, Any]:
    envelope = make_envelope(HealthQueryV1(), producer=SERVICE).model_copy(
        update={"type": health_subject(service)}
    )
    try:
        reply = await state.bus.request(envelope, timeout=2.0)
    except TimeoutError:
        return {"status": "not answering"}
    return reply.result or {"status": "error", "error": reply.error}


@router.get(
    "/readyz",
    summary="NATS, PostgreSQL and every service answer (200 ready or degraded, 503 not_ready)",
    responses={200: {"model": Readiness}, 503: {"model": Readiness, "description": "Not ready"}},
)
async def readyz(state: State) -> JSONResponse:
    services = await asyncio.gather(*(_service(state, name) for name in state.settings.services))
    checks: dict[str, Any] = {
        "nats": "ok" if state.bus.connected else "disconnected",
        "database": await _database(state),
        "services": dict(zip(state.settings.services, services, strict=True)),
    }
    statuses = [s.get("status") for s in checks["services"].values()]
    serving = (
        checks["nats"] == "ok"
        and checks["database"] == "ok"
        and all(status in ("ok", "degraded") for status in statuses)
    )
    if not serving:
        return JSONResponse(status_code=503, content={"status": "not_ready", **checks})
    # Degraded (an outbox behind or a row set aside) still serves: 200, but says so.
    status = "degraded" if "degraded" in statuses else "ready"
    return JSONResponse(status_code=200, content={"status": status, **checks})
