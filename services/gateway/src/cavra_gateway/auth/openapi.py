"""The OpenAPI document declares the bearer scheme (through the dependencies) and, on every
operation that needs it, the 401 and 403 answers — for routers added later as well."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

PROBLEM = "#/components/schemas/Problem"
UNAUTHORIZED = (
    "No credentials, or an unknown, revoked or expired token, a JWT that does not verify, "
    "or a scheme other than Bearer. Nothing was stored or sent."
)
FORBIDDEN = "The caller's role may not do this (or a valid JWT maps to no role). Nothing was stored or sent."


def declare_auth_responses(app: FastAPI) -> None:
    """Wrap ``app.openapi`` so secured operations list 401 (with ``WWW-Authenticate``) and 403."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        body: dict[str, Any] = {"application/json": {"schema": {"$ref": PROBLEM}}}
        if PROBLEM.rsplit("/", 1)[-1] not in schema.get("components", {}).get("schemas", {}):
            body = {"application/json": {"schema": {"type": "object"}}}
        challenge = {"WWW-Authenticate": {"description": "Bearer challenge", "schema": {"type": "string"}}}
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                if not isinstance(operation, dict) or not operation.get("security"):
                    continue
                responses = operation.setdefault("responses", {})
                responses.setdefault(
                    "401", {"description": UNAUTHORIZED, "headers": challenge, "content": body}
                )
                responses.setdefault("403", {"description": FORBIDDEN, "content": body})
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
