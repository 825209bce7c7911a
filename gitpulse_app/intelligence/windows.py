"""Report windows in a user's time zone (docs/SCHEDULING.md).

A window is `[start, end)` in aware UTC. Windows step by local calendar dates, never by 24 h, so a
day across a DST change lasts 23 or 25 hours and `yesterday.end == today.start` always holds. The
start of a local day is local 00:00 (fold 0) converted to UTC; where 00:00 does not exist (a DST gap
at midnight, e.g. America/Santiago) that conversion lands on the first instant that does exist.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from gitpulse_app.core.models import EVERY_DAY

log = logging.getLogger(__name__)

UTC_ZONE = ZoneInfo("UTC")
DAYS_PER_WEEK = 7


@dataclass(frozen=True)
class Window:
    """A half-open interval `[start, end)` of aware UTC instants.

    Attributes:
        start: The first instant inside the window.
        end: The first instant after it (exclusive).
    """

    start: dt.datetime
    end: dt.datetime

    @property
    def duration(self) -> dt.timedelta:
        return self.end - self.start

    def contains(self, instant: dt.datetime) -> bool:
        """Whether `instant` lies inside the window (end exclusive)."""
        return self.start <= instant < self.end


ZoneLike = ZoneInfo | str | None


def resolve_zone(zone: ZoneLike) -> ZoneInfo:
    """A user's zone: NULL is UTC, and so is a stored name that no longer resolves.

    Args:
        zone: A `ZoneInfo`, an IANA name, or None.

    Returns:
        The zone to compute windows and labels in.
    """
    if isinstance(zone, ZoneInfo):
        return zone
    if not zone:
        return UTC_ZONE
    try:
        return ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("Stored time zone no longer resolves; using UTC", extra={"zone": zone})
        return UTC_ZONE


_HIDDEN_ZONE_PREFIXES = ("posix/", "right/", "SystemV/")
_HIDDEN_ZONES = frozenset({"Factory", "localtime", "posixrules"})


@functools.cache
def all_time_zones() -> tuple[str, ...]:
    """Every IANA zone name the picker offers, sorted."""
    return tuple(sorted(
        name for name in available_timezones()
        if name not in _HIDDEN_ZONES and not name.startswith(_HIDDEN_ZONE_PREFIXES)
    ))


def is_valid_zone(value: str) -> bool:
    """Whether `value` names an IANA zone `zoneinfo` can load (never coerced)."""
    if not value or value != value.strip():
        return False
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def zone_name(zone: ZoneLike) -> str:
    """The IANA name of a user's effective zone (what reports store in `timezone`)."""
    return resolve_zone(zone).key


def start_of_local_day(day: dt.date, zone: ZoneLike) -> dt.datetime:
    """The first instant of local date `day`, in UTC.

    Args:
        day: A local calendar date.
        zone: The user's zone.

    Returns:
        Local 00:00 with fold 0 as aware UTC; inside a DST gap, the first existing instant.
    """
    local_midnight = dt.datetime.combine(day, dt.time(), tzinfo=resolve_zone(zone))
    return local_midnight.astimezone(dt.UTC)


def local_date(instant: dt.datetime, zone: ZoneLike) -> dt.date:
    """The local calendar date of an aware instant."""
    return instant.astimezone(resolve_zone(zone)).date()


def day_window(day: dt.date, zone: ZoneLike) -> Window:
    """Local date `day` as a window: its start to the start of the next local date."""
    return Window(start_of_local_day(day, zone),
                  start_of_local_day(day + dt.timedelta(days=1), zone))


def days_window(first_day: dt.date, days: int, zone: ZoneLike) -> Window:
    """`days` consecutive local dates starting on `first_day`."""
    return Window(start_of_local_day(first_day, zone),
                  start_of_local_day(first_day + dt.timedelta(days=days), zone))


def week_window(first_day: dt.date, zone: ZoneLike) -> Window:
    """The 7 local dates starting on `first_day`."""
    return days_window(first_day, DAYS_PER_WEEK, zone)


def current_local_date(now: dt.datetime, zone: ZoneLike) -> dt.date:
    """The local date of the most recent local start of day at or before `now`.

    That is simply `now`'s local date: a date's first instant never lies after any of its instants.
    """
    return local_date(now, zone)


