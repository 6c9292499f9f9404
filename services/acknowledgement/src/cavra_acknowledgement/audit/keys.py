"""The audit signing key and the public keys auditors verify with.

The private key comes from ``CAVRA_AUDIT_SIGNING_KEY`` (PKCS#8 PEM, or the base64 of the raw 32
bytes) or, when that is unset, from ``$CAVRA_HOME/audit-signing-key.pem``, created on first use
with mode 0600 (written whole, then linked into place: replicas sharing ``$CAVRA_HOME`` race safely).
It never leaves this module: ``repr`` hides it, errors never quote it, and only public keys
(:func:`public_record`) are stored, served and exported.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from cavra_contracts.timestamps import iso, parse_timestamp

from . import dsse
from .chain import TrustedKey

KEY_FILE_NAME: Final = "audit-signing-key.pem"
MAX_KEY_FILE_BYTES: Final = 1024 * 1024


class AuditKeyError(ValueError):
    """A key could not be read; the message names the source, never the key material."""


@dataclass(frozen=True)
class SigningKey:
    """The private key that signs audit packages, and its public key id."""

    private: Ed25519PrivateKey = field(repr=False)
    source: str

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    @property
    def key_id(self) -> str:
        return dsse.key_id(self.public)


def parse_private(text: str, *, source: str) -> Ed25519PrivateKey:
    """A PKCS#8 PEM Ed25519 key, or the base64 of its raw 32 bytes."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(text.encode(), password=None)
        else:
            key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(text, validate=True))
    except (ValueError, TypeError, binascii.Error):
        raise AuditKeyError(
            f"{source} is not an Ed25519 private key (PKCS#8 PEM or base64 of 32 bytes)"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise AuditKeyError(f"{source} is not an Ed25519 key")
    return key


def private_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def load_signing_key(configured: str | None, home: Path) -> SigningKey:
    """The configured key, else the one under ``home`` (created on first use, mode 0600)."""
    if configured:
        return SigningKey(parse_private(configured, source="CAVRA_AUDIT_SIGNING_KEY"), "environment")
    path = home / KEY_FILE_NAME
    if not path.exists():
        _create(path)
    if os.stat(path).st_mode & 0o077:
        raise AuditKeyError(f"{path} may be read by other users: chmod 600 it")
    return SigningKey(parse_private(path.read_text(), source=str(path)), str(path))


def _create(path: Path) -> None:
    """Write a fresh key completely, then link it into place: a crash never leaves a half-written
    key, and of replicas racing here exactly one key wins (the others read it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(private_pem(Ed25519PrivateKey.generate()))
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
    finally:
        draft.unlink(missing_ok=True)


def public_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def public_record(
    key: Ed25519PublicKey, valid_from: datetime, valid_until: datetime | None
) -> dict[str, Any]:
    """A public key as ``GET .../audit-keys`` and exports show it."""
    return {
        "key_id": dsse.key_id(key),
        "algorithm": dsse.ALGORITHM,
        "public_key": base64.b64encode(dsse.raw_public_key(key)).decode("ascii"),
        "public_key_pem": public_pem(key),
        "valid_from": iso(valid_from),
        "valid_until": iso(valid_until) if valid_until else None,
    }


def parse_public(text: str) -> Ed25519PublicKey:
    """A PEM public key, or the base64 of its raw 32 bytes."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(text.encode())
        else:
            key = Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))
    except (ValueError, TypeError, binascii.Error):
        raise AuditKeyError("not an Ed25519 public key (PEM or base64 of 32 bytes)") from None
    if not isinstance(key, Ed25519PublicKey):
        raise AuditKeyError("not an Ed25519 public key")
    return key


def trusted_from_record(record: Mapping[str, Any]) -> tuple[str, TrustedKey]:
    """A key of ``GET .../audit-keys``; its ``key_id`` must be the hash of its public key."""
    material = record.get("public_key") or record.get("public_key_pem")
    if not isinstance(material, str):
        raise AuditKeyError("key record has no public_key")
    key = parse_public(material)
    kid = dsse.key_id(key)
    if record.get("key_id") not in (None, kid):
        raise AuditKeyError(f"key_id {record.get('key_id')} is not the SHA-256 of its public key")
    trusted = TrustedKey(
        key, parse_timestamp(record.get("valid_from")), parse_timestamp(record.get("valid_until"))
    )
    return kid, trusted


def trusted_keys(text: str) -> dict[str, TrustedKey]:
    """Keys from a ``--key`` file: a PEM (or base64) public key, or JSON key records
    (the ``GET .../audit-keys`` answer, a list of records, or one record)."""
    if len(text) > MAX_KEY_FILE_BYTES:
        raise AuditKeyError("key file is too large")
    stripped = text.strip()
    if not stripped.startswith(("{", "[")):
        key = parse_public(stripped)
        return {dsse.key_id(key): TrustedKey(key)}
    try:
        document = json.loads(stripped)
    except ValueError:
        raise AuditKeyError("key file is neither a public key nor JSON") from None
    return keys_from_records(document)


def keys_from_records(document: Any) -> dict[str, TrustedKey]:
    """Trusted keys from ``{"keys": [...]}``, a list of key records, or one record."""
    if isinstance(document, Mapping) and "keys" in document:
        document = document["keys"]
    records = document if isinstance(document, list) else [document]
    found: dict[str, TrustedKey] = {}
    for record in records:
        if not isinstance(record, Mapping):
            raise AuditKeyError("a key record is not a JSON object")
        kid, trusted = trusted_from_record(record)
        found[kid] = trusted
    if not found:
        raise AuditKeyError("no key found")
    return found
