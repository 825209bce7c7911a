"""Which standard reports are due at a tick instant (docs/SCHEDULING.md).

Due-ness is computed from each user's IANA zone at tick time; nothing stores a UTC hour.

- Daily: `d` = the local date of the tick; the work days among `d−7 … d−1` (oldest first) whose
  window (`work_day_window`: from the end of the previous work day's window to the end of the work
  day) ends after the user's catch-up horizon and that hold no final report are due.
- Weekly: only the most recent completed week (the 7 local days before the latest week start on or
  before `d`), under the same two conditions.

The catch-up horizon is `daily_enabled_at` / `weekly_enabled_at` (a change of work days moves the
daily one to the change, so new work days apply from the next window on), or, while the toggle was never
switched (it defaults to on), `onboarding_completed_at`: a new user is not handed a week of reports
about the days before they joined. A soft-deleted report counts as existing (automatic
producers never recreate it); a partial one does not, so "today so far" becomes final at the first
tick after its day ends.

Cost per tick and kind, whatever the number of users: one query for the distinct zones (and week
starts) of eligible users, whose windows are computed once each; one query returning every eligible
user with the number of their candidate windows that already hold a final report (a correlated
count that seeks the reports' unique (user, kind, start, end) index, so it does not grow with
history); and, only for users who lack some, their reports in the catch-up span.
"""

from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session

from gitpulse_app.core.models import Report, User
from gitpulse_app.intelligence.scheduler.models import DAILY, WEEKLY, DuePlan, DueWindow
from gitpulse_app.intelligence.windows import (
    Window,
    current_local_date,
    last_completed_week,
    is_work_day,
    parse_work_days,
    resolve_zone,
    work_day_window,
)

CATCH_UP_DAYS = 7
# Keys (3–4 bound values each) and ids per statement stay below SQLite's and PostgreSQL's limits.
KEYS_PER_QUERY = 6000
USERS_PER_QUERY = 5000


class Calendar:
    """The candidate windows of one tick instant, computed once per zone (and week start).

    Args:
        at: The tick instant.
    """

    def __init__(self, at: dt.datetime) -> None:
        self.at = at
        self._zones: dict[str, ZoneInfo] = {}
        self._days: dict[tuple[str, str], tuple[Window, ...]] = {}
        self._weeks: dict[tuple[str, int], Window] = {}

    def zone(self, name: str) -> ZoneInfo:
        # Held here: `ZoneInfo` keeps only a few zones cached, and reloading one reads a file.
        found = self._zones.get(name)
        if found is None:
            found = self._zones[name] = resolve_zone(name)
        return found

    def days(self, zone: str, work_days: str) -> tuple[Window, ...]:
        """The windows of the work days among the local days `d−7 … d−1` of `zone`, oldest
        first."""
        key = (zone, work_days)
        found = self._days.get(key)
        if found is None:
            tz, days = self.zone(zone), parse_work_days(work_days)
            today = current_local_date(self.at, tz)
            found = tuple(work_day_window(day, tz, days)
                          for day in (today - dt.timedelta(days=back)
                                      for back in range(CATCH_UP_DAYS, 0, -1))
                          if is_work_day(day, days))
            self._days[key] = found
        return found

    def week(self, zone: str, week_start_day: int) -> Window:
        """The most recent completed week of `zone` starting on `week_start_day`."""
        key = (zone, week_start_day)
        found = self._weeks.get(key)
        if found is None:
            found = last_completed_week(self.at, self.zone(zone), week_start_day)
            self._weeks[key] = found
        return found

    def windows(self, kind: str, key: tuple) -> tuple[Window, ...]:
        """The candidate windows of a group key: `(zone, work days)` daily, `(zone, week start)`
        weekly."""
        return self.days(key[0], key[1]) if kind == DAILY else (self.week(key[0], key[1]),)


@dataclass(frozen=True)
class _Owner:
    id: int
    key: tuple
    horizon: dt.datetime | None


