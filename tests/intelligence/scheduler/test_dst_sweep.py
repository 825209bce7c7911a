"""Every 15-minute instant of two 9-day windows around the US DST changes, through `run_tick`
(issue 7 Acceptance): one daily report per local day, made by the first tick at or after local
midnight and covering [local midnight, next local midnight); weekly reports only at each user's
week start; every tick run twice creates nothing; two days without ticks are caught up."""

from __future__ import annotations

import datetime as dt

import pytest

from gitpulse_app.intelligence.scheduler import run_tick
from gitpulse_app.intelligence.windows import day_window, local_date, week_window
from tests.intelligence.scheduler.conftest import Town, utc

TICK = dt.timedelta(minutes=15)
HOUR = dt.timedelta(hours=1)
# zone → week start (0 = Monday … 6 = Sunday): several week starts, Sunday for Chicago.
ZONES = {
    "America/Los_Angeles": 0,
    "America/Chicago": 6,
    "Europe/London": 0,
    "Asia/Kolkata": 2,
    "Asia/Kathmandu": 0,
    "Asia/Tokyo": 4,
    "Pacific/Kiritimati": 0,
    "UTC": 5,
}
SPRING = (utc(2026, 3, 4), utc(2026, 3, 13))  # US DST starts Sunday 03-08
AUTUMN = (utc(2026, 10, 28), utc(2026, 11, 6))  # US DST ends Sunday 11-01


def instants(start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    count = int((end - start) / TICK)
    return [start + TICK * n for n in range(count)]


def populate(town: Town, start: dt.datetime, end: dt.datetime) -> dict:
    """Users in every zone, enabled from `start`, with a fact every 6 h around the window."""
    users = {}
    for n, (zone, week_start) in enumerate(ZONES.items()):
        user = town.user(f"user{n}", zone, onboarded=start - dt.timedelta(days=30),
                         daily_enabled_at=start, weekly_enabled_at=start,
                         week_start_day=week_start)
        # Offset per user so facts fall at different local hours.
        town.every(user, start - dt.timedelta(days=2) + n * HOUR, end + dt.timedelta(days=2))
        users[zone] = user
    return users


def expected_days(zone: str, horizon: dt.datetime, last_tick: dt.datetime) -> list:
    """Local days whose window ends in (horizon, last_tick]."""
    day = local_date(horizon, zone) - dt.timedelta(days=2)
    found = []
    while (window := day_window(day, zone)).end <= last_tick:
        if window.end > horizon:
            found.append(window)
        day += dt.timedelta(days=1)
    return found


def expected_weeks(zone: str, week_start: int, horizon: dt.datetime,
                   last_tick: dt.datetime) -> list:
    day = local_date(horizon, zone) - dt.timedelta(days=14)
    found = []
    while (window := week_window(day, zone)).end <= last_tick:
        if day.weekday() == week_start and window.end > horizon:
            found.append(window)
        day += dt.timedelta(days=1)
    return found


def drive(ticks: list[dt.datetime]) -> None:
    for at in ticks:
        first = run_tick(at)
        again = run_tick(at)
        assert not first.failed_steps, (at, first.failed_steps)
        assert (first.daily.errors, first.weekly.errors) == (0, 0), at
        assert (again.daily.reports_generated, again.weekly.reports_generated) == (0, 0), at


def check(town: Town, users: dict, horizon: dt.datetime, last_tick: dt.datetime,
          made_at: callable) -> None:
    for zone, user in users.items():
        daily = town.reports(user, "daily")
        days = expected_days(zone, horizon, last_tick)
        assert [(r.start_date, r.end_date) for r in daily] == [(w.start, w.end) for w in days], zone
        for report, window in zip(daily, days, strict=True):
            assert report.generated_at == made_at(window.end), (zone, window)
            assert (report.origin, report.is_partial, report.timezone) == ("scheduled", False, zone)
            assert report.event_count >= 1 and report.provider == "local"
            assert dt.timedelta(hours=23) <= window.duration <= dt.timedelta(hours=25)
        weekly = town.reports(user, "weekly")
        weeks = expected_weeks(zone, ZONES[zone], horizon, last_tick)
        assert [(r.start_date, r.end_date) for r in weekly] == [(w.start, w.end) for w in weeks]
        for report in weekly:
            assert local_date(report.start_date, zone).weekday() == ZONES[zone]
            assert report.generated_at == made_at(report.end_date), zone


def first_tick_at_or_after(instant: dt.datetime) -> dt.datetime:
    # Every real UTC offset is a multiple of 15 minutes: local midnight is itself a tick.
    assert instant.minute % 15 == 0 and instant.second == 0
    return instant


@pytest.mark.slow
@pytest.mark.parametrize("span", [SPRING, AUTUMN], ids=["spring_forward", "fall_back"])
def test_every_tick_of_a_dst_window_makes_each_local_day_once_at_local_midnight(town, span):
    start, end = span
    users = populate(town, start, end)
    ticks = instants(start, end)

    drive(ticks)

    check(town, users, start, ticks[-1], first_tick_at_or_after)
    for zone in ("America/Los_Angeles", "America/Chicago"):
        durations = {r.end_date - r.start_date for r in town.reports(users[zone], "daily")}
        assert durations == {24 * HOUR, (23 if span is SPRING else 25) * HOUR}, zone


@pytest.mark.slow
def test_two_days_without_ticks_across_the_dst_change_are_caught_up(town):
    start, end = utc(2026, 10, 30), utc(2026, 11, 2, 12)
    gap = (utc(2026, 10, 31, 6), utc(2026, 11, 2, 6))  # down for two days over the DST end
    users = populate(town, start, end)
    ticks = [at for at in instants(start, end) if not gap[0] <= at < gap[1]]

    drive(ticks)

    def made_at(window_end: dt.datetime) -> dt.datetime:
        return gap[1] if gap[0] <= window_end < gap[1] else window_end

    check(town, users, start, ticks[-1], made_at)