def latest_week_start(day: dt.date, week_start_day: int) -> dt.date:
    """The latest date on or before `day` falling on `week_start_day` (0 = Monday … 6 = Sunday)."""
    return day - dt.timedelta(days=(day.weekday() - week_start_day) % DAYS_PER_WEEK)


def last_completed_day(now: dt.datetime, zone: ZoneLike) -> Window:
    """Yesterday in the user's zone: the local day before `now`'s local date."""
    return day_window(current_local_date(now, zone) - dt.timedelta(days=1), zone)


def today_so_far(now: dt.datetime, zone: ZoneLike) -> Window:
    """Today's whole local day (a report of it generated before its end is partial)."""
    return day_window(current_local_date(now, zone), zone)


def last_completed_week(now: dt.datetime, zone: ZoneLike, week_start_day: int = 0) -> Window:
    """The 7 local days before the latest week start on or before `now`'s local date.

    Args:
        now: The clock reading.
        zone: The user's zone.
        week_start_day: 0 = Monday … 6 = Sunday (`users.week_start_day`).

    Returns:
        The most recent complete local week.
    """
    this_week = latest_week_start(current_local_date(now, zone), week_start_day)
    return week_window(this_week - dt.timedelta(days=DAYS_PER_WEEK), zone)


def is_day_window(window: Window, zone: ZoneLike) -> bool:
    """Whether `window` is exactly one local day."""
    first = local_date(window.start, zone)
    return window == day_window(first, zone)


def is_week_window(window: Window, zone: ZoneLike, week_start_day: int) -> bool:
    """Whether `window` is exactly the 7 local days of a week starting on `week_start_day`."""
    first = local_date(window.start, zone)
    return first.weekday() == week_start_day and window == week_window(first, zone)


class WindowError(ValueError):
    """The requested window is empty or reversed; the message says what to change."""


class NotAWorkDay(WindowError):
    """`--end D` names a day that is not one of the user's work days (no daily report is about it).

    Attributes:
        day: The local date asked for.
    """

    def __init__(self, day: dt.date) -> None:
        super().__init__(f"{day.isoformat()} is not a work day")
        self.day = day


def _local_days_before(instant: dt.datetime, days: int, zone: ZoneInfo) -> dt.datetime:
    # Wall-clock arithmetic: the same local time `days` local dates earlier.
    local = instant.astimezone(zone)
    return (local - dt.timedelta(days=days)).astimezone(dt.UTC)


def cli_window(
    kind: str,
    zone: ZoneLike,
    now: dt.datetime,
    *,
    start: dt.date | dt.datetime | None = None,
    end: dt.date | dt.datetime | None = None,
    week_start_day: int = 0,
    work_days: WorkDays = EVERY_DAY,
) -> Window:
    """The window of `report --kind KIND [--start …] [--end …]` (docs/SCHEDULING.md).

    - no dates: the last completed work day's window (daily) or week (weekly, from
      `week_start_day`);
    - `--end D` (a local date): work day D's window (NotAWorkDay when D is not one), or the 7 local
      days ending on D;
    - `--end` as an instant alone: the one local day, or 7 local days, ending there;
    - with `--start` too: from the start of `--start` to the end of `--end` (instants as given).

    Args:
        kind: "daily" or "weekly".
        zone: The user's zone (None: UTC).
        now: The clock reading.
        start: `--start`: a local date or an aware instant.
        end: `--end`: a local date or an aware instant.
        week_start_day: The user's week start (0 = Monday … 6 = Sunday).
        work_days: The user's work days (ISO weekday digits).

    Returns:
        The window in UTC.

    Raises:
        NotAWorkDay: A daily report of a date alone that is not a work day.
        WindowError: `--start` without `--end`, or a window that does not end after it starts.
    """
    tz = resolve_zone(zone)
    days = 1 if kind == "daily" else DAYS_PER_WEEK
    if start is not None and end is None:
        raise WindowError("--start needs --end")
    if end is None:
        return (last_completed_work_day(now, tz, work_days) if kind == "daily"
                else last_completed_week(now, tz, week_start_day))
    if kind == "daily" and start is None and not isinstance(end, dt.datetime):
        if not is_work_day(end, work_days):
            raise NotAWorkDay(end)
        return work_day_window(end, tz, work_days)
    end_instant = (start_of_local_day(end + dt.timedelta(days=1), tz)
                   if not isinstance(end, dt.datetime) else end.astimezone(dt.UTC))
    if start is None:
        if isinstance(end, dt.datetime):
            window = Window(_local_days_before(end_instant, days, tz), end_instant)
        else:
            window = days_window(end - dt.timedelta(days=days - 1), days, tz)
    else:
        start_instant = (start.astimezone(dt.UTC) if isinstance(start, dt.datetime)
                         else start_of_local_day(start, tz))
        window = Window(start_instant, end_instant)
    if window.end <= window.start:
        raise WindowError("The window is empty: --start must come before --end.")
    return window


