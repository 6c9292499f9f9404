"""API tokens without a server: their shape and hash, record states, roles and permissions."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest

from cavra_contracts.actors import ROLES, may, role_rank
from cavra_contracts.envelope import utc_now
from cavra_gateway.auth import PERMISSIONS, permissions_of
from cavra_gateway.auth.tokens import TOKEN_PREFIX, TokenRecord, new_token, token_hash


def test_a_token_is_a_prefixed_256_bit_secret_and_is_kept_as_its_sha256() -> None:
    tokens = {new_token() for _ in range(1000)}
    assert len(tokens) == 1000
    token = tokens.pop()
    assert token.startswith(TOKEN_PREFIX) and len(token) == len(TOKEN_PREFIX) + 43
    assert token_hash(token) == hashlib.sha256(token.encode()).hexdigest()
    assert len(token_hash(token)) == 64 and token not in token_hash(token)
    assert token_hash(token) != token_hash(token + "x")


def test_roles_rise_from_viewer_to_admin() -> None:
    assert ROLES == ("viewer", "operator", "approver", "admin")
    assert [role_rank(role) for role in ROLES] == [0, 1, 2, 3]
    assert may("admin", "viewer") and may("operator", "operator") and may("approver", "operator")
    assert not may("viewer", "operator") and not may("operator", "approver") and not may("approver", "admin")
    with pytest.raises(ValueError):
        role_rank("root")


def test_a_record_is_active_until_it_expires_or_is_revoked() -> None:
    now = utc_now()
    record = TokenRecord(
        token_id="tok_1",
        name="ci",
        role="operator",
        created_at=now,
        created_by="t",
        expires_at=now + timedelta(1),
    )
    assert record.state(now) == "active"
    assert record.state(now + timedelta(days=1)) == "expired"
    assert record.model_copy(update={"revoked_at": now}).state(now) == "revoked"
    actor = record.actor()
    assert (actor.actor, actor.role, actor.method, actor.token_id) == ("ci", "operator", "api_token", "tok_1")
    assert b"cavra_" not in record.encode()


@pytest.mark.parametrize("name", ["", "x" * 201, "line\nbreak"])
def test_a_token_name_is_bounded_printable_text(name: str) -> None:
    with pytest.raises(ValueError):
        TokenRecord(token_id="tok_1", name=name, role="viewer", created_at=utc_now(), created_by="t")


def test_permissions_name_every_action_with_its_least_role() -> None:
    assert set(PERMISSIONS.values()) <= set(ROLES)
    assert PERMISSIONS["view"] == "viewer"
    assert PERMISSIONS["approve_retries"] == "approver"
    assert PERMISSIONS["manage_tokens"] == "admin"
    assert not any(permissions_of(None).values())
    assert permissions_of("viewer") == {action: action == "view" for action in PERMISSIONS}
    operator = permissions_of("operator")
    assert operator["acknowledge_drill_notifications"] and not operator["approve_retries"]
    assert all(permissions_of("admin").values())
