"""DSSE envelopes, the hash chain and the signing key: what a verifier accepts and what it refuses."""

from __future__ import annotations

import base64
import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cavra_acknowledgement.audit import chain, dsse, keys
from cavra_contracts.audit import AUDIT_PAYLOAD_TYPE

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def document(n: int) -> dict[str, Any]:
    return {"audit_id": f"gordackaudit-{n:016d}", "generated_at": (NOW + timedelta(minutes=n)).isoformat()}


def signed_chain(key: Ed25519PrivateKey, length: int) -> list[dict[str, Any]]:
    envelopes, head = [], None
    for n in range(1, length + 1):
        envelope, head = chain.seal(document(n), head, key)
        envelopes.append(envelope)
    return envelopes


def trusted(key: Ed25519PrivateKey, **validity: datetime) -> dict[str, chain.TrustedKey]:
    return {dsse.key_id(key.public_key()): chain.TrustedKey(key.public_key(), **validity)}


def test_pae_is_the_dsse_v1_encoding() -> None:
    assert dsse.pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_a_signed_envelope_verifies_and_its_key_id_is_the_sha256_of_the_raw_public_key() -> None:
    key = Ed25519PrivateKey.generate()
    envelope = dsse.sign(b'{"a":1}', AUDIT_PAYLOAD_TYPE, key)
    verified = dsse.verify(
        envelope, {k: t.key for k, t in trusted(key).items()}, payload_type=AUDIT_PAYLOAD_TYPE
    )
    assert verified.document == {"a": 1}
    import hashlib

    assert verified.key_id == hashlib.sha256(dsse.raw_public_key(key.public_key())).hexdigest()


def test_one_changed_byte_breaks_the_signature() -> None:
    key = Ed25519PrivateKey.generate()
    envelope = dsse.sign(b'{"route_count":1}', AUDIT_PAYLOAD_TYPE, key)
    payload = bytearray(base64.b64decode(envelope["payload"]))
    payload[-2] ^= 0x01  # 1 -> 0
    tampered = {**envelope, "payload": base64.b64encode(bytes(payload)).decode()}
    with pytest.raises(dsse.EnvelopeError, match="does not match"):
        dsse.verify(tampered, {k: t.key for k, t in trusted(key).items()}, payload_type=AUDIT_PAYLOAD_TYPE)


def test_another_key_or_another_payload_type_is_refused() -> None:
    key, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    envelope = dsse.sign(b"{}", AUDIT_PAYLOAD_TYPE, key)
    with pytest.raises(dsse.EnvelopeError, match="trusted key"):
        dsse.verify(envelope, {k: t.key for k, t in trusted(other).items()}, payload_type=AUDIT_PAYLOAD_TYPE)
    forged = {
        **envelope,
        "signatures": [{**envelope["signatures"][0], "keyid": dsse.key_id(other.public_key())}],
    }
    with pytest.raises(dsse.EnvelopeError, match="does not match"):
        dsse.verify(forged, {k: t.key for k, t in trusted(other).items()}, payload_type=AUDIT_PAYLOAD_TYPE)
    with pytest.raises(dsse.EnvelopeError, match="payloadType"):
        dsse.verify(envelope, {k: t.key for k, t in trusted(key).items()}, payload_type="application/json")


def test_an_intact_chain_verifies() -> None:
    key = Ed25519PrivateKey.generate()
    envelopes = signed_chain(key, 4)
    report = chain.verify_chain(envelopes, trusted(key), None)
    assert report.ok, report.problems
    assert [d["sequence"] for d in report.verified] == [1, 2, 3, 4]
    assert report.verified[0]["previous_hash"] == chain.GENESIS
    assert report.verified[1]["previous_hash"] == dsse.payload_sha256(envelopes[0])


def test_a_removed_package_breaks_the_chain() -> None:
    key = Ed25519PrivateKey.generate()
    envelopes = signed_chain(key, 4)
    report = chain.verify_chain([envelopes[0], envelopes[1], envelopes[3]], trusted(key), None)
    assert not report.ok
    assert any("sequence 4 follows 2" in p and "removed" in p for p in report.problems), report.problems


def test_a_removed_first_package_is_detected_unless_the_export_is_partial() -> None:
    key = Ed25519PrivateKey.generate()
    envelopes = signed_chain(key, 3)[1:]
    assert any(
        "starts at sequence 2" in p for p in chain.verify_chain(envelopes, trusted(key), None).problems
    )
    assert chain.verify_chain(envelopes, trusted(key), None, allow_partial=True).ok


