"""Public-safe JSON metadata documents: loading them and reading their fields.

A file problem is never raised: it comes back as the original CAVRA's plain message, which the
evaluations turn into an "empty" summary so that a report can still be produced. Field readers
coerce values the way the original did, so derived summaries match it field for field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cavra_contracts.limits import MAX_FILE_BYTES

JsonObject = dict[str, Any]

PATH_NOT_CONFIGURED = "metadata path is not configured"
FILE_MISSING = "metadata file is missing"
INVALID_JSON = "metadata JSON is invalid: {error}"
NOT_AN_OBJECT = "metadata JSON must be an object"
FILE_UNREADABLE = "metadata file is unreadable: {error}"
FILE_TOO_LARGE = "metadata file is larger than {limit} bytes"


@dataclass(frozen=True)
class LoadedDocument:
    """The outcome of loading one metadata file: a document, or the problem that prevented it."""

    document: JsonObject | list[Any] | None
    problem: str | None = None

    def as_object(self) -> JsonObject | None:
        """The document when it is a single JSON object, else None."""
        return self.document if isinstance(self.document, dict) else None

    def entries(self) -> list[LoadedDocument]:
        """One loaded document per entry: each element of a list file, or this document itself."""
        if isinstance(self.document, list):
            return [_entry(item) for item in self.document]
        return [self]


def load_json_document(
    path: str, *, allow_list: bool = False, max_bytes: int = MAX_FILE_BYTES
) -> LoadedDocument:
    """Load a JSON object from `path`; with `allow_list`, a non-empty JSON list is accepted too.

    Schedule files may hold several schedules as a list; history files are always one object.
    A file larger than `max_bytes` is a problem, never read whole.
    """
    if not path:
        return LoadedDocument(None, PATH_NOT_CONFIGURED)
    file = Path(path)
    try:
        if not file.is_file():
            return LoadedDocument(None, FILE_MISSING)
        with file.open("rb") as stream:
            raw = stream.read(max_bytes + 1)
    except OSError as exc:
        return LoadedDocument(None, FILE_UNREADABLE.format(error=exc))
    if len(raw) > max_bytes:
        return LoadedDocument(None, FILE_TOO_LARGE.format(limit=max_bytes))
    try:
        parsed = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        # ValueError covers both JSONDecodeError and UnicodeDecodeError.
        return LoadedDocument(None, INVALID_JSON.format(error=exc))
    if isinstance(parsed, dict) or (allow_list and isinstance(parsed, list) and parsed):
        return LoadedDocument(parsed)
    return LoadedDocument(None, NOT_AN_OBJECT)


def _entry(item: object) -> LoadedDocument:
    if isinstance(item, dict):
        return LoadedDocument(item)
    return LoadedDocument(None, NOT_AN_OBJECT)


def text(value: object) -> str:
    """A field as text, as the original's `str(...)`; an absent or null field reads as empty."""
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def positive_number(value: object) -> int | float | None:
    """The value when it is an int or float above zero, else None; booleans are not numbers here."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        return None
    return value


def is_positive_number(value: object) -> bool:
    """True for an int or float above zero; booleans are not numbers here."""
    return positive_number(value) is not None


def is_string_list(value: object) -> bool:
    """True for a list whose items are all strings (an empty list included)."""
    return isinstance(value, list) and all(isinstance(item, str) for item in value)
