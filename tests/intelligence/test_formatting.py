import datetime as dt

import pytest

from gitpulse_app.intelligence.formatting import (
    format_date_range,
    format_relative_time,
    format_report_date,
    format_short_date,
    format_time,
)

UTC = dt.UTC
CHICAGO = "America/Chicago"


def utc(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=UTC)


def test_report_date_is_the_local_date_in_words():
    assert format_report_date(utc(2025, 12, 5, 1), CHICAGO) == "December 4, 2025"
    assert format_report_date(utc(2025, 12, 5, 15), CHICAGO) == "December 5, 2025"


def test_short_date_has_no_leading_zero():
    assert format_short_date(utc(2025, 12, 5, 15), "UTC") == "Dec 5"


def test_date_range_uses_the_last_covered_instant():
    assert format_date_range(utc(2025, 12, 1, 6), utc(2025, 12, 8, 6), CHICAGO) == \
        "Dec 1 - Dec 7, 2025"


def test_date_range_shows_the_start_year_only_when_years_differ():
    assert format_date_range(utc(2025, 12, 29), utc(2026, 1, 5), "UTC") == \
        "Dec 29, 2025 - Jan 4, 2026"


def test_time_is_a_twelve_hour_clock():
    assert format_time(utc(2025, 12, 5, 15), CHICAGO) == "9:00 AM"
    assert format_time(utc(2025, 12, 5, 18, 5), CHICAGO) == "12:05 PM"
    assert format_time(utc(2025, 12, 5, 6, 30), CHICAGO) == "12:30 AM"
    assert format_time(utc(2025, 12, 5, 23, 59), "UTC") == "11:59 PM"


NOW = utc(2025, 12, 5, 15)


@pytest.mark.parametrize(("ago", "expected"), [
    (dt.timedelta(seconds=59), "just now"),
    (dt.timedelta(seconds=-300), "just now"),  # the future
    (dt.timedelta(minutes=1), "1 minute ago"),
    (dt.timedelta(minutes=59, seconds=59), "59 minutes ago"),
    (dt.timedelta(hours=1), "1 hour ago"),
    (dt.timedelta(hours=23, minutes=59), "23 hours ago"),
    (dt.timedelta(hours=24), "yesterday"),
    (dt.timedelta(hours=47, minutes=59), "yesterday"),
    (dt.timedelta(hours=48), "2 days ago"),
    (dt.timedelta(days=6, hours=23), "6 days ago"),
    (dt.timedelta(days=7), "Nov 28"),
])
def test_relative_time(ago, expected):
    assert format_relative_time(NOW - ago, NOW, "UTC") == expected


def test_relative_time_falls_back_to_the_local_short_date():
    assert format_relative_time(utc(2025, 11, 1, 3), NOW, CHICAGO) == "Oct 31"