# The work week (docs/SCHEDULING.md) ---------------------------------------------------------------
# `users.work_days` holds ISO weekday digits, 1 = Monday … 7 = Sunday (EVERY_DAY is its default).
MONDAY_TO_FRIDAY = "12345"


def parse_work_days(value: str | None) -> frozenset[int]:
    """The ISO weekdays of a stored `users.work_days`; anything unreadable or empty is every day.

    Args:
        value: ISO weekday digits such as "12345" (order and repeats do not matter).

    Returns:
        A non-empty set of ISO weekdays (1 = Monday … 7 = Sunday).
    """
    days = frozenset(int(ch) for ch in (value or "") if ch in "1234567")
    return days or frozenset(range(1, DAYS_PER_WEEK + 1))


def format_work_days(days: frozenset[int] | set[int] | list[int]) -> str:
    """The stored form of a set of ISO weekdays: sorted digits ("135")."""
    return "".join(str(day) for day in sorted(set(days)))


WorkDays = frozenset[int] | str | None


def _work_days(work_days: WorkDays) -> frozenset[int]:
    return work_days if isinstance(work_days, frozenset) else parse_work_days(work_days)


def is_work_day(day: dt.date, work_days: WorkDays) -> bool:
    """Whether local date `day` falls on one of the work days."""
    return day.isoweekday() in _work_days(work_days)


def previous_work_day(day: dt.date, work_days: WorkDays) -> dt.date:
    """The latest work day strictly before `day` (at most a week back)."""
    days = _work_days(work_days)
    for back in range(1, DAYS_PER_WEEK + 1):
        candidate = day - dt.timedelta(days=back)
        if candidate.isoweekday() in days:
            return candidate
    raise AssertionError("a non-empty set of weekdays recurs every week")


def next_work_day(day: dt.date, work_days: WorkDays) -> dt.date:
    """The earliest work day on or after `day`."""
    days = _work_days(work_days)
    for ahead in range(DAYS_PER_WEEK):
        candidate = day + dt.timedelta(days=ahead)
        if candidate.isoweekday() in days:
            return candidate
    raise AssertionError("a non-empty set of weekdays recurs every week")


def work_day_window(day: dt.date, zone: ZoneLike, work_days: WorkDays) -> Window:
    """The daily window of work day `day`: from the end of the previous work day's window to the
    end of `day` (local midnights), so the days off before a work day belong to it.

    With Monday–Friday, Monday's window is Saturday 00:00 to Tuesday 00:00 local (71, 72 or 73
    hours across a DST change); with every day a work day it is simply the local day.
    """
    first = previous_work_day(day, work_days) + dt.timedelta(days=1)
    return days_window(first, (day - first).days + 1, zone)


def window_day(window: Window, zone: ZoneLike) -> dt.date:
    """The local date a daily window is about: the date of its last instant."""
    return local_date(window.end, zone) - dt.timedelta(days=1)


def is_work_day_window(window: Window, zone: ZoneLike, work_days: WorkDays) -> bool:
    """Whether `window` is exactly the daily window of one of the work days."""
    day = window_day(window, zone)
    return is_work_day(day, work_days) and window == work_day_window(day, zone, work_days)


def last_completed_work_day(now: dt.datetime, zone: ZoneLike, work_days: WorkDays) -> Window:
    """The daily window of the latest work day that has ended by `now` (local midnight)."""
    today = current_local_date(now, zone)
    return work_day_window(previous_work_day(today, work_days), zone, work_days)


def current_work_window(now: dt.datetime, zone: ZoneLike, work_days: WorkDays) -> Window:
    """The daily window in progress at `now`: today's if today is a work day, else the next work
    day's (on a Saturday of a Monday–Friday week, Monday's window, which has already begun)."""
    today = current_local_date(now, zone)
    return work_day_window(next_work_day(today, work_days), zone, work_days)
