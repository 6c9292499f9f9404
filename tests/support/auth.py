"""Credentials for tests: API tokens in the test NATS server's bucket, and an OIDC issuer with its
own keys that signs JWTs and writes the JWKS file the gateway verifies them with."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from cavra_contracts.actors import Role
from cavra_gateway.auth.tokens import TokenRecord, TokenStore
from cavra_runtime.bus import Bus

ISSUER = "https://idp.test"
AUDIENCE = "cavra-drillops"
ROLE_MAP: dict[str, Role] = {
    "drill-viewers": "viewer",
    "release-managers": "operator",
    "change-approvers": "approver",
    "platform-admins": "admin",
}


async def create_token(
    nats_url: str,
    role: Role,
    name: str | None = None,
    *,
    expires_in_days: float | None = None,
    now: datetime | None = None,
) -> tuple[str, TokenRecord]:
    """A new API token in the test server's bucket (``now`` in the past makes an expired one)."""
    bus = await Bus.connect(nats_url, name="test-tokens")
    try:
        store = await TokenStore.open(bus)
        return await store.create(
            name=name or f"test-{role}",
            role=role,
            created_by="tests",
            expires_in_days=expires_in_days,
            now=now,
        )
    finally:
        await bus.close()


async def revoke_token(nats_url: str, token_id: str) -> TokenRecord:
    bus = await Bus.connect(nats_url, name="test-tokens")
    try:
        return await (await TokenStore.open(bus)).revoke(token_id, revoked_by="tests")
    finally:
        await bus.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Issuer:
    """An identity provider: one signing key of ``algorithm`` (``RS256``, ``ES256`` or ``EdDSA``)."""

    algorithm: str = "ES256"
    kid: str = "test-key-1"
    issuer: str = ISSUER
    audience: str = AUDIENCE
    private_key: Any = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.algorithm == "RS256":
            self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        elif self.algorithm == "ES256":
            self.private_key = ec.generate_private_key(ec.SECP256R1())
        else:
            self.private_key = ed25519.Ed25519PrivateKey.generate()

    def jwk(self) -> dict[str, Any]:
        """The public key as a JWK."""
        algorithm = {"RS256": RSAAlgorithm, "ES256": ECAlgorithm, "EdDSA": OKPAlgorithm}[self.algorithm]
        key: dict[str, Any] = json.loads(algorithm.to_jwk(self.private_key.public_key()))
        return {**key, "kid": self.kid, "use": "sig", "alg": self.algorithm}

    def token(
        self,
        *,
        groups: list[str] | None = None,
        lifetime: float = 300,
        issued_ago: float = 0,
        headers: Mapping[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        """A signed JWT; by default a release manager's, valid for five minutes."""
        now = time.time() - issued_ago
        body: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": "user-1",
            "email": "ana@example.test",
            "iat": int(now),
            "exp": int(now + lifetime),
            "groups": ["release-managers"] if groups is None else groups,
            **claims,
        }
        return jwt.encode(
            body, self.private_key, algorithm=self.algorithm, headers={"kid": self.kid, **(headers or {})}
        )


def jwks_file(directory: Path, *issuers: Issuer) -> Path:
    """A JWKS file holding the public keys of ``issuers``."""
    path = directory / "jwks.json"
    path.write_text(json.dumps({"keys": [issuer.jwk() for issuer in issuers]}))
    return path


def oidc_settings(jwks: Path, **overrides: Any) -> dict[str, Any]:
    """Gateway settings that accept JWTs of :data:`ISSUER` for :data:`AUDIENCE`."""
    return {
        "oidc_issuer": ISSUER,
        "oidc_audience": AUDIENCE,
        "oidc_jwks_file": jwks,
        "oidc_role_map": ROLE_MAP,
        **overrides,
    }
