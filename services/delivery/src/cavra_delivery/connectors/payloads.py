"""What every provider module builds its requests from: the request type and small shared helpers.

Pure: no I/O. A provider module (``providers/<type>.py``) turns a :class:`Notification` into the
:class:`HttpRequest` steps of one exchange with these.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import pydantic_core

from cavra_delivery.connectors.model import ConnectorConfig
from cavra_delivery.connectors.redaction import target_host

Step = Literal["send", "lookup", "create"]
"""``lookup`` searches for an existing issue/incident; ``create`` follows when none is found."""

USER_AGENT = "cavra-drillops-delivery/1"


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One request of an exchange. ``repr`` shows the host only: URL and headers may hold secrets."""

    method: str
    url: str
    headers: Mapping[str, str]
    json_body: Any = None
    content: bytes | None = None
    step: Step = "send"
    signed: bool | None = field(default=None, compare=False)

    def body(self) -> bytes | None:
        """The bytes to send: ``content`` as given, else ``json_body`` as compact UTF-8 JSON."""
        if self.content is not None:
            return self.content
        if self.json_body is None:
            return None
        return json_bytes(self.json_body)

    def __repr__(self) -> str:
        return f"HttpRequest(method={self.method!r}, host={target_host(self.url)!r}, step={self.step!r})"

    __str__ = __repr__


def first_text(item: Any, keys: Sequence[str]) -> str | None:
    """The first of ``keys`` in ``item`` (a mapping) holding a non-empty text or number, as text."""
    if isinstance(item, Mapping):
        for key in keys:
            value = item.get(key)
            if isinstance(value, str | int) and str(value):
                return str(value)
    return None


def base_headers(idempotency_key: str) -> dict[str, str]:
    """Headers every provider request carries: JSON, the idempotency key, our user agent."""
    return {"Content-Type": "application/json", "Idempotency-Key": idempotency_key, "User-Agent": USER_AGENT}


def url_of(connector: ConnectorConfig) -> str:
    """The connector's URL in plain text (only ever put into a request, never into evidence)."""
    return connector.url.get_secret_value()


def json_bytes(value: Any) -> bytes:
    """``value`` as compact UTF-8 JSON (pydantic-core's encoder: the same bytes as a compact
    ``json.dumps(..., ensure_ascii=False)``, about 5x faster on a notification)."""
    return pydantic_core.to_json(value, fallback=str)


def as_utc(now: datetime) -> datetime:
    """The same instant in UTC (a naive value is taken as UTC)."""
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)


def clip(text: str, limit: int) -> str:
    """``text`` shortened to ``limit`` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
