"""The work week: dailies only for work days, each covering everything since the previous work
day's window ended (Monday's from Saturday 00:00 local), through `run_tick` over two weeks that span
the autumn DST change; weeklies as before; a change of work days applies from the next window on."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from gitpulse_app.experience.settings.service import SettingsForm, save_settings
from gitpulse_app.intelligence.scheduler import run_tick
from tests.intelligence.scheduler.conftest import Town, utc

START, END = utc(2026, 10, 24), utc(2026, 11, 8, 12)  # US DST ends Sunday 2026-11-01
ZONES = ("America/Los_Angeles", "Asia/Kolkata", "Pacific/Kiritimati")
HOUR = dt.timedelta(hours=1)


def midnight(day: dt.date, zone: str) -> dt.datetime:
    """Local 00:00 of `day` in UTC, straight from zoneinfo."""
    return dt.datetime.combine(day, dt.time(), tzinfo=ZoneInfo(zone)).astimezone(dt.UTC)


def monday_to_friday_windows(zone: str, horizon: dt.datetime, last: dt.datetime) -> list:
    """(start, end) of each Monday–Friday day ending in (horizon, last]: Monday from Saturday."""
    found, day = [], START.date() - dt.timedelta(days=3)
    while midnight(day + dt.timedelta(days=1), zone) <= last:
        end = midnight(day + dt.timedelta(days=1), zone)
        if day.weekday() < 5 and end > horizon:
            first = day - dt.timedelta(days=2) if day.weekday() == 0 else day
            found.append((midnight(first, zone), end))
        day += dt.timedelta(days=1)
    return found


def every_day_windows(zone: str, horizon: dt.datetime, last: dt.datetime) -> list:
    found, day = [], START.date() - dt.timedelta(days=3)
    while (end := midnight(day + dt.timedelta(days=1), zone)) <= last:
        if end > horizon:
            found.append((midnight(day, zone), end))
        day += dt.timedelta(days=1)
    return found


def ticks(start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    """Every local midnight of the zones in [start, end), plus 13:10 UTC each day (a tick that is
    nobody's midnight must write nothing new)."""
    found = set()
    day = start.date() - dt.timedelta(days=1)
    while day <= end.date():
        found.add(dt.datetime.combine(day, dt.time(13, 10), tzinfo=dt.UTC))
        found.update(midnight(day, zone) for zone in ZONES)
        day += dt.timedelta(days=1)
    return sorted(at for at in found if start <= at < end)


def drive(start: dt.datetime, end: dt.datetime) -> dt.datetime:
    instants = ticks(start, end)
    for at in instants:
        outcome = run_tick(at)
        assert not outcome.failed_steps, (at, outcome.failed_steps)
        assert (outcome.daily.errors, outcome.weekly.errors) == (0, 0), at
    return instants[-1]


def person(town: Town, login: str, zone: str, work_days: str):
    user = town.user(login, zone, onboarded=START - dt.timedelta(days=30),
                     daily_enabled_at=START, weekly_enabled_at=START, work_days=work_days)
    town.every(user, START - dt.timedelta(days=3), END + dt.timedelta(days=1),
               step=dt.timedelta(hours=5))
    return user


def form(zone: str, work_days: str) -> SettingsForm:
    return SettingsForm(timezone=zone, daily_enabled=True, weekly_enabled=True,
                        email_enabled=False, email="", week_start_day=0, work_days=work_days)


@pytest.mark.slow
def test_monday_to_friday_users_get_one_daily_per_work_day_across_dst(town):
    workers = {zone: person(town, f"w{n}", zone, "12345") for n, zone in enumerate(ZONES)}
    everyday = person(town, "every", "America/Los_Angeles", "1234567")

    last = drive(START, END)

    for zone, user in workers.items():
        daily = town.reports(user, "daily")
        expected = monday_to_friday_windows(zone, START, last)
        assert [(r.start_date, r.end_date) for r in daily] == expected, zone
        assert all(r.generated_at == r.end_date and not r.is_partial for r in daily), zone
        for report in daily:
            local_end = report.end_date.astimezone(ZoneInfo(zone)).date()
            work_day = local_end - dt.timedelta(days=1)
            assert work_day.weekday() < 5
            assert report.title == (f"Daily Standup - {work_day:%B} {work_day.day}, "
                                    f"{work_day.year}"), zone
        weeks = [(r.start_date, r.end_date) for r in town.reports(user, "weekly")]
        assert weeks == [(midnight(dt.date(2026, 10, 19), zone), midnight(dt.date(2026, 10, 26), zone)),
                         (midnight(dt.date(2026, 10, 26), zone), midnight(dt.date(2026, 11, 2), zone))]
    la_mondays = [r.end_date - r.start_date for r in town.reports(workers[ZONES[0]], "daily")
                  if r.end_date.astimezone(ZoneInfo(ZONES[0])).weekday() == 1]
    assert la_mondays == [72 * HOUR, 73 * HOUR]  # Monday 2 November holds the 25-hour Sunday
    assert ([(r.start_date, r.end_date) for r in town.reports(everyday, "daily")]
            == every_day_windows("America/Los_Angeles", START, last))


@pytest.mark.slow
def test_a_change_of_work_days_applies_from_the_next_window(town):
    zone = "Asia/Kolkata"
    narrowing = person(town, "narrow", zone, "1234567")
    widening = person(town, "widen", zone, "12345")
    wednesday_noon = midnight(dt.date(2026, 10, 28), zone) + 12 * HOUR
    saturday_noon = midnight(dt.date(2026, 10, 31), zone) + 12 * HOUR

    drive(START, wednesday_noon)
    assert save_settings(narrowing.id, form(zone, "12345"), wednesday_noon).ok
    drive(wednesday_noon, saturday_noon)
    assert save_settings(widening.id, form(zone, "1234567"), saturday_noon).ok
    drive(saturday_noon, utc(2026, 11, 3, 12))

    def days(user) -> list[tuple[dt.date, dt.date]]:
        return [(r.start_date.astimezone(ZoneInfo(zone)).date(),
                 r.end_date.astimezone(ZoneInfo(zone)).date()) for r in town.reports(user, "daily")]

    d = dt.date
    # Every day until Tuesday; from Wednesday Monday–Friday (Monday 2 Nov from Saturday 31 Oct).
    assert days(narrowing) == [
        (d(2026, 10, 24), d(2026, 10, 25)), (d(2026, 10, 25), d(2026, 10, 26)),
        (d(2026, 10, 26), d(2026, 10, 27)), (d(2026, 10, 27), d(2026, 10, 28)),
        (d(2026, 10, 28), d(2026, 10, 29)), (d(2026, 10, 29), d(2026, 10, 30)),
        (d(2026, 10, 30), d(2026, 10, 31)), (d(2026, 10, 31), d(2026, 11, 3)),
    ]
    # Monday–Friday until Friday; from Saturday every day, and no past weekend is written.
    assert days(widening) == [
        (d(2026, 10, 24), d(2026, 10, 27)), (d(2026, 10, 27), d(2026, 10, 28)),
        (d(2026, 10, 28), d(2026, 10, 29)), (d(2026, 10, 29), d(2026, 10, 30)),
        (d(2026, 10, 30), d(2026, 10, 31)), (d(2026, 10, 31), d(2026, 11, 1)),
        (d(2026, 11, 1), d(2026, 11, 2)), (d(2026, 11, 2), d(2026, 11, 3)),
    ]