def test_reordered_packages_break_the_chain() -> None:
    key = Ed25519PrivateKey.generate()
    envelopes = signed_chain(key, 3)
    report = chain.verify_chain([envelopes[0], envelopes[2], envelopes[1]], trusted(key), None)
    assert any("reordered" in p for p in report.problems), report.problems


def test_a_package_resigned_in_place_still_breaks_the_next_link() -> None:
    key = Ed25519PrivateKey.generate()
    envelopes = signed_chain(key, 3)
    changed = chain.place(
        {**document(2), "route_count": 99}, chain.Head(1, dsse.payload_sha256(envelopes[0]))
    )
    envelopes[1] = dsse.sign(dsse.canonical_json(changed), AUDIT_PAYLOAD_TYPE, key)
    report = chain.verify_chain(envelopes, trusted(key), None)
    assert any("previous_hash does not match package 2" in p for p in report.problems), report.problems


def test_the_signed_statement_detects_a_cut_off_tail() -> None:
    key = Ed25519PrivateKey.generate()
    envelopes = signed_chain(key, 3)
    last = chain.Head(3, dsse.payload_sha256(envelopes[-1]))
    statement = chain.sign_statement(
        chain.statement(first_sequence=1, last=last, head_sequence=3, exported_at=NOW.isoformat()), key
    )
    assert chain.verify_chain(envelopes, trusted(key), statement).ok
    cut = chain.verify_chain(envelopes[:2], trusted(key), statement)
    assert any("removed from the end" in p for p in cut.problems), cut.problems
    with pytest.raises(dsse.EnvelopeError):  # a statement never passes for a package
        chain.verify_package(statement, trusted(key))


def test_a_key_used_outside_its_validity_is_refused() -> None:
    key = Ed25519PrivateKey.generate()
    envelopes = signed_chain(key, 2)
    expired = trusted(key, valid_until=NOW)
    report = chain.verify_chain(envelopes, expired, None)
    assert any("outside its validity" in p for p in report.problems)


def test_the_key_file_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    first = keys.load_signing_key(None, tmp_path / "home")
    path = tmp_path / "home" / keys.KEY_FILE_NAME
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    again = keys.load_signing_key(None, tmp_path / "home")
    assert again.key_id == first.key_id and again.source == str(path)
    assert "PRIVATE" not in repr(first)


def test_a_configured_key_wins_in_either_form(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    pem = keys.private_pem(key).decode()
    raw = base64.b64encode(key.private_bytes_raw()).decode()
    for text in (pem, raw):
        loaded = keys.load_signing_key(text, tmp_path)
        assert loaded.key_id == dsse.key_id(key.public_key()) and loaded.source == "environment"
    assert not (tmp_path / keys.KEY_FILE_NAME).exists()


def test_a_bad_configured_key_is_refused_without_quoting_it(tmp_path: Path) -> None:
    with pytest.raises(keys.AuditKeyError) as raised:
        keys.load_signing_key("c2VjcmV0LWJ1dC1ub3QtYS1rZXk=", tmp_path)
    assert "c2VjcmV0" not in str(raised.value) and "CAVRA_AUDIT_SIGNING_KEY" in str(raised.value)


def test_public_records_round_trip_into_trusted_keys() -> None:
    key = Ed25519PrivateKey.generate()
    record = keys.public_record(key.public_key(), NOW, None)
    assert record["key_id"] == dsse.key_id(key.public_key()) and record["algorithm"] == "ed25519"
    assert set(keys.trusted_keys(json.dumps({"keys": [record]}))) == {record["key_id"]}
    assert set(keys.trusted_keys(record["public_key_pem"])) == {record["key_id"]}
    with pytest.raises(keys.AuditKeyError, match="SHA-256"):
        keys.trusted_keys(json.dumps([{**record, "key_id": "0" * 64}]))


def test_a_key_file_others_may_read_is_refused(tmp_path: Path) -> None:
    keys.load_signing_key(None, tmp_path)
    os.chmod(tmp_path / keys.KEY_FILE_NAME, 0o644)
    with pytest.raises(keys.AuditKeyError, match="chmod 600"):
        keys.load_signing_key(None, tmp_path)


def test_racing_replicas_end_with_one_key_and_no_draft_left(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        loaded = list(pool.map(lambda _: keys.load_signing_key(None, tmp_path), range(16)))
    assert len({key.key_id for key in loaded}) == 1
    assert [p.name for p in tmp_path.iterdir()] == [keys.KEY_FILE_NAME]
