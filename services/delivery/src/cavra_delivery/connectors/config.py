"""Load ``CAVRA_CONNECTOR_CONFIG``: one entry per named connector, each checked on its own.

A broken entry becomes a problem for that connector alone; only a file that cannot be read or
parsed as an object raises. Messages name the connector, the field and the environment variable,
never a value. Secrets (and URLs, which often embed tokens) are held in ``SecretStr``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any, Literal, cast, get_args
from urllib.parse import urlsplit

import yaml
from pydantic import SecretStr

from cavra_delivery.connectors.redaction import target_host

ConnectorType = Literal["slack", "teams", "jira", "servicenow", "webhook", "siem"]
CONNECTOR_TYPES: frozenset[str] = frozenset(get_args(ConnectorType))
TYPE_ALIASES: Mapping[str, ConnectorType] = {"splunk": "siem", "splunk_hec": "siem", "hec": "siem"}

SECRET_KEYS = ("token", "email", "api_token", "username", "password", "secret")
OPTION_KEYS = (
    "project_key",
    "issue_type",
    "index",
    "source",
    "sourcetype",
    "assignment_group",
    "caller_id",
)
OPTION_DEFAULTS: Mapping[ConnectorType, Mapping[str, str]] = {
    "jira": {"issue_type": "Task"},
    "siem": {"source": "cavra-drillops", "sourcetype": "_json"},
}
WEBHOOK_SECRET_PREFIX = "whsec_"
# These connectors append API paths to a base URL, so the URL must be a bare base.
_BASE_URL_TYPES = frozenset({"jira", "servicenow", "siem"})


class ConnectorConfigError(ValueError):
    """The config file as a whole is unusable (missing, unreadable, not JSON/YAML, not an object)."""


class _EntryProblem(Exception):
    pass


@dataclass(frozen=True, slots=True)
class ConnectorConfig:
    """One enabled, valid connector. ``url`` and ``secrets`` are ``SecretStr``; ``options`` are not secret."""

    name: str
    type: ConnectorType
    url: SecretStr
    secrets: Mapping[str, SecretStr] = field(default_factory=dict)
    options: Mapping[str, str] = field(default_factory=dict)
    retries: int | None = None
    """This connector's retry budget; a request's own ``retries`` wins over it."""
    timeout_seconds: float | None = None
    """This connector's per-attempt timeout; a request's own ``timeout_seconds`` wins over it."""

    @property
    def host(self) -> str:
        """The target host (and explicit port): the only part of the URL evidence may hold."""
        return target_host(self.url.get_secret_value())

    def secret(self, key: str) -> str | None:
        """The plain value of one credential, or ``None`` when it is not configured."""
        value = self.secrets.get(key)
        return value.get_secret_value() if value is not None else None

    def __repr__(self) -> str:
        return (
            f"ConnectorConfig(name={self.name!r}, type={self.type!r}, host={self.host!r}, "
            f"secrets={sorted(self.secrets)!r}, options={dict(self.options)!r})"
        )

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class ConnectorSet:
    """The usable connectors by name, and one problem message per broken entry."""

    connectors: dict[str, ConnectorConfig] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)

    def names(self) -> list[str]:
        """Names of the usable connectors (never disabled, unknown or broken entries), sorted."""
        return sorted(self.connectors)

    def of_type(self, connector_type: str) -> list[ConnectorConfig]:
        """Usable connectors of one type (normalised, aliases accepted), sorted by name."""
        wanted = normalise_type(connector_type)
        return [self.connectors[name] for name in self.names() if self.connectors[name].type == wanted]


def normalise_type(value: str) -> str:
    """Lower-case, trim, ``-`` -> ``_``, and map aliases (``splunk`` -> ``siem``)."""
    key = value.strip().lower().replace("-", "_")
    return TYPE_ALIASES.get(key, key)


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
        except _EntryProblem as problem:
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
        raise _EntryProblem("config must be an object")
    enabled = entry.get("enabled", True)
    if not isinstance(enabled, bool):
        raise _EntryProblem("field 'enabled' must be true or false")
    if not enabled:
        return None
    raw_type = entry.get("type", name)
    if not isinstance(raw_type, str) or not raw_type.strip():
        raise _EntryProblem("field 'type' must be a non-empty string")
    connector_type = normalise_type(raw_type)
    if connector_type not in CONNECTOR_TYPES:
        expected = ", ".join(sorted(CONNECTOR_TYPES | set(TYPE_ALIASES)))
        raise _EntryProblem(f"unknown type {raw_type.strip()!r} (expected one of {expected})")
    kind = cast(ConnectorType, connector_type)

    url = _field(entry, "url", environ)
    if url is None:
        raise _EntryProblem("must configure url or url_env")
    _check_url(url, base_only=kind in _BASE_URL_TYPES)
    secrets = {key: value for key in SECRET_KEYS if (value := _field(entry, key, environ)) is not None}
    options = dict(OPTION_DEFAULTS.get(kind, {}))
    options.update({key: value for key in OPTION_KEYS if (value := _field(entry, key, environ)) is not None})
    _check_credentials(kind, secrets, options)
    return ConnectorConfig(
        name=name,
        type=kind,
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
        raise _EntryProblem(f"field {key!r} must be a number")
    if not low <= value <= high:
        raise _EntryProblem(f"field {key!r} must be between {low:g} and {high:g}")
    return kind(value)


def _field(entry: Mapping[str, Any], key: str, environ: Mapping[str, str]) -> str | None:
    env_key = f"{key}_env"
    if key in entry and env_key in entry:
        raise _EntryProblem(f"set either {key!r} or {env_key!r}, not both")
    if env_key in entry:
        variable = entry[env_key]
        if not isinstance(variable, str) or not variable.strip():
            raise _EntryProblem(f"field {env_key!r} must name an environment variable")
        value = environ.get(variable.strip(), "")
        if not value.strip():
            raise _EntryProblem(f"environment variable {variable.strip()} (for {key!r}) is not set")
        return value.strip()
    if key not in entry:
        return None
    value = entry[key]
    if not isinstance(value, str) or not value.strip():
        raise _EntryProblem(f"field {key!r} must be a non-empty string")
    return value.strip()


def _check_url(url: str, *, base_only: bool) -> None:
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        port_ok = False
    if not port_ok or parts.scheme not in ("http", "https") or not parts.hostname:
        raise _EntryProblem("field 'url' must be an absolute http(s) URL")
    if base_only and (parts.query or parts.fragment):
        raise _EntryProblem("field 'url' must be a base URL without query or fragment")


def _check_credentials(kind: ConnectorType, secrets: Mapping[str, str], options: Mapping[str, str]) -> None:
    if kind == "jira":
        if "project_key" not in options:
            raise _EntryProblem("must configure project_key (or project_key_env)")
        _one_auth(secrets, bearer="token", basic=("email", "api_token"))
    elif kind == "servicenow":
        _one_auth(secrets, bearer="token", basic=("username", "password"))
    elif kind == "siem" and "token" not in secrets:
        raise _EntryProblem("must configure token (or token_env) for the HEC 'Authorization: Splunk' header")
    elif kind == "webhook" and "secret" in secrets and not _is_webhook_secret(secrets["secret"]):
        raise _EntryProblem("field 'secret' must be a Standard Webhooks secret (whsec_<base64>)")


def _is_webhook_secret(secret: str) -> bool:
    # The signing library decodes leniently (it skips non-base64 characters): check strictly here.
    encoded = secret.removeprefix(WEBHOOK_SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except binascii.Error:
        return False
    return bool(key)


def _one_auth(secrets: Mapping[str, str], *, bearer: str, basic: tuple[str, str]) -> None:
    user, password = basic
    has_basic = [key for key in basic if key in secrets]
    if bearer in secrets and has_basic:
        raise _EntryProblem(
            f"configure either {bearer!r} (Bearer) or {user!r} + {password!r} (Basic), not both"
        )
    if bearer in secrets:
        return
    if len(has_basic) == 1:
        missing = password if has_basic[0] == user else user
        raise _EntryProblem(f"must configure {missing!r} (or {missing}_env) together with {has_basic[0]!r}")
    if not has_basic:
        raise _EntryProblem(f"must configure {user!r} + {password!r} (Basic) or {bearer!r} (Bearer)")
