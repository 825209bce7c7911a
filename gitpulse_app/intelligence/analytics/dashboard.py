"""The dashboard: KPIs with week-over-week trends, the 14-day activity chart, the latest reports
and the latest daily TL;DR of one user."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlmodel import Session

from gitpulse_app.acquisition.access import visible_repo_ids
from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import Event, Report, User
from gitpulse_app.intelligence.analytics.counts import (
    last_days,
    DASHBOARD_DAYS,
    DASHBOARD_KPIS,
    Kpi,
    counts_by_day_and_type,
    facts_in,
    stacked_points,
    wall_clock_days_before,
)
from gitpulse_app.intelligence.formatting import (
    format_date_range,
    format_report_date,
    format_work_day,
)
from gitpulse_app.intelligence.windows import (
    ZoneLike,
    latest_week_start,
    local_date,
    resolve_zone,
    start_of_local_day,
)


# Dashboard ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class WeekSpans:
    """This week so far and the same elapsed span of last week."""

    this_start: dt.datetime
    this_end: dt.datetime
    last_start: dt.datetime
    last_end: dt.datetime


def week_spans(now: dt.datetime, zone: ZoneLike, week_start_day: int) -> WeekSpans:
    """This week (from the user's week start) and last week up to the same local wall-clock time."""
    first = latest_week_start(local_date(now, zone), week_start_day)
    return WeekSpans(
        this_start=start_of_local_day(first, zone),
        this_end=start_of_local_day(first + dt.timedelta(days=7), zone),
        last_start=start_of_local_day(first - dt.timedelta(days=7), zone),
        last_end=wall_clock_days_before(now, 7, zone),
    )


def dashboard_kpis(
    session: Session, *, user_id: int, repo_ids: Collection[int], zone: ZoneLike,
    week_start_day: int, now: dt.datetime,
) -> list[Kpi]:
    """The user's own facts this week vs the same elapsed span of last week, per KPI type."""
    spans = week_spans(now, zone, week_start_day)
    counts: dict[str, tuple[int, int]] = {}
    if repo_ids:
        current = sa.func.sum(sa.case((Event.ts >= spans.this_start, 1), else_=0))
        previous = sa.func.sum(sa.case((Event.ts < spans.last_end, 1), else_=0))
        rows = session.execute(
            sa.select(Event.type, current, previous)
            .where(
                Event.actor_id == user_id,
                Event.type.in_([fact_type for _, fact_type in DASHBOARD_KPIS]),
                *facts_in(repo_ids, spans.last_start, spans.this_end),
            )
            .group_by(Event.type)
        ).all()
        counts = {fact_type: (int(cur or 0), int(prev or 0)) for fact_type, cur, prev in rows}
    return [Kpi(label, *counts.get(fact_type, (0, 0))) for label, fact_type in DASHBOARD_KPIS]


def dashboard_activity(
    session: Session, *, user_id: int, repo_ids: Collection[int], zone: ZoneLike,
    now: dt.datetime, days: int = DASHBOARD_DAYS,
) -> list[dict[str, int | str]]:
    """The user's own facts per local date over the `days` local dates ending today, stacked."""
    dates = last_days(local_date(now, zone), days)
    start = start_of_local_day(dates[0], zone)
    end = start_of_local_day(dates[-1] + dt.timedelta(days=1), zone)
    counts = counts_by_day_and_type(
        session, repo_ids=repo_ids, zone=zone, start=start, end=end, actor_id=user_id
    )
    return stacked_points(dates, counts)


# Reports on the dashboard --------------------------------------------------------------------------
@dataclass(frozen=True)
class ReportCard:
    """A report as a dashboard list item."""

    report_id: int
    title: str
    kind_label: str
    date_label: str
    citation_count: int
    unread: bool


def report_kind_label(report: Report) -> str:
    """"Daily", "Weekly", or "Custom" for reports that are not standard."""
    if report.schedule_type is None:
        return "Custom"
    return "Daily" if report.kind == "daily" else "Weekly"


def report_date_label(report: Report) -> str:
    """"December 5, 2025" (the work day) for a standard daily report, else the range string
    ("Dec 1 - Dec 7, 2025")."""
    if report.schedule_type == "daily":
        return format_work_day(report.end_date, report.timezone)
    return format_date_range(report.start_date, report.end_date, report.timezone)


def _owned_reports(user_id: int) -> sa.Select:
    return (
        sa.select(Report)
        .where(Report.user_id == user_id, Report.deleted_at.is_(None))  # type: ignore[union-attr]
        .order_by(Report.end_date.desc(), Report.generated_at.desc(), Report.id.desc())
    )


def latest_reports(session: Session, user_id: int, limit: int = 5) -> list[ReportCard]:
    """The owner's newest reports (end date, then generation time), deleted ones left out."""
    reports = session.scalars(_owned_reports(user_id).limit(limit)).all()
    return [
        ReportCard(
            report_id=report.id or 0, title=report.title, kind_label=report_kind_label(report),
            date_label=report_date_label(report), citation_count=report.citation_count,
            unread=report.opened_at is None and report.event_count > 0,
        )
        for report in reports
    ]


@dataclass(frozen=True)
class Tldr:
    """The first section of the latest daily report (the dashboard's "Yesterday TL;DR")."""

    report_id: int
    title: str
    section_title: str
    bullets: list[str] = field(default_factory=list)
    citations: list[str] = field(default_factory=list)  # the only URLs its bullets may link to


def latest_daily_tldr(session: Session, user_id: int) -> Tldr | None:
    """The first section of the last work day's report: the newest final standard daily, else
    the newest daily of any sort; None when the user has no daily report."""
    report = session.scalars(
        _owned_reports(user_id).where(Report.schedule_type == "daily",
                                      Report.is_partial.is_(False)).limit(1)
    ).first() or session.scalars(
        _owned_reports(user_id).where(Report.kind == "daily").limit(1)
    ).first()
    if report is None:
        return None
    first = report.sections[0] if report.sections else {}
    first = first if isinstance(first, dict) else {}
    bullets = [str(bullet) for bullet in first.get("bullets") or [] if str(bullet).strip()]
    return Tldr(report.id or 0, report.title, str(first.get("title") or ""), bullets,
                [str(url) for url in report.citations or []])


# Everything behind the dashboard --------------------------------------------------------------------
@dataclass
class DashboardData:
    """What /dashboard shows below the sync banner, for one user at one instant."""

    kpis: list[Kpi]
    activity: list[dict[str, int | str]]
    tldr: Tldr | None
    reports: list[ReportCard]
    week_label: str


def dashboard_data(user_id: int, now: dt.datetime) -> DashboardData | None:
    """KPIs, the 14-day chart, the latest daily TL;DR and the latest 5 reports of `user_id`.

    Returns:
        The data, or None when the user no longer exists.
    """
    with session_scope() as session:
        user = session.get(User, user_id)
        if user is None:
            return None
        zone = resolve_zone(user.timezone)
        repo_ids = visible_repo_ids(session, user_id)
        week_start = user.week_start_day if 0 <= user.week_start_day <= 6 else 0
        spans = week_spans(now, zone, week_start)
        return DashboardData(
            kpis=dashboard_kpis(session, user_id=user_id, repo_ids=repo_ids, zone=zone,
                                week_start_day=week_start, now=now),
            activity=dashboard_activity(session, user_id=user_id, repo_ids=repo_ids, zone=zone,
                                        now=now),
            tldr=latest_daily_tldr(session, user_id),
            reports=latest_reports(session, user_id),
            week_label=f"This week since {format_report_date(spans.this_start, zone)}, "
                       "compared with the same time last week",
        )
