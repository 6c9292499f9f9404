"""Schemathesis over the gateway's own /openapi.json, against the in-process app and the real
services (scheduler, router, delivery, reporting) on the test servers.

Bounded and reproducible: a few examples per operation, derandomized (a fixed seed per test),
no example database. Every response must be a non-5xx that conforms to what the OpenAPI
document declares for it: status code, content type, headers and body schema.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.integration.test_scheduler_api import BASE, schedule
from tests.support.harness import ADMIN_TOKEN, gateway_client, running_service
from tests.support.sink import Sink

EXAMPLES_PER_OPERATION = 20
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
Call = Callable[[dict[str, Any]], httpx.Response]


def fuzz(schema: Any, call: Call, seen: Counter[tuple[str, int]]) -> list[str]:
    """Run every operation's examples; returns one line per failing operation."""
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def run(case: Any) -> None:
            response = call(case.as_transport_kwargs(base_url="http://gateway.test"))
            seen[(case.operation.label, response.status_code)] += 1
            case.validate_response(response, checks=CHECKS)

        try:
            run()
        except BaseException as exc:  # hypothesis raises exception groups
            if isinstance(exc, KeyboardInterrupt):
                raise
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
    return failures


def request_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Schemathesis's requests-style kwargs as httpx's, signed in as the admin: the bearer scheme
    makes schemathesis generate Authorization headers, and the auth matrix (test_auth.py) covers
    refusals; here every request must reach its route."""
    allowed = {"method", "url", "params", "headers", "json", "content"}
    out = {k: v for k, v in kwargs.items() if k in allowed}
    headers = {k: v for k, v in (out.get("headers") or {}).items() if k.lower() != "authorization"}
    out["headers"] = {**headers, "Authorization": f"Bearer {ADMIN_TOKEN}"}
    if "data" in kwargs and kwargs["data"] is not None:
        out["content"] = kwargs["data"]
    return out


async def test_generated_requests_get_no_5xx_and_answers_that_match_the_openapi_document(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    async with Sink() as sink:
        config = tmp_path / "connectors.json"
        config.write_text(json.dumps({"connectors": {"webhook": {"type": "webhook", "url": sink.url}}}))
        async with (
            running_service("scheduler", nats_url, database_url),
            running_service("router", nats_url, database_url),
            running_service("delivery", nats_url, database_url, connector_config=str(config)),
            running_service("acknowledgement", nats_url, database_url, home=tmp_path),
            running_service("escalation", nats_url, database_url),
            running_service("reporting", nats_url, database_url),
            gateway_client(
                nats_url,
                database_url,
                command_wait_seconds=3,
                delivery_wait_seconds=3,
                slack_signing_secret="fuzz-slack-secret",
                ack_link_secret="fuzz-ack-link-secret",
            ) as api,
        ):
            seeded = await api.put(
                f"{BASE}/rollback-drill-schedules/seed",
                json=schedule(next_due_at="2026-10-01T00:00:00Z", notification_providers=["webhook"]),
            )
            assert seeded.status_code in (200, 201), seeded.text
            document = (await api.get("/openapi.json")).json()
            loop = asyncio.get_running_loop()

            def call(kwargs: dict[str, Any]) -> httpx.Response:
                request = api.request(**request_kwargs(kwargs))
                return asyncio.run_coroutine_threadsafe(request, loop).result(timeout=60)

            seen: Counter[tuple[str, int]] = Counter()
            failures = await asyncio.to_thread(fuzz, schemathesis.openapi.from_dict(document), call, seen)
    assert not failures, "\n\n".join(failures)
    print(sorted(seen.items()))
    succeeded = {label for (label, status), _ in seen.items() if status < 300}
    assert {
        f"PUT {BASE}/rollback-drill-schedules/{{schedule_id}}",
        f"POST {BASE}/rollback-drills",
    } <= succeeded
