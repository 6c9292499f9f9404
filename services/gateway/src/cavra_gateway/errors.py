"""Error bodies: every 4xx names the offending fields; their OpenAPI declaration."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError


class FieldProblem(BaseModel):
    """One offending field: dotted path (``owners.0``, ``query.limit``, ``header.idempotency-key``)."""

    field: str
    message: str


class Problem(BaseModel):
    """Every error body. ``errors`` is absent when the error concerns no field."""

    detail: str
    errors: list[FieldProblem] = []


ERROR_DESCRIPTIONS = {
    400: "The request cannot be served as configured (e.g. no connector for a provider).",
    404: "A named schedule or plan does not exist.",
    409: "The first request with this Idempotency-Key is still running; retry after `Retry-After`.",
    413: "The body is past CAVRA_MAX_BODY_BYTES, or the command past the bus's max_payload.",
    422: "Invalid request; `errors` names every offending field (also: Idempotency-Key reused "
    "with another request, JSON nested too deep).",
    503: "A service did not answer, or the message bus is unavailable.",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for ``codes``, all with the :class:`Problem` body."""
    return {code: {"model": Problem, "description": ERROR_DESCRIPTIONS[code]} for code in codes}


def field_name(loc: Sequence[Any], *, drop_body: bool = True) -> str:
    parts = [str(p) for p in loc]
    if drop_body and parts and parts[0] == "body":
        parts = parts[1:]
    return ".".join(parts) or "body"


def problem_response(status_code: int, title: str, problems: Iterable[dict[str, str]]) -> JSONResponse:
    """``{"detail": "<title>: field: message; …", "errors": [{"field", "message"}]}``."""
    items = list(problems)
    summary = "; ".join(f"{p['field']}: {p['message']}" for p in items)
    return JSONResponse(
        status_code=status_code,
        content={"detail": f"{title}: {summary}" if summary else title, "errors": items},
    )


def validation_problems(exc: ValidationError | RequestValidationError) -> list[dict[str, str]]:
    return [{"field": field_name(e["loc"]), "message": e["msg"]} for e in exc.errors()]


async def on_request_validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return problem_response(422, "invalid request", validation_problems(exc))


def rejection_response(status_code: int, problems: Iterable[Any]) -> JSONResponse:
    """A service's rejection event (``FieldProblem`` items) as an error body with its status."""
    return problem_response(
        status_code, "rejected", [{"field": p.field, "message": p.message} for p in problems]
    )