class _Query:
    """The SQL of one kind's due check."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        enabled, self.enabled_at = (
            (User.daily_reports_enabled, User.daily_enabled_at) if kind == DAILY
            else (User.weekly_reports_enabled, User.weekly_enabled_at))
        self.eligible = (User.timezone.is_not(None), User.timezone != "",
                         User.onboarding_completed_at.is_not(None), enabled == sa.true())
        self.key_columns = ((User.timezone, User.work_days) if kind == DAILY
                            else (User.timezone, User.week_start_day))

    def final_reports(self, first_start: dt.datetime, last_start: dt.datetime
                      ) -> tuple[sa.ColumnElement, ...]:
        """Final or soft-deleted standard reports of the kind starting in the span (the range on
        `start_date` lets the unique (user, kind, start, end) index be sought)."""
        return (Report.schedule_type == self.kind,
                Report.start_date >= first_start, Report.start_date <= last_start,
                sa.or_(Report.is_partial == sa.false(), Report.deleted_at.is_not(None)))

    def groups(self, session: Session) -> list[tuple]:
        rows = session.connection().execute(
            sa.select(*self.key_columns).where(*self.eligible).distinct())
        return [tuple(row) for row in rows]

    def owners_with_counts(self, first_start: dt.datetime, last_start: dt.datetime
                           ) -> sa.Select:
        """Eligible users, id order, with how many of their candidate windows have a report.

        A report counts when its owner's zone (and week start), its start and its end are one of
        the `keys` (the candidate windows of that zone), so the count is exact per user.
        """
        matched = sa.tuple_(*self.key_columns, Report.start_date, Report.end_date)
        count = (
            sa.select(sa.func.count()).select_from(Report)
            .where(Report.user_id == User.id, *self.final_reports(first_start, last_start),
                   matched.in_(sa.bindparam("keys", expanding=True)))
            .scalar_subquery()
        )
        return (sa.select(User.id, *self.key_columns, self.enabled_at,
                          User.onboarding_completed_at, count)
                .where(*self.eligible).order_by(User.id))


def _chunks(items: list, size: int) -> list[list]:
    return [items[i:i + size] for i in range(0, len(items), size)] or [[]]


def _covered_windows(session: Session, query: _Query, user_ids: list[int],
                     span: tuple[dt.datetime, dt.datetime]
                     ) -> set[tuple[int, dt.datetime, dt.datetime]]:
    """(user, start, end) of the final or soft-deleted reports of `user_ids` in the span."""
    found: set[tuple[int, dt.datetime, dt.datetime]] = set()
    connection = session.connection()
    for chunk in _chunks(user_ids, USERS_PER_QUERY):
        rows = connection.execute(
            sa.select(Report.user_id, Report.start_date, Report.end_date)
            .where(Report.user_id.in_(chunk), *query.final_reports(*span)))
        found.update((row[0], row[1], row[2]) for row in rows)
    return found


def plan_due(session: Session, kind: str, at: dt.datetime) -> DuePlan:
    """The windows of `kind` due at `at`, and how many eligible ones were already covered.

    Args:
        session: A session on the database.
        kind: "daily" or "weekly".
        at: The tick instant (the injected clock).

    Returns:
        The plan: users checked, due windows (per user oldest first, users in id order), and
        the eligible windows that already had their report.
    """
    if kind not in (DAILY, WEEKLY):
        raise ValueError(f"unknown report kind {kind!r}")
    query = _Query(kind)
    calendar = Calendar(at)
    groups = query.groups(session)
    plan = DuePlan()
    if not groups:
        return plan
    keys = sorted((*group, window.start, window.end)
                  for group in groups for window in calendar.windows(kind, group))
    starts = [key[-2] for key in keys]
    span = (min(starts), max(starts))
    statement = query.owners_with_counts(*span)
    connection = session.connection()
    chunks = _chunks(keys, KEYS_PER_QUERY)
    more: dict[int, int] = {}
    for chunk in chunks[1:]:  # only with more zones than one statement can carry
        for row in connection.execute(statement, {"keys": chunk}):
            more[row[0]] = more.get(row[0], 0) + row[-1]
    width = len(query.key_columns)
    ends_of: dict[tuple, list[dt.datetime]] = {}
    unsure: list[_Owner] = []
    # Rows are judged as they stream by, so 10,000 users leave no 10,000 objects behind.
    for row in connection.execute(statement, {"keys": chunks[0]}):
        plan.users_checked += 1
        key = tuple(row[1:1 + width])
        ends = ends_of.get(key)
        if ends is None:
            ends = ends_of[key] = [window.end for window in calendar.windows(kind, key)]
        horizon = row[1 + width] or row[2 + width]
        if row[-1] + more.get(row[0], 0) == len(ends):
            # The common case: every window already has its report. Count those after the
            # horizon (window ends ascend, so one bisection).
            plan.covered += len(ends) - (bisect.bisect_right(ends, horizon)
                                         if horizon is not None else 0)
        else:
            unsure.append(_Owner(row[0], key, horizon))
    if not unsure:
        return plan
    # A user who joined after the first query's zones were read has windows outside the span.
    for owner in unsure:
        for window in calendar.windows(kind, owner.key):
            span = (min(span[0], window.start), max(span[1], window.start))
    covered = _covered_windows(session, query, [owner.id for owner in unsure], span)
    for owner in unsure:
        for window in calendar.windows(kind, owner.key):
            if owner.horizon is not None and window.end <= owner.horizon:
                continue
            if (owner.id, window.start, window.end) in covered:
                plan.covered += 1
            else:
                plan.due.append(DueWindow(owner.id, kind, window))
    return plan
