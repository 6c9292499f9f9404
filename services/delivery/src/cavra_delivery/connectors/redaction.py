"""Keep secrets out of delivery evidence: host-only targets, text redaction, in-place scrubbing.

:func:`scrub` is what the delivery service runs on everything it keeps: it never raises, it
replaces each secret (raw or URL-encoded) inside a string with ``[REDACTED]`` and says where
it did, so the caller can keep the evidence and raise an alarm. :func:`assert_clean` is the
strict detector tests use.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit

REDACTED = "[REDACTED]"
UNKNOWN_HOST = "unknown-host"


class SecretLeakError(AssertionError):
    """A secret was found where only redacted evidence may be; the message names the place, not the secret."""


@functools.lru_cache(maxsize=256)
def target_host(url: str) -> str:
    """The host of ``url`` (lower-case, port kept when explicit); never userinfo, path, query or fragment.

    Cached: every route's evidence asks for its connector's host, and connectors are few."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
        port = parts.port
    except ValueError:
        return UNKNOWN_HOST
    if not host:
        return UNKNOWN_HOST
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{port}" if port is not None else host


def _encoded_forms(secret: str) -> set[str]:
    forms = {secret, quote(secret, safe=""), quote(secret), quote_plus(secret)}
    forms |= {re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), form) for form in set(forms)}
    return {form for form in forms if form}


def secret_pattern(secrets: Iterable[str]) -> re.Pattern[str] | None:
    """One compiled alternation of every form of ``secrets`` (``None`` when there are none); cached."""
    return _compiled(tuple(sorted(set(secrets))))


@functools.lru_cache(maxsize=32)
def _compiled(secrets: tuple[str, ...]) -> re.Pattern[str] | None:
    """One alternation per set of secrets, compiled once (the set changes only with the config)."""
    forms: set[str] = set()
    for secret in secrets:
        if secret:
            forms |= _encoded_forms(secret)
    if not forms:
        return None
    # Longest first, so a URL is replaced whole before a token inside it is.
    return re.compile("|".join(re.escape(form) for form in sorted(forms, key=len, reverse=True)))


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret, raw or URL-encoded, replaced by ``[REDACTED]``."""
    pattern = secret_pattern(secrets)
    return pattern.sub(REDACTED, text) if pattern else text


def scrub(obj: Any, pattern: re.Pattern[str] | None, where: str = "$") -> tuple[Any, list[str]]:
    """``obj`` (JSON-like: mappings, lists, tuples, strings, scalars) with every secret in its
    strings and keys replaced by ``[REDACTED]``, and the places that changed (paths, no values).

    Unchanged parts are returned as they are (no copy), so a clean document costs one walk.
    """
    if pattern is None:
        return obj, []
    if isinstance(obj, str):
        return (pattern.sub(REDACTED, obj), [where]) if pattern.search(obj) else (obj, [])
    if isinstance(obj, Mapping):
        places: list[str] = []
        items: list[tuple[Any, Any]] = []
        for key, value in obj.items():
            new_key, key_places = scrub(key, pattern, f"{where}.<key>")
            new_value, value_places = scrub(value, pattern, f"{where}.{new_key}")
            places += key_places + value_places
            items.append((new_key, new_value))
        return (dict(items), places) if places else (obj, [])
    if isinstance(obj, list | tuple):
        places = []
        values = []
        for index, item in enumerate(obj):
            new_item, item_places = scrub(item, pattern, f"{where}[{index}]")
            places += item_places
            values.append(new_item)
        return (type(obj)(values), places) if places else (obj, [])
    return obj, []


def _walk(obj: Any, where: str) -> Iterable[tuple[str, str]]:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        yield where, repr(obj)
        obj = dataclasses.asdict(obj)
    if isinstance(obj, str):
        yield where, obj
    elif isinstance(obj, bytes):
        yield where, obj.decode("utf-8", errors="replace")
    elif isinstance(obj, Mapping):
        for key, value in obj.items():
            yield from _walk(key, f"{where}.<key>")
            yield from _walk(value, f"{where}.{key}")
    elif isinstance(obj, list | tuple | set | frozenset):
        for index, item in enumerate(obj):
            yield from _walk(item, f"{where}[{index}]")
    elif isinstance(obj, BaseException):
        yield where, str(obj)
        yield where, repr(obj)
    elif obj is not None and not isinstance(obj, int | float | bool):
        yield where, str(obj)


def assert_clean(obj: Any, secrets: Iterable[str]) -> None:
    """Raise :class:`SecretLeakError` if any secret (raw or URL-encoded) occurs anywhere in ``obj``.

    Walks mappings (keys and values), sequences, sets, strings, bytes, dataclasses and exceptions.
    """
    pattern = secret_pattern(secrets)
    if pattern is None:
        return
    for where, text in _walk(obj, "$"):
        if pattern.search(text):
            raise SecretLeakError(f"a secret occurs in {where}")
