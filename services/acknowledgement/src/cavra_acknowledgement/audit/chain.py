"""The hash chain of audit packages, and its offline verification.

Each package records its ``sequence`` (1, 2, 3, ...) and ``previous_hash``: the SHA-256 hex of the
previous package's signed payload bytes (empty for the first). Both are inside the signed
payload, so removing, inserting or reordering a package breaks the chain at that point. An export
also carries a signed statement of the range it covers (first and last sequence, the last
payload's hash), so cutting packages off its end is detected as well.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from cavra_contracts.audit import AUDIT_HEAD_PAYLOAD_TYPE, AUDIT_PAYLOAD_TYPE
from cavra_contracts.timestamps import parse_timestamp

from . import dsse

GENESIS: Final = ""
"""``previous_hash`` of the first package."""
STATEMENT_SCHEMA: Final = "cavra.drillops.acknowledgement.audit-chain-statement.v1"


@dataclass(frozen=True)
class Head:
    """The last package of the chain: where the next one links."""

    sequence: int
    payload_sha256: str


def next_position(head: Head | None) -> tuple[int, str]:
    """``(sequence, previous_hash)`` of the package that follows ``head`` (the first when None)."""
    if head is None:
        return 1, GENESIS
    return head.sequence + 1, head.payload_sha256


def place(document: Mapping[str, Any], head: Head | None) -> dict[str, Any]:
    """``document`` with its chain position after ``head``."""
    sequence, previous = next_position(head)
    return {**document, "sequence": sequence, "previous_hash": previous}


def seal(
    document: Mapping[str, Any], head: Head | None, key: Ed25519PrivateKey
) -> tuple[dict[str, Any], Head]:
    """Place ``document`` after ``head`` and sign it: its DSSE envelope and the new head."""
    placed = place(document, head)
    payload = dsse.canonical_json(placed)
    envelope = dsse.sign(payload, AUDIT_PAYLOAD_TYPE, key)
    return envelope, Head(placed["sequence"], dsse.payload_sha256(envelope))


def sign_statement(claims: Mapping[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """The signed export statement (its own payload type: it can never pass for a package)."""
    return dsse.sign(dsse.canonical_json(claims), AUDIT_HEAD_PAYLOAD_TYPE, key)


def statement(*, first_sequence: int, last: Head, head_sequence: int, exported_at: str) -> dict[str, Any]:
    """What an export asserts about itself: exactly ``first_sequence``..``last.sequence``."""
    return {
        "schema_version": STATEMENT_SCHEMA,
        "first_sequence": first_sequence,
        "last_sequence": last.sequence,
        "last_hash": last.payload_sha256,
        "head_sequence": head_sequence,
        "exported_at": exported_at,
    }


# --- verification ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TrustedKey:
    """A public key an auditor trusts, with the span in which it may sign (open ends: unbounded)."""

    key: Ed25519PublicKey
    valid_from: datetime | None = None
    valid_until: datetime | None = None


@dataclass
class Report:
    """What verification found: the packages that verified and every problem, in chain order."""

    verified: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and bool(self.verified)


def verify_package(
    envelope: Mapping[str, Any], keys: Mapping[str, TrustedKey]
) -> tuple[dsse.Verified, list[str]]:
    """Verify one package's signature and that its key was valid when it was generated."""
    verified = dsse.verify(
        envelope, {kid: trusted.key for kid, trusted in keys.items()}, payload_type=AUDIT_PAYLOAD_TYPE
    )
    problems: list[str] = []
    trusted = keys[verified.key_id]
    generated = parse_timestamp(verified.document.get("generated_at"))
    audit_id = verified.document.get("audit_id", "?")
    if generated is None:
        problems.append(f"{audit_id}: generated_at is missing or not a timestamp")
    elif (trusted.valid_from and generated < trusted.valid_from) or (
        trusted.valid_until and generated > trusted.valid_until
    ):
        problems.append(f"{audit_id}: signed by key {verified.key_id[:16]} outside its validity")
    return verified, problems


def verify_chain(
    envelopes: Sequence[Mapping[str, Any]],
    keys: Mapping[str, TrustedKey],
    signed_statement: Mapping[str, Any] | None,
    *,
    allow_partial: bool = False,
) -> Report:
    """Verify every package, the links between them and the export's signed statement."""
    report = Report()
    previous: Head | None = None
    for position, envelope in enumerate(envelopes, start=1):
        try:
            verified, problems = verify_package(envelope, keys)
        except dsse.EnvelopeError as exc:
            report.problems.append(f"package {position} of the file: {exc}")
            previous = None
            continue
        document = verified.document
        report.problems.extend(problems)
        report.problems.extend(_link_problems(document, previous, position, allow_partial))
        report.verified.append(document)
        previous = Head(int(document.get("sequence", 0)), dsse.payload_sha256(envelope))
    if not envelopes:
        report.problems.append("the file holds no package")
    report.problems.extend(_statement_problems(signed_statement, keys, report, previous))
    return report


def _link_problems(
    document: Mapping[str, Any], previous: Head | None, position: int, allow_partial: bool
) -> list[str]:
    sequence, link = document.get("sequence"), document.get("previous_hash")
    name = document.get("audit_id", f"package {position}")
    if not isinstance(sequence, int) or not isinstance(link, str):
        return [f"{name}: no chain position (sequence, previous_hash)"]
    if previous is None:
        if position == 1 and not allow_partial and (sequence != 1 or link != GENESIS):
            return [
                f"{name}: the chain starts at sequence {sequence}, not 1: "
                "earlier packages were removed (or pass --allow-partial for a partial export)"
            ]
        return []
    if sequence != previous.sequence + 1:
        return [
            f"{name}: sequence {sequence} follows {previous.sequence}: "
            "a package was removed or the packages were reordered"
        ]
    if link != previous.payload_sha256:
        return [f"{name}: previous_hash does not match package {previous.sequence}: the chain is broken"]
    return []


def _statement_problems(
    signed: Mapping[str, Any] | None, keys: Mapping[str, TrustedKey], report: Report, last: Head | None
) -> list[str]:
    if signed is None:
        return []
    try:
        verified = dsse.verify(
            signed, {kid: trusted.key for kid, trusted in keys.items()}, payload_type=AUDIT_HEAD_PAYLOAD_TYPE
        )
    except dsse.EnvelopeError as exc:
        return [f"export statement: {exc}"]
    claimed = verified.document
    if not report.verified or last is None:
        return []
    first = report.verified[0].get("sequence")
    problems = []
    if claimed.get("first_sequence") != first:
        problems.append(
            f"export statement covers from sequence {claimed.get('first_sequence')}, file from {first}"
        )
    if claimed.get("last_sequence") != last.sequence or claimed.get("last_hash") != last.payload_sha256:
        problems.append(
            f"export statement ends at sequence {claimed.get('last_sequence')}, the file at {last.sequence}: "
            "packages were removed from the end or changed"
        )
    return problems
