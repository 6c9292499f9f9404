"""Executive report windows lie on local day boundaries (§9: not the top of the hour), across DST."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from cavra_contracts.executive import ExecutiveScheduleV1, interval_problem
from cavra_reporting.executive import windows

BERLIN = ZoneInfo("Europe/Berlin")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def test_a_daily_window_is_local_midnight_to_midnight_and_23_hours_on_the_march_change() -> None:
    # 2026-03-29 02:00 CET -> 03:00 CEST
    window = windows.window_containing(utc(2026, 3, 29, 12, 0), 1440, BERLIN)
    assert window.start == utc(2026, 3, 28, 23, 0)  # 00:00 CET
    assert window.end == utc(2026, 3, 29, 22, 0)  # 00:00 CEST
    assert window.minutes == 23 * 60
    before = windows.previous_window(window, 1440, BERLIN)
    assert (before.start, before.minutes) == (utc(2026, 3, 27, 23, 0), 24 * 60)


def test_a_daily_window_is_25_hours_on_the_october_change() -> None:
    # 2026-10-25 03:00 CEST -> 02:00 CET
    window = windows.window_containing(utc(2026, 10, 25, 12, 0), 1440, BERLIN)
    assert window.start == utc(2026, 10, 24, 22, 0)
    assert window.end == utc(2026, 10, 25, 23, 0)
    assert window.minutes == 25 * 60


@pytest.mark.parametrize(
    ("day_before", "day_after", "run_before", "run_after"),
    [
        # March: 08:00 CET = 07:00 UTC, then 08:00 CEST = 06:00 UTC
        (utc(2026, 3, 28, 1, 0), utc(2026, 3, 29, 1, 0), utc(2026, 3, 28, 7, 0), utc(2026, 3, 29, 6, 0)),
        # October: 08:00 CEST = 06:00 UTC, then 08:00 CET = 07:00 UTC
        (utc(2026, 10, 24, 1, 0), utc(2026, 10, 25, 1, 0), utc(2026, 10, 24, 6, 0), utc(2026, 10, 25, 7, 0)),
    ],
)
def test_a_run_at_0800_local_moves_by_an_hour_in_utc_across_the_change(
    day_before: datetime, day_after: datetime, run_before: datetime, run_after: datetime
) -> None:
    assert windows.next_run(day_before, 1440, BERLIN, "08:00") == run_before
    assert windows.next_run(run_before, 1440, BERLIN, "08:00") == run_after
    assert windows.next_run(day_after, 1440, BERLIN, "08:00") == run_after
    reported = windows.reported_window(run_after, 1440, BERLIN, "08:00")
    assert reported.end == windows.window_containing(run_after, 1440, BERLIN).start  # the day before


def test_without_a_local_time_a_daily_cadence_runs_at_local_midnight() -> None:
    assert windows.next_run(utc(2026, 3, 29, 12, 0), 1440, BERLIN, None) == utc(2026, 3, 29, 22, 0)
    assert windows.next_run(utc(2026, 3, 29, 22, 0), 1440, BERLIN, None) == utc(2026, 3, 30, 22, 0)


def test_hourly_windows_start_on_the_hour_and_a_long_day_has_25_of_them() -> None:
    window = windows.window_containing(utc(2026, 5, 1, 10, 42, 7), 60, BERLIN)
    assert (window.start, window.end) == (utc(2026, 5, 1, 10, 0), utc(2026, 5, 1, 11, 0))
    start = windows.window_containing(utc(2026, 10, 25, 0, 0), 1440, BERLIN)
    hours = []
    window = windows.window_containing(start.start, 60, BERLIN)
    for _ in range(30):
        if window.start >= start.end:
            break
        hours.append(window)
        window = windows.next_window(window, 60, BERLIN)
    assert len(hours) == 25
    assert all(hour.minutes == 60 for hour in hours)


def test_a_six_hour_interval_ends_the_short_day_with_a_five_hour_window() -> None:
    last = windows.window_containing(utc(2026, 3, 29, 21, 30), 360, BERLIN)
    assert last.end == utc(2026, 3, 29, 22, 0)
    assert last.minutes == 5 * 60


def test_weekly_windows_start_on_local_monday_midnight() -> None:
    window = windows.window_containing(utc(2026, 12, 3, 15, 0), 10080, BERLIN)  # a Thursday
    local = window.start.astimezone(BERLIN)
    assert (local.weekday(), local.hour, local.minute) == (0, 0, 0)
    assert window.end - window.start == timedelta(days=7)
    latest = windows.latest_complete(utc(2026, 12, 3, 15, 0), 10080, BERLIN)
    assert latest.end == window.start


def test_the_1440_window_is_not_the_top_of_the_hour_in_utc() -> None:
    window = windows.window_containing(utc(2026, 6, 1, 13, 25), 1440, ZoneInfo("UTC"))
    assert (window.start, window.end) == (utc(2026, 6, 1), utc(2026, 6, 2))


@pytest.mark.parametrize("minutes", [0, 7, 100, 1441, 43_201])
def test_intervals_off_day_boundaries_or_out_of_range_are_refused(minutes: int) -> None:
    assert interval_problem(minutes)
    with pytest.raises(ValidationError) as raised:
        ExecutiveScheduleV1(interval_minutes=minutes)
    assert raised.value.errors()[0]["loc"] == ("interval_minutes",)


@pytest.mark.parametrize("minutes", [15, 60, 360, 1440, 10080, 43_200])
def test_intervals_on_day_boundaries_are_accepted(minutes: int) -> None:
    assert interval_problem(minutes) is None


@pytest.mark.parametrize("zone", ["Mars/Olympus", "../etc/passwd", "Europe/Berlin "])
def test_a_time_zone_must_be_iana(zone: str) -> None:
    with pytest.raises(ValidationError) as raised:
        ExecutiveScheduleV1(time_zone=zone)
    assert raised.value.errors()[0]["loc"] == ("time_zone",)
