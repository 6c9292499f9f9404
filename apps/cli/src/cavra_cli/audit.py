"""``cavra audit verify FILE [--key FILE]``: check signed audit packages offline.

``FILE`` is one package (its DSSE envelope, or the API's answer holding ``envelope``) or an exported
chain (``GET .../acknowledgements/audit-packages/export``). Every signature is checked against the
trusted public keys (``--key``: a PEM public key or the ``GET .../audit-keys`` answer), and a chain's
links and its signed export statement too. Exits 1 naming each problem on a changed byte, a wrong
key or a broken chain (a removed or reordered package); 2 when the files cannot be read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from cavra_acknowledgement.audit import chain, dsse, keys

audit_app = typer.Typer(help="Signed acknowledgement audit packages.", no_args_is_help=True)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

MAX_FILE_BYTES = 512 * 1024 * 1024


def _read(path: Path, what: str) -> str:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise OSError("file is too large")
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        err.print(f"cannot read {what} {path}: {exc}")
        raise typer.Exit(2) from None


def _trusted(document: Mapping[str, Any], key_file: Path | None) -> dict[str, chain.TrustedKey]:
    try:
        if key_file is not None:
            return keys.trusted_keys(_read(key_file, "key file"))
        if document.get("keys"):
            err.print(
                "note: no --key given: checked against the keys inside the file itself, which proves "
                "integrity, not who signed; pass --key (GET .../audit-keys) for that"
            )
            return keys.keys_from_records(document["keys"])
    except keys.AuditKeyError as exc:
        err.print(f"audit verify failed: {exc}")
        raise typer.Exit(1) from None
    err.print("no trusted key: pass --key FILE (a public key, or the GET .../audit-keys answer)")
    raise typer.Exit(2)


def _fail(problems: list[str]) -> None:
    for problem in problems:
        err.print(f"audit verify failed: {problem}")
    raise typer.Exit(1)


def _verify_one(document: Mapping[str, Any], trusted: dict[str, chain.TrustedKey]) -> None:
    envelope = document.get("envelope", document)
    try:
        verified, problems = chain.verify_package(envelope, trusted)
    except dsse.EnvelopeError as exc:
        _fail([str(exc)])
        return
    shown = document.get("audit_package")
    if shown is not None and shown != verified.document:
        problems.append("audit_package differs from the signed payload (it was changed after signing)")
    if problems:
        _fail(problems)
    signed = verified.document
    out.print(
        f"verified audit package {signed.get('audit_id')} (sequence {signed.get('sequence')}, "
        f"{signed.get('route_count')} routes, {signed.get('alert_level')}), key {verified.key_id[:16]}"
    )


@audit_app.command()
def verify(
    file: Path = typer.Argument(..., help="A package or an exported chain (JSON)"),
    key: Path | None = typer.Option(None, "--key", help="Trusted public key(s): PEM, or the audit-keys JSON"),
    allow_partial: bool = typer.Option(
        False, "--allow-partial", help="The chain may start after sequence 1 (an export from a later package)"
    ),
) -> None:
    """Check a signed audit package or an exported chain offline; exit 1 on any problem."""
    try:
        document = json.loads(_read(file, "file"))
    except ValueError:
        err.print(f"{file} is not JSON")
        raise typer.Exit(2) from None
    if not isinstance(document, dict):
        _fail(["the file is not a package or an exported chain"])
    trusted = _trusted(document, key)
    if "packages" not in document:
        _verify_one(document, trusted)
        return
    envelopes = document["packages"]
    if not isinstance(envelopes, list):
        _fail(["packages is not a list"])
    report = chain.verify_chain(envelopes, trusted, document.get("statement"), allow_partial=allow_partial)
    if not report.ok:
        _fail(report.problems or ["nothing verified"])
    first, last = report.verified[0].get("sequence"), report.verified[-1].get("sequence")
    anchored = "with its signed export statement" if document.get("statement") else "(no export statement)"
    out.print(
        f"verified chain of {len(report.verified)} audit packages, sequence {first}..{last}, {anchored}"
    )
