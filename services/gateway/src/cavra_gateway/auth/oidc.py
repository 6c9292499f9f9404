"""OIDC JWTs verified offline: a configured issuer, audience and JWKS file; no network at all.

Only asymmetric algorithms are accepted (RS256, ES256, EdDSA), never ``none`` or HS*, and each key
of the JWKS only with its own algorithm family. ``exp``, ``iat``, ``iss``, ``aud`` and ``sub`` are
required, ``nbf`` is checked when present, all with a small bounded leeway. The role comes from one
claim (e.g. ``groups``) through a mapping; the highest mapped role wins. The JWKS file is read at
start and again when its modification time changes (checked at most every few seconds), so keys can
be rotated without a restart.

Verifying a signature costs 0.2-0.6 ms here, so a JWT that verified is remembered (by its SHA-256,
at most ``MAX_CACHED`` of them) until its ``exp``: a client sending the same JWT on every request
pays for the signature once. A reloaded JWKS forgets them all.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import jwt
from jwt import PyJWK

from cavra_contracts.actors import ActorV1, Role, role_rank
from cavra_contracts.limits import MAX_TEXT_LENGTH

ALGORITHMS: Final = ("RS256", "ES256", "EdDSA")
REQUIRED_CLAIMS: Final = ("exp", "iat", "iss", "aud", "sub")
MAX_GROUPS: Final = 64
MAX_JWKS_BYTES: Final = 1_048_576
RELOAD_CHECK_SECONDS: Final = 5.0
MAX_CACHED: Final = 4096


class InvalidToken(Exception):
    """The JWT is not valid here (401): the message says why, never the token."""


class NoRole(Exception):
    """A valid JWT whose claims map to no role (403)."""


def looks_like_jwt(token: str) -> bool:
    """Three base64url parts: a JWS compact serialisation."""
    return token.count(".") == 2 and token.startswith("ey")


@dataclass(frozen=True)
class OidcConfig:
    issuer: str
    audience: str
    jwks_file: Path
    role_claim: str
    role_map: Mapping[str, Role]
    leeway_seconds: float


def _load_keys(path: Path) -> dict[str, PyJWK]:
    raw = path.read_bytes()
    if len(raw) > MAX_JWKS_BYTES:
        raise ValueError(f"{path}: JWKS file larger than {MAX_JWKS_BYTES} bytes")
    document = json.loads(raw)
    keys = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(keys, list) or not keys:
        raise ValueError(f"{path}: not a JWKS (an object with a non-empty 'keys' list)")
    loaded: dict[str, PyJWK] = {}
    for index, item in enumerate(keys):
        if not isinstance(item, dict) or item.get("use", "sig") != "sig":
            continue
        if item.get("alg") is not None and item["alg"] not in ALGORITHMS:
            continue
        if item.get("kty") not in ("RSA", "EC", "OKP"):
            continue  # symmetric ("oct") keys would allow HS* forgery with a public value
        key = PyJWK.from_dict(item)
        if key.algorithm_name in ALGORITHMS:
            loaded[str(item.get("kid") or f"#{index}")] = key
    if not loaded:
        raise ValueError(f"{path}: no usable signing key (RSA, EC P-256 or OKP Ed25519)")
    return loaded


class OidcVerifier:
    """Verifies JWTs against the configured issuer, audience and keys."""

    def __init__(self, config: OidcConfig) -> None:
        self.config = config
        self._keys = _load_keys(config.jwks_file)
        self._mtime = config.jwks_file.stat().st_mtime_ns
        self._checked = time.monotonic()
        self._verified: dict[bytes, tuple[float, ActorV1]] = {}
        """SHA-256 of a verified JWT -> (its exp plus the leeway, its actor)."""

    def _current_keys(self) -> dict[str, PyJWK]:
        now = time.monotonic()
        if now - self._checked >= RELOAD_CHECK_SECONDS:
            self._checked = now
            try:
                mtime = self.config.jwks_file.stat().st_mtime_ns
                if mtime != self._mtime:
                    self._keys, self._mtime = _load_keys(self.config.jwks_file), mtime
                    self._verified.clear()
            except (OSError, ValueError):
                pass  # keep the keys we have; the file is being replaced or is broken
        return self._keys

    def _key_for(self, token: str) -> PyJWK:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"malformed JWT: {exc}") from exc
        algorithm = header.get("alg")
        if algorithm not in ALGORITHMS:
            raise InvalidToken(
                f"JWT algorithm {str(algorithm)[:20]!r} is not allowed ({', '.join(ALGORITHMS)})"
            )
        keys = self._current_keys()
        kid = header.get("kid")
        if kid is not None:
            key = keys.get(str(kid))
        else:
            key = next(iter(keys.values())) if len(keys) == 1 else None
        if key is None:
            raise InvalidToken("JWT signed by an unknown key")
        if key.algorithm_name != algorithm:
            raise InvalidToken("JWT algorithm does not match its key")
        return key

    def verify(self, token: str) -> ActorV1:
        """The actor of a valid JWT; ``InvalidToken`` (401) or ``NoRole`` (403)."""
        digest = hashlib.sha256(token.encode()).digest()
        self._current_keys()  # a rotated JWKS clears what was verified with the old keys
        cached = self._verified.get(digest)
        if cached is not None:
            if time.time() < cached[0]:
                return cached[1]
            del self._verified[digest]
        key = self._key_for(token)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=[key.algorithm_name],
                audience=self.config.audience,
                issuer=self.config.issuer,
                leeway=self.config.leeway_seconds,
                options={"require": list(REQUIRED_CLAIMS), "verify_signature": True},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"invalid JWT: {exc}") from exc
        actor = self.actor(claims)
        if len(self._verified) >= MAX_CACHED:
            self._verified.pop(next(iter(self._verified)))
        self._verified[digest] = (float(claims["exp"]) + self.config.leeway_seconds, actor)
        return actor

    def actor(self, claims: Mapping[str, Any]) -> ActorV1:
        """The actor of verified ``claims``: the highest mapped role, a name from the claims."""
        groups = _strings(claims.get(self.config.role_claim))
        roles = [self.config.role_map[group] for group in groups if group in self.config.role_map]
        if not roles:
            raise NoRole(f"no role is mapped for this identity (claim {self.config.role_claim})")
        role = max(roles, key=role_rank)
        name = next(
            (
                value
                for value in (claims.get("email"), claims.get("preferred_username"), claims.get("sub"))
                if isinstance(value, str) and value.strip()
            ),
            "",
        )
        if not name:
            raise InvalidToken("JWT names nobody (email, preferred_username and sub are empty)")
        return ActorV1(
            actor=name[:MAX_TEXT_LENGTH],
            role=role,
            method="oidc",
            subject=str(claims.get("sub", ""))[:MAX_TEXT_LENGTH],
            issuer=str(claims.get("iss", ""))[:MAX_TEXT_LENGTH],
            groups=[group[:MAX_TEXT_LENGTH] for group in groups if group in self.config.role_map][
                :MAX_GROUPS
            ],
        )


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []
