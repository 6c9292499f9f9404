"""Report windows on day boundaries of an IANA time zone, and when a cadence runs next (pure).

An interval that divides a day splits each *local* day from midnight into windows of that many
minutes, the last one ending at the next local midnight (so it is shorter or longer on the days
of a DST change). A whole-day interval of ``n`` days starts at the local midnight of every ``n``-th
day counted from Monday 2024-01-01, so weekly windows start on Mondays. A daily window is local
midnight to midnight: 23 or 25 hours across a DST change.

A run covers the latest *complete* window (the one that ended at or before it) and compares it
with the window before. A cadence runs at each window end, or with ``at_local_time`` at that local
time on the day the window ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from cavra_contracts.executive import DAY_MINUTES

EPOCH: Final = date(2024, 1, 1)
"""A Monday: multi-day windows count their days from here."""
MAX_STEPS: Final = 4
"""Windows looked at when finding the next run (a run time lies at most a window ahead)."""


@dataclass(frozen=True)
class Window:
    """``[start, end)`` in UTC."""

    start: datetime
    end: datetime

    @property
    def minutes(self) -> int:
        return int((self.end - self.start).total_seconds() // 60)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=zone).astimezone(UTC)


def window_containing(at: datetime, interval_minutes: int, zone: ZoneInfo) -> Window:
    """The window of the cadence that contains ``at`` (an aware datetime)."""
    local_day = at.astimezone(zone).date()
    if interval_minutes % DAY_MINUTES == 0:
        days = interval_minutes // DAY_MINUTES
        first = local_day - timedelta(days=(local_day - EPOCH).days % days)
        return Window(_midnight(first, zone), _midnight(first + timedelta(days=days), zone))
    day_start = _midnight(local_day, zone)
    day_end = _midnight(local_day + timedelta(days=1), zone)
    step = timedelta(minutes=interval_minutes)
    index = int((at.astimezone(UTC) - day_start) // step)
    start = day_start + index * step
    return Window(start, min(start + step, day_end))


def previous_window(window: Window, interval_minutes: int, zone: ZoneInfo) -> Window:
    """The window that ends where ``window`` starts."""
    return window_containing(window.start - timedelta(microseconds=1), interval_minutes, zone)


def next_window(window: Window, interval_minutes: int, zone: ZoneInfo) -> Window:
    """The window that starts where ``window`` ends."""
    return window_containing(window.end, interval_minutes, zone)


def latest_complete(at: datetime, interval_minutes: int, zone: ZoneInfo) -> Window:
    """The newest window that ended at or before ``at``."""
    return previous_window(window_containing(at, interval_minutes, zone), interval_minutes, zone)


def run_time(window: Window, zone: ZoneInfo, at_local_time: str | None) -> datetime:
    """When the run reporting ``window`` is due: its end, or ``at_local_time`` on the local day it ends."""
    if at_local_time is None:
        return window.end
    hours, minutes = (int(part) for part in at_local_time.split(":"))
    day = window.end.astimezone(zone).date()
    return datetime.combine(day, time(hours, minutes), tzinfo=zone).astimezone(UTC)


def next_run(after: datetime, interval_minutes: int, zone: ZoneInfo, at_local_time: str | None) -> datetime:
    """The first run time of the cadence strictly after ``after``."""
    window = latest_complete(after, interval_minutes, zone)
    for _ in range(MAX_STEPS):
        due = run_time(window, zone, at_local_time)
        if due > after:
            return due
        window = next_window(window, interval_minutes, zone)
    raise AssertionError("a run time lies within a few windows")  # pragma: no cover


def reported_window(
    due: datetime, interval_minutes: int, zone: ZoneInfo, at_local_time: str | None
) -> Window:
    """The window a run due at ``due`` reports: the latest complete one whose run time is not after it."""
    window = latest_complete(due, interval_minutes, zone)
    for _ in range(MAX_STEPS):
        if run_time(window, zone, at_local_time) <= due:
            return window
        window = previous_window(window, interval_minutes, zone)
    raise AssertionError("a reported window lies within a few windows")  # pragma: no cover


__all__ = [
    "Window",
    "latest_complete",
    "next_run",
    "next_window",
    "previous_window",
    "reported_window",
    "run_time",
    "window_containing",
]
