"""Time rules shared by every service: parsing, rendering and day arithmetic of UTC instants.

Owns how metadata timestamps are parsed and rendered, how a span becomes a day count (rounded to
four decimals exactly as the original CAVRA did, which decides where boundaries really fall), and
the search for the first instant at which a time-driven evaluation changes its answer.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

SECONDS_PER_DAY = 86400
DAY_DECIMALS = 4
_LATEST_INSTANT = datetime.max.replace(tzinfo=UTC)


def as_utc(moment: datetime) -> datetime:
    """The same instant in UTC; a naive value is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def parse_timestamp(value: object) -> datetime | None:
    """An ISO-8601 text as an aware UTC datetime, or None when absent, not text or unparsable."""
    if not isinstance(value, str) or not value:
        return None
    normalized = value[:-1] + "+00:00" if value.endswith("Z") else value
    try:
        return as_utc(datetime.fromisoformat(normalized))
    except (ValueError, OverflowError):
        # OverflowError: an offset that pushes the instant past datetime's range in UTC.
        return None


def iso(moment: datetime) -> str:
    """Render an instant the way reports show it, e.g. `2026-05-20T10:00:00+00:00`."""
    return as_utc(moment).isoformat()


def days_between(later: datetime, earlier: datetime) -> float:
    """Days from `earlier` to `later` (negative when `later` is earlier), rounded to 4 decimals."""
    seconds = (as_utc(later) - as_utc(earlier)).total_seconds()
    return round(seconds / SECONDS_PER_DAY, DAY_DECIMALS)


def add_days(moment: datetime, days: float) -> datetime | None:
    """`moment` plus `days`, or None when the result cannot be represented."""
    try:
        return moment + timedelta(days=days)
    except (OverflowError, ValueError):
        return None


def add_days_capped(moment: datetime, days: float) -> datetime:
    """`moment` plus `days`, clamped to the latest representable instant."""
    return add_days(moment, days) or _LATEST_INSTANT


def first_change_after(
    start: datetime,
    horizon: datetime,
    changed: Callable[[datetime], bool],
) -> datetime | None:
    """The earliest instant in (start, horizon] at which `changed` holds, to the microsecond.

    `changed` must be monotonic over the interval (false, then true for good) and false at `start`.
    Returns None when it does not hold at `horizon`.
    """
    if horizon <= start or not changed(horizon):
        return None
    unchanged_offset = 0
    changed_offset = (horizon - start) // timedelta(microseconds=1)
    while changed_offset - unchanged_offset > 1:
        middle = (unchanged_offset + changed_offset) // 2
        if changed(start + timedelta(microseconds=middle)):
            changed_offset = middle
        else:
            unchanged_offset = middle
    return start + timedelta(microseconds=changed_offset)
