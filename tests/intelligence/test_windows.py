import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from gitpulse_app.intelligence.windows import (
    Window,
    WindowError,
    cli_window,
    day_window,
    is_day_window,
    is_week_window,
    last_completed_day,
    last_completed_week,
    local_date,
    resolve_zone,
    start_of_local_day,
    today_so_far,
    week_window,
)

UTC = dt.UTC
REFERENCE = dt.datetime(2025, 12, 5, 15, 0, tzinfo=UTC)
MONDAY, SUNDAY = 0, 6


def utc(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(("zone", "start", "end"), [
    ("America/Chicago", utc(2025, 12, 4, 6), utc(2025, 12, 5, 6)),
    ("Asia/Tokyo", utc(2025, 12, 4, 15), utc(2025, 12, 5, 15)),  # exactly local midnight
    ("UTC", utc(2025, 12, 4), utc(2025, 12, 5)),
    ("Asia/Kolkata", utc(2025, 12, 3, 18, 30), utc(2025, 12, 4, 18, 30)),
    ("Asia/Kathmandu", utc(2025, 12, 3, 18, 15), utc(2025, 12, 4, 18, 15)),
])
def test_yesterday_windows_at_the_reference_instant(zone, start, end):
    assert last_completed_day(REFERENCE, zone) == Window(start, end)


def test_chicago_spring_forward_day_lasts_23_hours():
    window = day_window(dt.date(2025, 3, 9), "America/Chicago")

    assert window == Window(utc(2025, 3, 9, 6), utc(2025, 3, 10, 5))
    assert window.duration == dt.timedelta(hours=23)


def test_chicago_fall_back_day_lasts_25_hours():
    window = day_window(dt.date(2025, 11, 2), "America/Chicago")

    assert window == Window(utc(2025, 11, 2, 5), utc(2025, 11, 3, 6))
    assert window.duration == dt.timedelta(hours=25)


def test_santiago_day_with_a_midnight_dst_gap_starts_at_one_am_local():
    zone = resolve_zone("America/Santiago")
    start = start_of_local_day(dt.date(2025, 9, 7), zone)

    assert start == utc(2025, 9, 7, 4)
    assert start.astimezone(zone).time() == dt.time(1, 0)
    assert day_window(dt.date(2025, 9, 7), zone).duration == dt.timedelta(hours=23)
    assert day_window(dt.date(2025, 9, 6), zone).end == start


@pytest.mark.parametrize("zone", ["America/Chicago", "America/Santiago", "Europe/London",
                                  "Australia/Lord_Howe", "Asia/Kathmandu", "Pacific/Kiritimati"])
def test_consecutive_days_touch_and_last_22_to_26_hours(zone):
    day = dt.date(2025, 1, 1)
    for _ in range(366):
        today, tomorrow = day_window(day, zone), day_window(day + dt.timedelta(days=1), zone)
        assert today.end == tomorrow.start
        assert dt.timedelta(hours=22) <= today.duration <= dt.timedelta(hours=26)
        day += dt.timedelta(days=1)


def test_yesterday_ends_where_today_starts():
    for zone in ("America/Chicago", "Asia/Kolkata"):
        assert last_completed_day(REFERENCE, zone).end == today_so_far(REFERENCE, zone).start


@pytest.mark.parametrize("now", [
    utc(2025, 12, 10, 15),  # Wednesday
    utc(2025, 12, 7, 15),  # Sunday 09:00 in Chicago
])
def test_last_week_in_chicago_with_a_sunday_start(now):
    assert last_completed_week(now, "America/Chicago", SUNDAY) == Window(
        utc(2025, 11, 30, 6), utc(2025, 12, 7, 6))


def test_last_week_in_chicago_with_a_monday_start():
    assert last_completed_week(utc(2025, 12, 10, 15), "America/Chicago", MONDAY) == Window(
        utc(2025, 12, 1, 6), utc(2025, 12, 8, 6))


def test_chicago_sunday_week_turns_over_at_0600z_not_0500z():
    before = last_completed_week(utc(2025, 12, 7, 5), "America/Chicago", SUNDAY)
    at_midnight = last_completed_week(utc(2025, 12, 7, 6), "America/Chicago", SUNDAY)

    assert before.end == utc(2025, 11, 30, 6)
    assert at_midnight == Window(utc(2025, 11, 30, 6), utc(2025, 12, 7, 6))


def test_kiritimati_and_tokyo_local_weekdays():
    assert local_date(utc(2025, 12, 6, 11), "Pacific/Kiritimati").weekday() == SUNDAY
    assert local_date(utc(2025, 12, 7, 12), "Pacific/Kiritimati").weekday() == MONDAY
    assert local_date(utc(2025, 12, 7, 16), "Asia/Tokyo").weekday() == MONDAY


def test_kiritimati_monday_week_is_complete_at_1000z_on_sunday_utc():
    window = last_completed_week(utc(2025, 12, 7, 10), "Pacific/Kiritimati", MONDAY)

    assert local_date(window.start, "Pacific/Kiritimati") == dt.date(2025, 12, 1)
    assert local_date(window.end, "Pacific/Kiritimati") == dt.date(2025, 12, 8)


def test_standard_window_checks():
    zone = "America/Chicago"
    assert is_day_window(day_window(dt.date(2025, 3, 9), zone), zone)
    assert not is_day_window(Window(utc(2025, 3, 9, 6), utc(2025, 3, 10, 6)), zone)
    assert is_week_window(week_window(dt.date(2025, 12, 1), zone), zone, MONDAY)
    assert not is_week_window(week_window(dt.date(2025, 12, 1), zone), zone, SUNDAY)


def test_null_or_unknown_zone_reads_as_utc():
    assert last_completed_day(REFERENCE, None) == Window(utc(2025, 12, 4), utc(2025, 12, 5))
    assert resolve_zone("Mars/Olympus_Mons").key == "UTC"


# CLI windows --------------------------------------------------------------------------------------
CHICAGO = "America/Chicago"


def test_cli_without_dates_is_the_last_completed_day_or_week():
    assert cli_window("daily", CHICAGO, REFERENCE) == Window(utc(2025, 12, 4, 6),
                                                             utc(2025, 12, 5, 6))
    assert cli_window("weekly", CHICAGO, REFERENCE, week_start_day=MONDAY) == Window(
        utc(2025, 11, 24, 6), utc(2025, 12, 1, 6))


def test_cli_end_date_is_that_local_day_or_the_week_ending_on_it():
    end = dt.date(2025, 12, 4)
    assert cli_window("daily", CHICAGO, REFERENCE, end=end) == Window(
        utc(2025, 12, 4, 6), utc(2025, 12, 5, 6))
    assert cli_window("weekly", CHICAGO, REFERENCE, end=end) == Window(
        utc(2025, 11, 28, 6), utc(2025, 12, 5, 6))


def test_cli_end_instant_alone_is_the_day_or_week_ending_there():
    end = utc(2025, 12, 5, 15)
    assert cli_window("daily", CHICAGO, REFERENCE, end=end) == Window(utc(2025, 12, 4, 15), end)
    assert cli_window("weekly", CHICAGO, REFERENCE, end=end) == Window(utc(2025, 11, 28, 15), end)


def test_cli_end_instant_across_a_dst_change_steps_by_local_dates():
    end = utc(2025, 11, 2, 18)  # noon CST on the fall-back day; noon the day before was CDT
    window = cli_window("daily", CHICAGO, REFERENCE, end=end)
    assert window.start == utc(2025, 11, 1, 17)
    assert window.duration == dt.timedelta(hours=25)


def test_cli_start_and_end_dates_span_whole_local_days():
    window = cli_window("daily", CHICAGO, REFERENCE, start=dt.date(2025, 12, 1),
                        end=dt.date(2025, 12, 3))
    assert window == Window(utc(2025, 12, 1, 6), utc(2025, 12, 4, 6))


def test_cli_start_and_end_instants_are_taken_as_given():
    start, end = utc(2025, 12, 1, 12), utc(2025, 12, 2, 12)
    assert cli_window("weekly", CHICAGO, REFERENCE, start=start, end=end) == Window(start, end)


def test_cli_start_alone_or_a_reversed_window_is_refused():
    with pytest.raises(WindowError, match="--start needs --end"):
        cli_window("daily", CHICAGO, REFERENCE, start=dt.date(2025, 12, 1))
    with pytest.raises(WindowError, match="before"):
        cli_window("daily", CHICAGO, REFERENCE, start=utc(2025, 12, 2), end=utc(2025, 12, 1))


# The work week ----------------------------------------------------------------------------------
def _at(zone: str, *parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=ZoneInfo(zone)).astimezone(dt.UTC)


def test_monday_of_a_monday_to_friday_week_covers_the_weekend_across_dst():
    from gitpulse_app.intelligence.windows import work_day_window

    la = "America/Los_Angeles"
    monday = work_day_window(dt.date(2026, 11, 2), la, "12345")  # DST ended Sunday 1 November
    assert monday == Window(_at(la, 2026, 10, 31), _at(la, 2026, 11, 3))
    assert monday.duration == dt.timedelta(hours=73)
    assert work_day_window(dt.date(2026, 11, 3), la, "12345").duration == dt.timedelta(hours=24)
    assert work_day_window(dt.date(2026, 11, 2), la, "1234567") == day_window(
        dt.date(2026, 11, 2), la)
    # Monday, Wednesday, Friday: Wednesday's window holds Tuesday.
    assert work_day_window(dt.date(2026, 11, 4), "UTC", "135") == Window(
        _at("UTC", 2026, 11, 3), _at("UTC", 2026, 11, 5))


def test_the_window_in_progress_and_the_last_completed_one_follow_the_work_week():
    from gitpulse_app.intelligence.windows import (
        current_work_window,
        is_work_day_window,
        last_completed_work_day,
    )

    kiri = "Pacific/Kiritimati"
    saturday = _at(kiri, 2026, 12, 5, 0, 5)
    assert current_work_window(saturday, kiri, "12345") == Window(
        _at(kiri, 2026, 12, 5), _at(kiri, 2026, 12, 8))
    assert last_completed_work_day(saturday, kiri, "12345") == day_window(
        dt.date(2026, 12, 4), kiri)
    monday_night = _at(kiri, 2026, 12, 7, 23, 55)
    assert last_completed_work_day(monday_night, kiri, "12345") == day_window(
        dt.date(2026, 12, 4), kiri)
    assert is_work_day_window(Window(_at(kiri, 2026, 12, 5), _at(kiri, 2026, 12, 8)), kiri,
                              "12345")
    assert not is_work_day_window(day_window(dt.date(2026, 12, 7), kiri), kiri, "12345")
    assert not is_work_day_window(day_window(dt.date(2026, 12, 6), kiri), kiri, "12345")


@pytest.mark.parametrize("stored", ["", None, "089", "abc"])
def test_an_unreadable_work_week_is_every_day(stored):
    from gitpulse_app.intelligence.windows import parse_work_days

    assert parse_work_days(stored) == frozenset(range(1, 8))
    assert parse_work_days("5 1 3") == frozenset({1, 3, 5})
