"""Multi-step report flows: backfill, the first report, "today so far".

Backfill first lets the caller request and await a sync of the user's sources (the UI passes the
sync service's request-and-wait, up to 120 s), then generates the standard daily report of each work
day among the last 7 local days (yesterday first back to 7 days ago; each work day's window also
holds the days off before it) that has no non-partial report yet and at least one fact. Days without facts are counted, not stored; a soft-deleted report counts as
existing, so backfill never restores it.

The first report after onboarding covers the most recent work-day window, the one in progress back to
7 days ago, with at least one of the user's own facts (else the window in progress, empty);
"today so far" (the post-sync report) is the work-day window in progress at the time, partial until it
ends. `users.first_report_status` goes
generating → completed | failed around it.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm.attributes import flag_modified

from gitpulse_app.acquisition.access import visible_repo_ids
from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import Report, User
from gitpulse_app.intelligence.reports.models import DAILY, ReportOutcome
from gitpulse_app.intelligence.reports.service import generate_report
from gitpulse_app.intelligence.windows import (
    Window,
    current_local_date,
    current_work_window,
    is_work_day,
    resolve_zone,
    work_day_window,
)
from gitpulse_app.normalization.store import has_actor_fact

BACKFILL_DAYS = 7


@dataclass(frozen=True)
class BackfillResult:
    """What a backfill did (the UI's toasts come from these counts)."""

    reports_generated: int
    days_skipped: int
    days_without_events: int

    def as_json(self) -> dict[str, int]:
        return {"reports_generated": self.reports_generated, "days_skipped": self.days_skipped,
                "days_without_events": self.days_without_events}


def _user_calendar(user_id: int) -> tuple[ZoneInfo, str | None]:
    """The user's zone and work days."""
    with session_scope() as session:
        user = session.get(User, user_id)
        if user is None:
            return resolve_zone(None), None
        return resolve_zone(user.timezone), user.work_days


def _recent_work_windows(now: dt.datetime, zone: ZoneInfo, work_days: str | None,
                         *, days: int, include_current: bool) -> list[Window]:
    """Work-day windows, newest first: the one in progress (if asked), then those of the work
    days among the `days` local days before today."""
    today = current_local_date(now, zone)
    found = [current_work_window(now, zone, work_days)] if include_current else []
    for back in range(1, days + 1):
        day = today - dt.timedelta(days=back)
        if is_work_day(day, work_days):
            found.append(work_day_window(day, zone, work_days))
    return found


def _has_final_report(user_id: int, start: dt.datetime, end: dt.datetime) -> bool:
    with session_scope() as session:
        found = session.scalar(sa.select(Report.id).where(
            Report.user_id == user_id, Report.schedule_type == DAILY,
            Report.start_date == start, Report.end_date == end, Report.is_partial.is_(False)))
    return found is not None


def _has_facts(user_id: int, start: dt.datetime, end: dt.datetime) -> bool:
    with session_scope() as session:
        repo_ids = visible_repo_ids(session, user_id)
        if not repo_ids:
            return False
        return has_actor_fact(session, actor_id=user_id, repo_ids=repo_ids, start=start, end=end)


def backfill_reports(
    user_id: int,
    *,
    now: dt.datetime | None = None,
    sync_and_wait: Callable[[int], object] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> BackfillResult:
    """Generate the missing standard daily reports of the last 7 local days.

    Args:
        user_id: The user.
        now: The clock reading.
        sync_and_wait: Requests a manual sync of the user's sources and waits for it (given the
            user id); skipped when None.
        sleep: Passed on to the model chain.

    Returns:
        `{reports_generated, days_skipped, days_without_events}`.
    """
    if sync_and_wait is not None:
        sync_and_wait(user_id)
    now = now or utcnow()
    zone, work_days = _user_calendar(user_id)
    generated = skipped = empty = 0
    for window in _recent_work_windows(now, zone, work_days, days=BACKFILL_DAYS,
                                       include_current=False):
        if _has_final_report(user_id, window.start, window.end):
            skipped += 1
        elif not _has_facts(user_id, window.start, window.end):
            empty += 1
        else:
            outcome = generate_report(user_id, DAILY, window.start, window.end,
                                      origin="backfill", now=now, sleep=sleep)
            if outcome.report is None:
                skipped += 1
            else:
                generated += 1
    return BackfillResult(generated, skipped, empty)



def generate_today_so_far(user_id: int, *, origin: str = "post_sync",
                          now: dt.datetime | None = None,
                          sleep: Callable[[float], None] = time.sleep) -> ReportOutcome:
    """The standard daily report of the work-day window in progress, partial until it ends
    (post-sync)."""
    now = now or utcnow()
    zone, work_days = _user_calendar(user_id)
    window = current_work_window(now, zone, work_days)
    return generate_report(user_id, DAILY, window.start, window.end, origin=origin, now=now,
                           sleep=sleep)


def _set_first_report_status(user_id: int, status: str, now: dt.datetime) -> None:
    with session_scope() as session:
        user = session.get(User, user_id)
        if user is not None:
            user.first_report_status = status
            user.updated_at = now
            flag_modified(user, "updated_at")
            session.add(user)


def generate_first_report(user_id: int, *, now: dt.datetime | None = None,
                          sleep: Callable[[float], None] = time.sleep) -> ReportOutcome:
    """The report written right after onboarding; `first_report_status` tracks it.

    Returns:
        The report of the most recent work-day window (the one in progress back to 7 days ago)
        with one of the user's own facts, else the (empty) report of the window in progress.

    Raises:
        ReportError: The run failed; `first_report_status` is then `failed` (Retry sets it back
            to generating by calling this again).
    """
    now = now or utcnow()
    zone, work_days = _user_calendar(user_id)
    _set_first_report_status(user_id, "generating", now)
    candidates = _recent_work_windows(now, zone, work_days, days=BACKFILL_DAYS,
                                      include_current=True)
    chosen = next((window for window in candidates
                   if _has_facts(user_id, window.start, window.end)), candidates[0])
    try:
        outcome = generate_report(user_id, DAILY, chosen.start, chosen.end, origin="onboarding",
                                  now=now, sleep=sleep)
    except Exception:
        _set_first_report_status(user_id, "failed", now)
        raise
    _set_first_report_status(user_id, "completed" if outcome.report else "failed", now)
    return outcome
