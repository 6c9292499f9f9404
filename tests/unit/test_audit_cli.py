"""``cavra audit verify``: offline checks of one package and of an exported chain."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from cavra_acknowledgement.audit import chain, dsse, keys, package
from cavra_acknowledgement.audit.package import RouteRow
from cavra_cli.main import app
from cavra_contracts.actors import ActorV1
from cavra_contracts.audit import AuditFiltersV1, chain_export

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
ACTOR = ActorV1(actor="auditor", role="operator", method="api_token")
runner = CliRunner()


def export(key: Ed25519PrivateKey, length: int = 3) -> dict[str, Any]:
    envelopes, head = [], None
    for n in range(length):
        rows = [
            RouteRow(
                route_id=f"gordroute-{n}",
                schedule_id="s",
                plan_id=f"gordn-{n}",
                provider="webhook",
                owner="release-governance",
                escalation_owner="",
                route_created_at=NOW,
                state="resolved",
                acknowledgement_id="gordack-1",
            )
        ]
        built = package.build_package(
            rows, filters=AuditFiltersV1(), actor=ACTOR, now=NOW + timedelta(minutes=n), sequence=n + 1
        )
        envelope, head = chain.seal(built, head, key)
        envelopes.append(envelope)
    assert head is not None
    claims = chain.statement(
        first_sequence=1, last=head, head_sequence=head.sequence, exported_at=NOW.isoformat()
    )
    records = [keys.public_record(key.public_key(), NOW - timedelta(days=1), None)]
    return chain_export(envelopes, chain.sign_statement(claims, key), records, exported_at=NOW.isoformat())


def write(tmp_path: Path, name: str, document: Any) -> Path:
    path = tmp_path / name
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path


def run(*args: str) -> Any:
    return runner.invoke(app, ["audit", "verify", *args])


def key_file(tmp_path: Path, key: Ed25519PrivateKey) -> Path:
    return write(
        tmp_path, "key.json", {"keys": [keys.public_record(key.public_key(), NOW - timedelta(days=1), None)]}
    )


def test_an_exported_chain_verifies_with_the_published_key(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    result = run(str(write(tmp_path, "chain.json", export(key))), "--key", str(key_file(tmp_path, key)))
    assert result.exit_code == 0, result.output
    assert (
        "verified chain of 3 audit packages, sequence 1..3, with its signed export statement" in result.output
    )


def test_a_pem_key_file_works_too(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    pem = write(tmp_path, "key.pem", keys.public_pem(key.public_key()))
    assert run(str(write(tmp_path, "chain.json", export(key))), "--key", str(pem)).exit_code == 0


def test_a_tampered_byte_fails(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    document = export(key)
    middle = document["packages"][1]
    payload = base64.b64decode(middle["payload"]).replace(b'"resolved"', b'"resolvef"', 1)
    middle["payload"] = base64.b64encode(payload).decode()
    result = run(str(write(tmp_path, "chain.json", document)), "--key", str(key_file(tmp_path, key)))
    assert result.exit_code == 1
    assert "signature does not match the payload" in result.output
    assert "Traceback" not in result.output


def test_a_wrong_key_fails(tmp_path: Path) -> None:
    key, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    result = run(str(write(tmp_path, "chain.json", export(key))), "--key", str(key_file(tmp_path, other)))
    assert result.exit_code == 1
    assert "not signed by a trusted key" in result.output


def test_a_removed_package_fails(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    document = export(key, 4)
    del document["packages"][2]
    result = run(str(write(tmp_path, "chain.json", document)), "--key", str(key_file(tmp_path, key)))
    assert result.exit_code == 1
    assert "sequence 4 follows 2" in result.output


def test_a_removed_last_package_fails_on_the_export_statement(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    document = export(key, 3)
    document["packages"].pop()
    result = run(str(write(tmp_path, "chain.json", document)), "--key", str(key_file(tmp_path, key)))
    assert result.exit_code == 1
    assert "removed from the end" in result.output


def test_reordered_packages_fail(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    document = export(key, 3)
    document["packages"][1], document["packages"][2] = document["packages"][2], document["packages"][1]
    result = run(str(write(tmp_path, "chain.json", document)), "--key", str(key_file(tmp_path, key)))
    assert result.exit_code == 1
    assert "reordered" in result.output


def test_one_package_verifies_and_its_unsigned_copy_must_match(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    envelope = export(key, 1)["packages"][0]
    signed = json.loads(base64.b64decode(envelope["payload"]))
    answer = {"audit_package": signed, "envelope": envelope}
    keyfile = str(key_file(tmp_path, key))
    ok = run(str(write(tmp_path, "one.json", answer)), "--key", keyfile)
    assert ok.exit_code == 0, ok.output
    assert f"verified audit package {signed['audit_id']} (sequence 1" in ok.output
    assert run(str(write(tmp_path, "env.json", envelope)), "--key", keyfile).exit_code == 0
    edited = {"audit_package": {**signed, "outstanding_count": 0, "route_count": 0}, "envelope": envelope}
    bad = run(str(write(tmp_path, "edited.json", edited)), "--key", keyfile)
    assert bad.exit_code == 1 and "differs from the signed payload" in bad.output


def test_without_a_key_the_embedded_keys_are_used_with_a_warning(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    result = run(str(write(tmp_path, "chain.json", export(key))))
    assert result.exit_code == 0
    assert "proves integrity, not who signed" in result.output


def test_unreadable_input_exits_2_without_a_traceback(tmp_path: Path) -> None:
    missing = run(str(tmp_path / "missing.json"))
    assert missing.exit_code == 2 and "cannot read file" in missing.output
    garbage = run(str(write(tmp_path, "bad.json", "{not json")))
    assert garbage.exit_code == 2 and "is not JSON" in garbage.output
    lonely = run(str(write(tmp_path, "env.json", {"payloadType": "x", "payload": "", "signatures": []})))
    assert lonely.exit_code == 2 and "no trusted key" in lonely.output
    assert dsse.ALGORITHM == "ed25519"
