"""The auth matrix against the real gateway, services, NATS and PostgreSQL: every mutating endpoint
(tests/support/endpoints.py) x every kind of credential -> the expected status, and on every refusal
nothing stored (the CAVRA_COMMANDS stream does not grow) and nothing sent (the sink stays empty)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest

from cavra_contracts.actors import Role, may
from cavra_contracts.envelope import Envelope, utc_now
from cavra_contracts.subjects import COMMAND_STREAM
from cavra_gateway.auth import PERMISSIONS
from tests.support.auth import Issuer, bearer, create_token, jwks_file, oidc_settings, revoke_token
from tests.support.endpoints import (
    MATRIX_SCHEDULE,
    MUTATING,
    OTHERWISE_AUTHENTICATED,
    PUBLIC_READS,
    Endpoint,
    schedule_body,
)
from tests.support.harness import ADMIN_TOKEN, eventually, gateway_client, running_service
from tests.support.sink import Sink


@dataclass(frozen=True)
class Caller:
    name: str
    headers: dict[str, str]
    role: Role | None
    """None: not authenticated (401)."""
    status: int | None = None
    """The refusal when it is not decided by the role (403 for a JWT that maps to no role)."""

    def expected(self, needed: Role) -> int | None:
        """401 / 403 for a refusal, None when the request must reach the route."""
        if self.status is not None:
            return self.status
        if self.role is None:
            return 401
        return None if may(self.role, needed) else 403


@dataclass
class World:
    api: httpx.AsyncClient
    sink: Sink
    nats_url: str
    callers: dict[str, Caller]
    token_ids: dict[str, str]

    async def commands(self) -> int:
        nc = await nats.connect(self.nats_url)
        try:
            return int((await nc.jetstream().stream_info(COMMAND_STREAM)).state.messages)
        finally:
            await nc.close()

    async def last_command(self) -> Envelope:
        nc = await nats.connect(self.nats_url)
        try:
            js = nc.jetstream()
            info = await js.stream_info(COMMAND_STREAM)
            return Envelope.from_json((await js.get_msg(COMMAND_STREAM, info.state.last_seq)).data or b"")
        finally:
            await nc.close()

    async def call(self, endpoint: Endpoint, caller: Caller, body: Any = None) -> httpx.Response:
        payload = endpoint.body if body is None else body
        return await self.api.request(endpoint.method, endpoint.path, json=payload, headers=caller.headers)


@asynccontextmanager
async def world(nats_url: str, database_url: str, tmp_path: Path) -> AsyncIterator[World]:
    issuer, stranger = Issuer(), Issuer()  # the stranger signs with its own key under the same kid
    roles: tuple[Role, ...] = ("viewer", "operator", "approver", "admin")
    tokens = {role: await create_token(nats_url, role, f"{role}-token") for role in roles}
    revoked, revoked_record = await create_token(nats_url, "admin", "revoked-admin")
    await revoke_token(nats_url, revoked_record.token_id)
    expired, _ = await create_token(
        nats_url, "admin", "expired-admin", expires_in_days=1, now=utc_now() - timedelta(days=2)
    )
    callers = [
        Caller("no credentials", {}, None),
        Caller("viewer token", bearer(tokens["viewer"][0]), "viewer"),
        Caller("operator token", bearer(tokens["operator"][0]), "operator"),
        Caller("approver token", bearer(tokens["approver"][0]), "approver"),
        Caller("admin token", bearer(tokens["admin"][0]), "admin"),
        Caller("bootstrap admin", bearer(ADMIN_TOKEN), "admin"),
        Caller("operator JWT", bearer(issuer.token()), "operator"),
        Caller("expired JWT", bearer(issuer.token(issued_ago=3600, lifetime=600)), None),
        Caller("JWT signed by another key", bearer(stranger.token(groups=["platform-admins"])), None),
        Caller("JWT with no mapped role", bearer(issuer.token(groups=["everyone"])), None, status=403),
        Caller("non-Bearer scheme", {"Authorization": "Basic YWRtaW46YWRtaW4="}, None),
        Caller("unknown API token", bearer("cavra_" + "A" * 43), None),
        Caller("revoked API token", bearer(revoked), None),
        Caller("expired API token", bearer(expired), None),
    ]
    async with Sink() as sink:
        config = tmp_path / "connectors.json"
        config.write_text(json.dumps({"connectors": {"webhook": {"type": "webhook", "url": sink.url}}}))
        settings = oidc_settings(jwks_file(tmp_path, issuer))
        async with (
            running_service("scheduler", nats_url, database_url),
            running_service("router", nats_url, database_url),
            running_service("delivery", nats_url, database_url, connector_config=str(config)),
            running_service("acknowledgement", nats_url, database_url, home=tmp_path),
            running_service("escalation", nats_url, database_url),
            running_service("reporting", nats_url, database_url),
            gateway_client(nats_url, database_url, token=None, **settings) as api,
        ):
            yield World(
                api,
                sink,
                nats_url,
                {caller.name: caller for caller in callers},
                {role: record.token_id for role, (_, record) in tokens.items()},
            )


async def test_every_refusal_is_401_or_403_and_stores_and_sends_nothing(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    async with world(nats_url, database_url, tmp_path) as w:
        refusals = 0
        for endpoint in MUTATING:
            for caller in w.callers.values():
                expected = caller.expected(endpoint.role)
                if expected is None:
                    continue
                before = await w.commands()
                response = await w.call(endpoint, caller)
                case = f"{endpoint.label} as {caller.name}"
                assert response.status_code == expected, f"{case}: {response.status_code} {response.text}"
                assert response.json()["detail"], case
                if expected == 401:
                    assert response.headers["www-authenticate"].startswith("Bearer"), case
                assert await w.commands() == before, f"{case} stored a command"
                refusals += 1
        assert refusals >= 9 * len(MUTATING)
        assert await w.commands() == 0
        assert not w.sink.bodies_seen, "a refused request sent something"


async def test_every_allowed_caller_reaches_the_route(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    async with world(nats_url, database_url, tmp_path) as w:
        for endpoint in MUTATING:
            for caller in w.callers.values():
                if caller.expected(endpoint.role) is not None:
                    continue
                response = await w.call(endpoint, caller)
                case = f"{endpoint.label} as {caller.name}"
                assert response.status_code not in (401, 403), f"{case}: {response.text}"
                assert response.status_code < 500, f"{case}: {response.text}"
        assert await w.commands() > 0


async def test_the_actor_overrides_the_names_in_the_request(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    async with world(nats_url, database_url, tmp_path) as w:
        operator = w.callers["operator token"]
        put = await w.api.put(
            f"/runtime/go-pilot/rollback-drill-schedules/{MATRIX_SCHEDULE}",
            json=schedule_body(),
            params={"requested_by": "mallory"},
            headers=operator.headers,
        )
        assert put.status_code == 201, put.text
        assert (await w.last_command()).payload["requested_by"] == "operator-token"

        jwt_caller = w.callers["operator JWT"]
        delivered = await w.api.post(
            "/runtime/go-pilot/rollback-drill-notifications/deliver",
            json={"schedule_id": MATRIX_SCHEDULE, "provider": "webhook", "generated_by": "mallory"},
            headers=jwt_caller.headers,
        )
        assert delivered.status_code == 200, delivered.text
        assert delivered.json()["plan"]["generated_by"] == "ana@example.test"
        assert (await w.last_command()).payload["generated_by"] == "ana@example.test"


async def test_a_claimed_identity_in_the_body_is_a_422_naming_the_field(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    claims = {"email": "ceo@example.test", "groups": ["platform-admins"]}
    async with world(nats_url, database_url, tmp_path) as w:
        for endpoint in MUTATING:
            assert endpoint.body is not None
            for field in ("actor_claims", "actor_token"):
                caller = w.callers[f"{endpoint.role} token"]  # approver rows (retry approvals) too
                response = await w.call(endpoint, caller, body={**endpoint.body, field: claims})
                assert response.status_code == 422, f"{endpoint.label}: {response.text}"
                assert field in [e["field"] for e in response.json()["errors"]], endpoint.label
        assert await w.commands() == 0


async def test_every_read_needs_a_viewer_and_the_public_ones_nothing(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    async with world(nats_url, database_url, tmp_path) as w:
        document = (await w.api.get("/openapi.json")).json()
        assert (await w.api.get("/docs")).status_code == 200
        reads = [
            path
            for path, item in document["paths"].items()
            if "get" in item and f"GET {path}" not in OTHERWISE_AUTHENTICATED
        ]
        assert len(reads) >= 8
        for path in reads:
            concrete = path.replace("{plan_id}", "gordn-0000000000000000")
            anonymous = await w.api.get(concrete)
            if path in PUBLIC_READS:
                assert anonymous.status_code == 200, path
                continue
            assert anonymous.status_code == 401, f"{path}: {anonymous.text}"
            viewer = await w.api.get(concrete, headers=w.callers["viewer token"].headers)
            assert viewer.status_code not in (401, 403) and viewer.status_code < 500, f"{path}: {viewer.text}"


async def test_the_session_says_who_the_caller_is_and_what_they_may_do(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    async with world(nats_url, database_url, tmp_path) as w:
        anonymous = (await w.api.get("/console/session")).json()
        assert anonymous["schema_version"] == "cavra.console.session.v1"
        assert (anonymous["mode"], anonymous["authenticated"], anonymous["auth_required"]) == (
            "auth_required",
            False,
            True,
        )
        assert anonymous["actor"] is None and not any(anonymous["permissions"].values())
        assert set(anonymous["permissions"]) == set(PERMISSIONS)

        for name in (
            "viewer token",
            "operator token",
            "approver token",
            "admin token",
            "bootstrap admin",
            "operator JWT",
        ):
            caller = w.callers[name]
            assert caller.role is not None
            session = (await w.api.get("/console/session", headers=caller.headers)).json()
            assert (session["mode"], session["authenticated"], session["role"]) == (
                "authenticated",
                True,
                caller.role,
            )
            assert session["permissions"] == {a: may(caller.role, r) for a, r in PERMISSIONS.items()}, name
        jwt_session = (await w.api.get("/console/session", headers=w.callers["operator JWT"].headers)).json()
        assert jwt_session["actor"]["actor"] == "ana@example.test"
        assert jwt_session["actor"]["method"] == "oidc"
        assert jwt_session["actor"]["groups"] == ["release-managers"]
        token_session = (
            await w.api.get("/console/session", headers=w.callers["viewer token"].headers)
        ).json()
        assert token_session["actor"]["token_id"] == w.token_ids["viewer"]

        for name in ("revoked API token", "expired JWT", "non-Bearer scheme"):
            refused = await w.api.get("/console/session", headers=w.callers[name].headers)
            assert refused.status_code == 401, name
        no_role = await w.api.get("/console/session", headers=w.callers["JWT with no mapped role"].headers)
        assert no_role.status_code == 403


async def test_tokens_made_and_revoked_while_the_gateway_runs_take_effect_within_about_a_second(
    nats_url: str, database_url: str
) -> None:
    async with gateway_client(nats_url, database_url, token=None) as api:
        token, record = await create_token(nats_url, "viewer", "late-viewer")
        started = time.monotonic()

        async def status() -> int:
            return (await api.get("/console/session", headers=bearer(token))).status_code

        async def accepted() -> bool:
            return await status() == 200

        async def refused() -> bool:
            return await status() == 401

        await eventually(accepted, timeout=5, what="a new token to be accepted")
        created_after = time.monotonic() - started
        await revoke_token(nats_url, record.token_id)
        started = time.monotonic()
        await eventually(refused, timeout=5, what="a revoked token to be refused")
        revoked_after = time.monotonic() - started
        print(
            f"token accepted after {created_after * 1000:.0f} ms, refused after {revoked_after * 1000:.0f} ms"
        )
        detail = (await api.get("/console/session", headers=bearer(token))).json()["detail"]
        assert detail == f"API token {record.token_id} is revoked"


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "Token abc", "bearer " + "x" * 9000])
async def test_malformed_authorization_headers_are_401(nats_url: str, database_url: str, header: str) -> None:
    async with gateway_client(nats_url, database_url, token=None) as api:
        response = await api.get(
            "/runtime/go-pilot/rollback-drill-schedules", headers={"Authorization": header}
        )
        assert response.status_code == 401, response.text
        assert response.headers["www-authenticate"].startswith("Bearer")
