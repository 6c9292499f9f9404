"""Base classes shared by every contract model."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict

from cavra_contracts.limits import EARLIEST_TIMESTAMP, LATEST_TIMESTAMP
from cavra_contracts.subjects import MessageSpec


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:00-05:00 is past the end of the calendar in UTC
        raise ValueError("timestamp is out of range in UTC") from None


def _within_limits(value: datetime) -> datetime:
    moment = _as_utc(value)
    if not EARLIEST_TIMESTAMP <= moment <= LATEST_TIMESTAMP:
        raise ValueError(
            f"timestamp must be between {EARLIEST_TIMESTAMP:%Y-%m-%d} and {LATEST_TIMESTAMP:%Y-%m-%d} (UTC)"
        )
    return moment


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]
"""A timestamp: ISO 8601 in, aware UTC out (a trailing ``Z`` and naive values are accepted as UTC)."""

Timestamp = Annotated[datetime, AfterValidator(_within_limits)]
"""A timestamp from outside (request or file): a ``UtcDatetime`` between ``limits.EARLIEST_TIMESTAMP``
and ``limits.LATEST_TIMESTAMP``, so that date arithmetic on it can never leave the calendar."""


class Contract(BaseModel):
    """A message payload: frozen, and named by the ``MESSAGE`` metadata of its class.

    Tolerant reader: a consumer ignores fields it does not know, so a newer producer that adds an
    optional field during a rolling deploy never dead-letters messages at an older consumer.
    Strict writer: producers build contracts with keyword arguments, which mypy's pydantic plugin
    checks (``init_forbid_extra``), and the compatibility test holds every contract to its committed
    snapshot (add optional fields; never remove, rename, retype or require one).
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    MESSAGE: ClassVar[MessageSpec]


class Document(BaseModel):
    """A public document (file or report): frozen, and tolerant of fields added later."""

    model_config = ConfigDict(frozen=True, extra="allow", populate_by_name=True)

    def as_json_dict(self) -> dict[str, Any]:
        """JSON-ready dict, with the canonical field names."""
        return self.model_dump(mode="json", exclude_none=False)
