"""DSSE envelopes signed with Ed25519: sign a payload, verify an envelope against public keys.

An envelope is ``{"payloadType", "payload" (standard base64 of the payload bytes), "signatures":
[{"keyid", "sig"}]}``; the signature covers the DSSE pre-authentication encoding
``DSSEv1 <len(type)> <type> <len(body)> <body>`` (lengths as ASCII decimal byte counts), so
neither the payload type nor a single byte of the payload can change unnoticed. The key id is the
SHA-256 hex of the raw 32-byte public key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ALGORITHM = "ed25519"


class EnvelopeError(ValueError):
    """An envelope is malformed, signed by an unknown key, or its signature does not match."""


def pae(payload_type: str, body: bytes) -> bytes:
    """The DSSE v1 pre-authentication encoding of ``body`` with ``payload_type``."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(body), body)


def raw_public_key(key: Ed25519PublicKey) -> bytes:
    """The 32 raw bytes of a public key."""
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    """SHA-256 hex of the raw public key."""
    return hashlib.sha256(raw_public_key(key)).hexdigest()


def canonical_json(document: Mapping[str, Any]) -> bytes:
    """The bytes that get signed: key-sorted, compact, UTF-8 JSON."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sign(payload: bytes, payload_type: str, key: Ed25519PrivateKey) -> dict[str, Any]:
    """A DSSE envelope of ``payload`` signed by ``key``."""
    signature = key.sign(pae(payload_type, payload))
    return {
        "payloadType": payload_type,
        "payload": base64.b64encode(payload).decode("ascii"),
        "signatures": [
            {"keyid": key_id(key.public_key()), "sig": base64.b64encode(signature).decode("ascii")}
        ],
    }


@dataclass(frozen=True)
class Verified:
    """A genuine envelope: its payload bytes, decoded document and the key that signed it."""

    payload: bytes
    document: dict[str, Any]
    key_id: str


def verify(
    envelope: Mapping[str, Any], keys: Mapping[str, Ed25519PublicKey], *, payload_type: str
) -> Verified:
    """The payload of ``envelope`` when one of its signatures is by one of ``keys`` (by key id).

    Raises :class:`EnvelopeError` naming what is wrong: the shape, the payload type, no signature by
    a known key, or a signature that does not match (a changed byte).
    """
    if not isinstance(envelope, Mapping):
        raise EnvelopeError("envelope is not a JSON object")
    kind, encoded, signatures = (envelope.get(k) for k in ("payloadType", "payload", "signatures"))
    if kind != payload_type:
        raise EnvelopeError(f"payloadType is {kind!r}, expected {payload_type!r}")
    if not isinstance(encoded, str) or not isinstance(signatures, list) or not signatures:
        raise EnvelopeError("envelope needs a base64 payload and at least one signature")
    try:
        payload = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise EnvelopeError("payload is not valid base64") from None
    known = [s for s in signatures if isinstance(s, Mapping) and s.get("keyid") in keys]
    if not known:
        ids = ", ".join(str(s.get("keyid")) for s in signatures if isinstance(s, Mapping))
        raise EnvelopeError(f"not signed by a trusted key (signed by: {ids or 'nobody'})")
    message = pae(payload_type, payload)
    for entry in known:
        try:
            signature = base64.b64decode(str(entry.get("sig", "")), validate=True)
            keys[str(entry["keyid"])].verify(signature, message)
        except (binascii.Error, ValueError, InvalidSignature):
            continue
        return Verified(payload=payload, document=_document(payload), key_id=str(entry["keyid"]))
    raise EnvelopeError("signature does not match the payload (changed bytes or another key)")


def _document(payload: bytes) -> dict[str, Any]:
    try:
        document = json.loads(payload)
    except (UnicodeDecodeError, ValueError):
        raise EnvelopeError("signed payload is not JSON") from None
    if not isinstance(document, dict):
        raise EnvelopeError("signed payload is not a JSON object")
    return document


def payload_sha256(envelope: Mapping[str, Any]) -> str:
    """SHA-256 hex of an envelope's payload bytes (what the next package's ``previous_hash`` names)."""
    try:
        return hashlib.sha256(base64.b64decode(str(envelope.get("payload", "")), validate=True)).hexdigest()
    except (binascii.Error, ValueError):
        raise EnvelopeError("payload is not valid base64") from None
