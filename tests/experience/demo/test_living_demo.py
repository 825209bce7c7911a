"""The demo looks alive whatever the day and hour `demo seed --reset` runs at.

For each weekday at 00:05 and 23:55 (the demo user's zone, UTC), a fresh seed must give a latest
standard daily and weekly that cite facts, non-zero KPI cards for this week and the same span of last
week, and a chart with activity on at least 4 of its last 7 days.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import Report, User
from gitpulse_app.experience.demo import catalog
from gitpulse_app.experience.demo.generator import generate_deliveries
from gitpulse_app.experience.demo.seed import seed_demo
from gitpulse_app.intelligence.analytics import dashboard_data

pytestmark = pytest.mark.slow

MONDAY = dt.date(2026, 12, 7)
ANCHORS = [
    dt.datetime.combine(MONDAY + dt.timedelta(days=offset), moment, tzinfo=dt.UTC)
    for offset in range(7) for moment in (dt.time(0, 5), dt.time(23, 55))
]


def _latest(session, user_id: int, kind: str) -> Report:
    return session.exec(
        select(Report).where(Report.user_id == user_id, Report.schedule_type == kind,
                             Report.is_partial.is_(False))
        .order_by(Report.end_date.desc())).first()


@pytest.mark.parametrize("anchor", ANCHORS, ids=lambda a: a.strftime("%a-%H%M"))
def test_the_demo_is_alive_whatever_the_day_and_hour(engine, anchor):
    result = seed_demo(reset=True, now=anchor)

    with session_scope() as session:
        daily = _latest(session, result.demo_user_id, "daily")
        weekly = _latest(session, result.demo_user_id, "weekly")
        assert daily is not None and weekly is not None
        assert daily.end_date <= anchor and weekly.end_date <= anchor
        assert len(daily.citations) >= 3, daily.markdown
        assert len(weekly.citations) >= 3, weekly.markdown
        # The latest daily is the last work day's: no weekday is skipped.
        last_work_day = (daily.end_date - dt.timedelta(days=1)).date()
        assert last_work_day.weekday() < 5
        assert (anchor.date() - last_work_day).days <= 3
    data = dashboard_data(result.demo_user_id, anchor)
    assert data is not None
    assert sum(kpi.current for kpi in data.kpis) > 0, data.kpis
    assert sum(kpi.previous for kpi in data.kpis) > 0, data.kpis
    busy = [point for point in data.activity[-7:]
            if sum(v for k, v in point.items() if k not in ("date", "label")) > 0]
    assert len(busy) >= 4, data.activity[-7:]
    assert data.tldr is not None and data.tldr.report_id == daily.id and data.tldr.bullets


def test_the_demo_user_works_monday_to_friday_and_the_team_is_quiet_not_absent_at_weekends():
    anchor = dt.datetime(2026, 12, 6, 21, 40, tzinfo=dt.UTC)  # a Sunday evening
    deliveries = generate_deliveries(anchor)
    recent = [d for d in deliveries if anchor - d.at < dt.timedelta(days=14)]
    by_day: dict[dt.date, set[str]] = {}
    for delivery in recent:
        by_day.setdefault(delivery.at.date(), set()).add(delivery.payload["sender"]["login"])
    weekdays = [day for day in by_day if day.weekday() < 5]
    weekend = [anchor.date() - dt.timedelta(days=back) for back in range(14)
               if (anchor.date() - dt.timedelta(days=back)).weekday() >= 5]
    assert len(weekdays) == 10 and all(catalog.DEMO_LOGIN in by_day[day] for day in weekdays)
    for day in weekend:
        assert by_day.get(day, set()) - {catalog.DEMO_LOGIN}, f"nobody worked on {day}"
    assert all(d.at <= anchor for d in deliveries)


def test_the_seeded_demo_user_has_a_monday_to_friday_week(engine):
    result = seed_demo(now=ANCHORS[0])
    with session_scope() as session:
        user = session.get(User, result.demo_user_id)
        assert user is not None and user.work_days == "12345"
