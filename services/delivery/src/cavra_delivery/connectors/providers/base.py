"""What a provider module declares: its type, how its config entry is checked, how its requests are
built and how the references in its answers are read.

The loader (``connectors/config.py``), the HTTP exchange (``connectors/http.py``) and the evidence
are generic; everything that differs between Slack, Teams, Jira, ServiceNow, webhooks and Splunk
HEC lives in one :class:`Provider` per module, registered in ``providers/__init__.py``.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cavra_delivery.connectors.model import ConnectorConfig
from cavra_delivery.connectors.notification import Notification
from cavra_delivery.connectors.payloads import HttpRequest

Builder = Callable[[ConnectorConfig, Notification, str, datetime], list[HttpRequest]]
"""(connector, notification, idempotency key, now) -> the steps of one exchange."""

ConfigCheck = Callable[[Mapping[str, str], Mapping[str, str]], None]
"""(credentials, options) -> None, or raises :class:`EntryProblem` naming what is missing or wrong."""

ReferenceReader = Callable[[Any], "str | None"]
"""A decoded JSON answer -> the issue key / incident number it holds, or None."""


class EntryProblem(Exception):
    """A connector entry cannot be used; the message names the field, never a value."""


def no_check(secrets: Mapping[str, str], options: Mapping[str, str]) -> None:
    """A provider that needs nothing beyond its URL."""


@dataclass(frozen=True)
class Provider:
    """One provider type: config rules, request builder and reference readers."""

    type: str
    build: Builder
    check: ConfigCheck = no_check
    aliases: tuple[str, ...] = ()
    """Other names accepted as ``type`` in the config file (normalised, e.g. ``splunk``)."""
    base_url: bool = False
    """The connector's URL is an instance base the builder appends API paths to: no query or fragment."""
    option_keys: tuple[str, ...] = ()
    """Non-secret settings read from the entry (``project_key``, ``index``, ...)."""
    option_defaults: Mapping[str, str] = field(default_factory=dict)
    existing_ref: ReferenceReader | None = None
    """For a ``lookup`` step's answer: the open issue/incident found (``ValueError`` on a bad shape)."""
    created_ref: ReferenceReader | None = None
    """For a ``create`` step's answer: the new issue key / incident number."""


def one_auth(secrets: Mapping[str, str], *, bearer: str, basic: tuple[str, str]) -> None:
    """Exactly one of Bearer (``bearer``) or Basic (both of ``basic``) credentials is configured."""
    user, password = basic
    has_basic = [key for key in basic if key in secrets]
    if bearer in secrets and has_basic:
        raise EntryProblem(
            f"configure either {bearer!r} (Bearer) or {user!r} + {password!r} (Basic), not both"
        )
    if bearer in secrets:
        return
    if len(has_basic) == 1:
        missing = password if has_basic[0] == user else user
        raise EntryProblem(f"must configure {missing!r} (or {missing}_env) together with {has_basic[0]!r}")
    if not has_basic:
        raise EntryProblem(f"must configure {user!r} + {password!r} (Basic) or {bearer!r} (Bearer)")


def auth_header(connector: ConnectorConfig, basic: tuple[str, str]) -> str:
    """``Authorization`` for a Bearer token, else Basic from the ``basic`` credential pair."""
    token = connector.secret("token")
    if token is not None:
        return f"Bearer {token}"
    user_key, password_key = basic
    pair = f"{connector.secret(user_key)}:{connector.secret(password_key)}"
    return f"Basic {base64.b64encode(pair.encode()).decode()}"
