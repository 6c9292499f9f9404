"""OIDC JWT verification, offline: keys made here, a JWKS file in tmp_path, no network."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from cavra_gateway.auth.oidc import InvalidToken, NoRole, OidcConfig, OidcVerifier, looks_like_jwt
from tests.support.auth import AUDIENCE, ISSUER, ROLE_MAP, Issuer, jwks_file


def verifier(path: Path, **changes: Any) -> OidcVerifier:
    values: dict[str, Any] = {
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "jwks_file": path,
        "role_claim": "groups",
        "role_map": ROLE_MAP,
        "leeway_seconds": 30,
        **changes,
    }
    return OidcVerifier(OidcConfig(**values))


@pytest.fixture(scope="module")
def issuers() -> dict[str, Issuer]:
    return {alg: Issuer(algorithm=alg, kid=f"key-{alg}") for alg in ("RS256", "ES256", "EdDSA")}


@pytest.mark.parametrize("algorithm", ["RS256", "ES256", "EdDSA"])
def test_a_valid_jwt_of_each_allowed_algorithm_names_its_actor(
    tmp_path: Path, issuers: dict[str, Issuer], algorithm: str
) -> None:
    check = verifier(jwks_file(tmp_path, *issuers.values()))
    actor = check.verify(issuers[algorithm].token())
    assert (actor.actor, actor.role, actor.method) == ("ana@example.test", "operator", "oidc")
    assert (actor.subject, actor.issuer, actor.groups) == ("user-1", ISSUER, ["release-managers"])


def test_the_highest_mapped_role_wins_and_unmapped_groups_are_not_kept(tmp_path: Path) -> None:
    issuer = Issuer()
    check = verifier(jwks_file(tmp_path, issuer))
    actor = check.verify(issuer.token(groups=["drill-viewers", "change-approvers", "release-managers", "x"]))
    assert actor.role == "approver"
    assert actor.groups == ["drill-viewers", "change-approvers", "release-managers"]
    assert check.verify(issuer.token(groups="platform-admins")).role == "admin"  # type: ignore[arg-type]


def test_a_valid_jwt_with_no_mapped_role_is_no_role(tmp_path: Path) -> None:
    issuer = Issuer()
    check = verifier(jwks_file(tmp_path, issuer))
    for groups in (["everyone"], []):
        with pytest.raises(NoRole):
            check.verify(issuer.token(groups=groups))
    with pytest.raises(NoRole):
        verifier(check.config.jwks_file, role_claim="roles").verify(issuer.token(roles=7))


def test_the_name_is_email_then_preferred_username_then_sub(tmp_path: Path) -> None:
    issuer = Issuer()
    check = verifier(jwks_file(tmp_path, issuer))
    assert check.verify(issuer.token(email=None, preferred_username="ana")).actor == "ana"
    assert check.verify(issuer.token(email="", sub="user-9")).actor == "user-9"


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"issued_ago": 400, "lifetime": 300}, "expired"),
        ({"nbf_in": 600}, "not yet valid"),  # seconds from when the test runs, not from collection
        ({"iss": "https://evil.test"}, "(?i)issuer"),
        ({"aud": "another-app"}, "(?i)audience"),
        ({"exp": None}, "exp"),
        ({"iat": None}, "iat"),
        ({"sub": None}, "sub"),
    ],
    ids=["expired", "not-yet-valid", "issuer", "audience", "no-exp", "no-iat", "no-sub"],
)
def test_claims_that_do_not_hold_are_refused(tmp_path: Path, claims: dict[str, Any], message: str) -> None:
    issuer = Issuer()
    check = verifier(jwks_file(tmp_path, issuer))
    claims = dict(claims)
    if "nbf_in" in claims:
        claims["nbf"] = int(time.time()) + claims.pop("nbf_in")
    timing = {k: claims.pop(k) for k in ("issued_ago", "lifetime") if k in claims}
    token = issuer.token(**timing, **claims)
    if any(value is None for value in claims.values()):
        body = jwt.decode(token, options={"verify_signature": False})
        token = jwt.encode(
            {k: v for k, v in body.items() if v is not None},
            issuer.private_key,
            algorithm="ES256",
            headers={"kid": issuer.kid},
        )
    with pytest.raises(InvalidToken, match=message):
        check.verify(token)


def test_the_leeway_is_small_and_bounded(tmp_path: Path) -> None:
    issuer = Issuer()
    path = jwks_file(tmp_path, issuer)
    just_expired = issuer.token(issued_ago=310, lifetime=300)  # expired 10 s ago
    assert verifier(path, leeway_seconds=30).verify(just_expired).role == "operator"
    with pytest.raises(InvalidToken, match="expired"):
        verifier(path, leeway_seconds=0).verify(just_expired)


def test_a_jwt_signed_by_another_key_or_an_unknown_kid_is_refused(tmp_path: Path) -> None:
    issuer, stranger = Issuer(kid="k1"), Issuer(kid="k1")
    check = verifier(jwks_file(tmp_path, issuer))
    with pytest.raises(InvalidToken, match="Signature verification failed"):
        check.verify(stranger.token())
    with pytest.raises(InvalidToken, match="unknown key"):
        check.verify(Issuer(kid="k2").token())


def _part(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _compact(header: dict[str, Any], claims: dict[str, Any], secret: bytes | None = None) -> str:
    """A JWS by hand: unsigned, or HMAC-SHA256 signed with ``secret`` (what PyJWT refuses to make)."""
    signing_input = f"{_part(json.dumps(header).encode())}.{_part(json.dumps(claims).encode())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest() if secret else b""
    return f"{signing_input}.{_part(signature)}"


def test_none_and_hmac_algorithms_are_refused_even_with_the_public_key_as_secret(tmp_path: Path) -> None:
    issuer = Issuer(algorithm="RS256", kid="rsa")
    check = verifier(jwks_file(tmp_path, issuer))
    claims = jwt.decode(issuer.token(), options={"verify_signature": False})
    with pytest.raises(InvalidToken, match="not allowed"):
        check.verify(_compact({"alg": "none", "typ": "JWT", "kid": "rsa"}, claims))
    public_pem = issuer.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for secret in (public_pem, json.dumps(issuer.jwk()).encode()):
        forged = _compact({"alg": "HS256", "typ": "JWT", "kid": "rsa"}, claims, secret)
        with pytest.raises(InvalidToken, match="not allowed"):
            check.verify(forged)
    with pytest.raises(InvalidToken, match="does not match its key"):
        check.verify(Issuer(algorithm="ES256", kid="rsa").token())


def test_symmetric_and_foreign_keys_in_the_jwks_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"}]}))
    with pytest.raises(ValueError, match="no usable signing key"):
        verifier(path)
    path.write_text("not json at all")
    with pytest.raises(ValueError):
        verifier(path)
    issuer = Issuer(kid="ok")
    path.write_text(json.dumps({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"}, issuer.jwk()]}))
    check = verifier(path)
    with pytest.raises(InvalidToken, match="not allowed"):
        check.verify(_compact({"alg": "HS256", "kid": "hmac"}, {"sub": "x"}, b"secret"))
    assert check.verify(issuer.token()).role == "operator"


def test_a_rotated_jwks_file_is_read_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old, new = Issuer(kid="old"), Issuer(kid="new")
    path = jwks_file(tmp_path, old)
    check = verifier(path)
    old_token = old.token()
    assert check.verify(old_token).role == "operator"  # verified, and remembered
    with pytest.raises(InvalidToken, match="unknown key"):
        check.verify(new.token())
    jwks_file(tmp_path, new)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    monkeypatch.setattr("cavra_gateway.auth.oidc.RELOAD_CHECK_SECONDS", 0.0)
    assert check.verify(new.token()).role == "operator"
    with pytest.raises(InvalidToken, match="unknown key"):
        check.verify(old_token)


def test_a_remembered_jwt_is_refused_once_it_expires(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    issuer = Issuer()
    check = verifier(jwks_file(tmp_path, issuer), leeway_seconds=0)
    token = issuer.token(lifetime=60)
    first = check.verify(token)
    assert check.verify(token) is first, "the second check is answered from memory"
    later = time.time() + 61
    monkeypatch.setattr("cavra_gateway.auth.oidc.time.time", lambda: later)
    monkeypatch.setattr("jwt.api_jwt.datetime", _FrozenDatetime(later))
    with pytest.raises(InvalidToken, match="expired"):
        check.verify(token)


class _FrozenDatetime:
    """``datetime`` as PyJWT sees it, at ``moment``."""

    def __init__(self, moment: float) -> None:
        self._moment = moment

    def now(self, tz: Any = None) -> datetime:
        return datetime.fromtimestamp(self._moment, tz)

    def __getattr__(self, name: str) -> Any:
        return getattr(datetime, name)


def test_jwt_shape() -> None:
    assert looks_like_jwt(Issuer().token())
    assert not looks_like_jwt("cavra_abc")
    assert not looks_like_jwt("ey.only-two")
