"""Load ``CAVRA_CONNECTOR_CONFIG``: one entry per named connector, each checked on its own.

A broken entry becomes a problem for that connector alone; only a file that cannot be read or
parsed as an object raises. Messages name the connector, the field and the environment variable,
never a value. Secrets (and URLs, which often embed tokens) are held in ``SecretStr``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from os import PathLike
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from pydantic import SecretStr

from cavra_delivery.connectors.model import ConnectorConfig, ConnectorSet, ConnectorType
from cavra_delivery.connectors.providers import (
    CONNECTOR_TYPES,
    PROVIDERS,
    TYPE_ALIASES,
    EntryProblem,
    normalise_type,
)

__all__ = [
    "CONNECTOR_TYPES",
    "ConnectorConfig",
    "ConnectorConfigError",
    "ConnectorSet",
    "ConnectorType",
    "load_connector_config",
    "normalise_type",
    "parse_connector_config",
    "secret_values",
]

SECRET_KEYS = ("token", "email", "api_token", "username", "password", "secret")
"""Credentials any provider may read; held as ``SecretStr`` and listed for redaction."""


class ConnectorConfigError(ValueError):
    """The config file as a whole is unusable (missing, unreadable, not JSON/YAML, not an object)."""


def load_connector_config(path: str | PathLike[str], environ: Mapping[str, str]) -> ConnectorSet:
    """Read the connector file (JSON, or YAML by ``.yaml``/``.yml`` suffix) and check every entry."""
    return parse_connector_config(_read(Path(path)), environ)


def parse_connector_config(document: Any, environ: Mapping[str, str]) -> ConnectorSet:
    """Check a parsed document: ``{"connectors": {...}}``, ``{"providers": {...}}`` or the map itself."""
    if not isinstance(document, Mapping):
        raise ConnectorConfigError("connector config must be an object")
    entries: Any = document
    for key in ("connectors", "providers"):
        if key in document:
            entries = document[key]
            if not isinstance(entries, Mapping):
                raise ConnectorConfigError(f"connector config {key!r} must be an object of connectors")
            break
    connectors: dict[str, ConnectorConfig] = {}
    problems: dict[str, str] = {}
    for raw_name, entry in entries.items():
        name = str(raw_name).strip()
        try:
            connector = _connector(name, entry, environ)
        except EntryProblem as problem:
            problems[name] = f"connector {name}: {problem}"
            continue
        if connector is not None:
            connectors[name] = connector
    return ConnectorSet(connectors=connectors, problems=problems)


def secret_values(connector_set: ConnectorSet) -> list[str]:
    """Every string that must never reach evidence or logs: credentials, derived auth values, full URLs.

    A URL is listed whole, and so are its path-and-query part and its query, because webhook
    URLs (Slack, Teams, generic) carry their token in the path or the query.
    """
    values: set[str] = set()
    for connector in connector_set.connectors.values():
        url = connector.url.get_secret_value()
        values.add(url)
        parts = urlsplit(url)
        tail = url[url.index(parts.netloc) + len(parts.netloc) :] if parts.netloc else ""
        if tail.strip("/"):
            values.add(tail)
        if parts.query:
            values.add(parts.query)
        if parts.password:
            values.add(parts.password)
        for key, secret in connector.secrets.items():
            if key not in ("email", "username"):
                values.add(secret.get_secret_value())
        for user_key, password_key in (("email", "api_token"), ("username", "password")):
            user, password = connector.secret(user_key), connector.secret(password_key)
            if user is not None and password is not None:
                values.add(base64.b64encode(f"{user}:{password}".encode()).decode())
    return sorted(value for value in values if value)


def _read(path: Path) -> Any:
    if not str(path) or not path.exists():
        raise ConnectorConfigError(f"connector config not found: {path}")
    if not path.is_file():
        raise ConnectorConfigError(f"connector config is not a file: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConnectorConfigError(f"cannot read connector config {path}: {reason}") from None
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            # str(exc) quotes the offending line, which may hold a secret: report the position only.
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            raise ConnectorConfigError(f"connector config {path} is not valid YAML{where}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConnectorConfigError(
            f"connector config {path} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None


def _connector(name: str, entry: Any, environ: Mapping[str, str]) -> ConnectorConfig | None:
    if not isinstance(entry, Mapping):
        raise EntryProblem("config must be an object")
    enabled = entry.get("enabled", True)
    if not isinstance(enabled, bool):
        raise EntryProblem("field 'enabled' must be true or false")
    if not enabled:
        return None
    raw_type = entry.get("type", name)
    if not isinstance(raw_type, str) or not raw_type.strip():
        raise EntryProblem("field 'type' must be a non-empty string")
    connector_type = normalise_type(raw_type)
    if connector_type not in PROVIDERS:
        expected = ", ".join(sorted(set(PROVIDERS) | set(TYPE_ALIASES)))
        raise EntryProblem(f"unknown type {raw_type.strip()!r} (expected one of {expected})")
    provider = PROVIDERS[connector_type]

    url = _field(entry, "url", environ)
    if url is None:
        raise EntryProblem("must configure url or url_env")
    _check_url(url, base_only=provider.base_url)
    secrets = {key: value for key in SECRET_KEYS if (value := _field(entry, key, environ)) is not None}
    options = dict(provider.option_defaults)
    options.update(
        {key: value for key in provider.option_keys if (value := _field(entry, key, environ)) is not None}
    )
    provider.check(secrets, options)
    return ConnectorConfig(
        name=name,
        type=connector_type,
        url=SecretStr(url),
        secrets={key: SecretStr(value) for key, value in secrets.items()},
        options=options,
        retries=_number(entry, "retries", int, low=0, high=10),
        timeout_seconds=_number(entry, "timeout_seconds", float, low=0.1, high=120.0),
    )


def _number(
    entry: Mapping[str, Any], key: str, kind: type[int] | type[float], *, low: float, high: float
) -> Any:
    """An optional numeric field (the connector's own retry budget or per-attempt timeout)."""
    if key not in entry:
        return None
    value = entry[key]
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or (kind is int and not isinstance(value, int))
    ):
        raise EntryProblem(f"field {key!r} must be a number")
    if not low <= value <= high:
        raise EntryProblem(f"field {key!r} must be between {low:g} and {high:g}")
    return kind(value)


def _field(entry: Mapping[str, Any], key: str, environ: Mapping[str, str]) -> str | None:
    env_key = f"{key}_env"
    if key in entry and env_key in entry:
        raise EntryProblem(f"set either {key!r} or {env_key!r}, not both")
    if env_key in entry:
        variable = entry[env_key]
        if not isinstance(variable, str) or not variable.strip():
            raise EntryProblem(f"field {env_key!r} must name an environment variable")
        value = environ.get(variable.strip(), "")
        if not value.strip():
            raise EntryProblem(f"environment variable {variable.strip()} (for {key!r}) is not set")
        return value.strip()
    if key not in entry:
        return None
    value = entry[key]
    if not isinstance(value, str) or not value.strip():
        raise EntryProblem(f"field {key!r} must be a non-empty string")
    return value.strip()


def _check_url(url: str, *, base_only: bool) -> None:
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        port_ok = False
    if not port_ok or parts.scheme not in ("http", "https") or not parts.hostname:
        raise EntryProblem("field 'url' must be an absolute http(s) URL")
    if base_only and (parts.query or parts.fragment):
        raise EntryProblem("field 'url' must be a base URL without query or fragment")
