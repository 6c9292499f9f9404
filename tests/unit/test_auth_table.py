"""The OpenAPI document, the matrix table and the docs agree on who may do what."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from cavra_gateway.app import create_app
from cavra_gateway.auth import PERMISSIONS
from cavra_gateway.settings import GatewaySettings
from tests.support.endpoints import MUTATING, OTHERWISE_AUTHENTICATED, PUBLIC_READS

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return create_app(GatewaySettings()).openapi()


def operations(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        f"{method.upper()} {path}": operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }


def test_every_mutating_route_is_in_the_auth_matrix(document: dict[str, Any]) -> None:
    mutating = {label for label in operations(document) if not label.startswith("GET ")}
    listed = {endpoint.label for endpoint in MUTATING}
    assert mutating - OTHERWISE_AUTHENTICATED == listed, "add the endpoint to tests/support/endpoints.py"


def test_each_matrix_row_needs_the_role_of_its_permission() -> None:
    for endpoint in MUTATING:
        assert PERMISSIONS[endpoint.permission] == endpoint.role, endpoint.label


def test_the_bearer_scheme_is_declared_and_secured_operations_answer_401_and_403(
    document: dict[str, Any],
) -> None:
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": document["components"]["securitySchemes"]["bearer"]["description"],
    }
    for label, operation in operations(document).items():
        path = label.split(" ", 1)[1]
        if path in PUBLIC_READS - {"/console/session"} or label in OTHERWISE_AUTHENTICATED:
            assert "security" not in operation, label
            continue
        assert operation["security"] == [{"bearer": []}], label
        assert {"401", "403"} <= set(operation["responses"]), label
        assert "WWW-Authenticate" in operation["responses"]["401"]["headers"], label


def test_docs_list_every_permission_with_its_role() -> None:
    rows = dict(re.findall(r"^\| `([a-z_]+)` \| (viewer|operator|approver|admin) \|", DOCS.read_text(), re.M))
    assert rows == PERMISSIONS
