"""Due daily and weekly reports through `run_tick` (docs/SCHEDULING.md)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from gitpulse_app.core.models import Report, ReportJobHistory
from gitpulse_app.intelligence.reports.service import delete_report, generate_report
from gitpulse_app.intelligence.scheduler import run_tick
from gitpulse_app.intelligence.windows import day_window, local_date, today_so_far
from tests.intelligence.scheduler.conftest import utc

DEC5 = dt.date(2025, 12, 5)
# Catch-up horizon just before the cases, so only the windows under test are due.
HORIZON = utc(2025, 12, 5, 0, 0)


def test_kolkata_dec5_report_is_made_at_1830z_not_1815z(any_town):
    kolkata = any_town.user("asha", "Asia/Kolkata", daily_enabled_at=HORIZON)
    any_town.facts(kolkata, [utc(2025, 12, 5, 10)])

    early = run_tick(utc(2025, 12, 5, 18, 15))
    assert early.daily.reports_generated == 0 and any_town.reports(kolkata, "daily") == []

    on_time = run_tick(utc(2025, 12, 5, 18, 30))
    assert on_time.daily.reports_generated == 1
    assert any_town.windows(kolkata) == [(utc(2025, 12, 4, 18, 30), utc(2025, 12, 5, 18, 30))]
    report = any_town.reports(kolkata, "daily")[0]
    assert report.title == "Daily Standup - December 5, 2025"
    assert (report.origin, report.schedule_type, report.is_partial) == ("scheduled", "daily", False)
    assert report.generated_at == utc(2025, 12, 5, 18, 30) and report.event_count == 1


def test_kathmandu_dec5_report_is_made_at_1815z(town):
    kathmandu = town.user("bina", "Asia/Kathmandu", daily_enabled_at=HORIZON)
    town.facts(kathmandu, [utc(2025, 12, 5, 10)])

    assert run_tick(utc(2025, 12, 5, 18)).daily.reports_generated == 0
    result = run_tick(utc(2025, 12, 5, 18, 15))

    assert result.daily.reports_generated == 1
    assert town.windows(kathmandu) == [(utc(2025, 12, 4, 18, 15), utc(2025, 12, 5, 18, 15))]


def test_kiritimati_monday_week_fires_at_1000z_on_sunday_utc_for_dec_1_to_7(any_town):
    kiri = any_town.user("kai", "Pacific/Kiritimati", weekly_enabled_at=utc(2025, 12, 1),
                     daily_reports_enabled=False)
    any_town.facts(kiri, [utc(2025, 12, 3)])

    assert run_tick(utc(2025, 12, 7, 9, 45)).weekly.reports_generated == 0
    result = run_tick(utc(2025, 12, 7, 10, 0))

    assert result.weekly.reports_generated == 1
    report = any_town.reports(kiri, "weekly")[0]
    # Dec 1 00:00 and Dec 8 00:00 at UTC+14.
    assert (report.start_date, report.end_date) == (utc(2025, 11, 30, 10), utc(2025, 12, 7, 10))
    assert report.title == "Weekly Retro - Week of December 1, 2025"


def test_chicago_sunday_week_fires_at_0600z_not_0500z(any_town):
    chicago = any_town.user("carl", "America/Chicago", week_start_day=6,
                        weekly_enabled_at=utc(2025, 12, 1), daily_reports_enabled=False)

    for minute in (0, 15, 30, 45):
        assert run_tick(utc(2025, 12, 7, 5, minute)).weekly.reports_generated == 0
    result = run_tick(utc(2025, 12, 7, 6, 0))

    assert result.weekly.reports_generated == 1
    assert any_town.windows(chicago, "weekly") == [(utc(2025, 11, 30, 6), utc(2025, 12, 7, 6))]


def test_weekly_only_at_the_users_week_start(town):
    monday = town.user("mona", "UTC", weekly_enabled_at=utc(2025, 11, 1),
                       daily_reports_enabled=False)
    wednesday = town.user("wes", "UTC", week_start_day=2, weekly_enabled_at=utc(2025, 11, 1),
                          daily_reports_enabled=False)

    run_tick(utc(2025, 12, 8, 0, 0))  # Monday

    assert town.windows(monday, "weekly") == [(utc(2025, 12, 1), utc(2025, 12, 8))]
    # Wednesday-start weeks: the last completed one ended Wed Dec 3.
    assert town.windows(wednesday, "weekly") == [(utc(2025, 11, 26), utc(2025, 12, 3))]
    run_tick(utc(2025, 12, 9, 0, 0))
    assert len(town.reports(wednesday, "weekly")) == 1
    run_tick(utc(2025, 12, 10, 0, 0))  # Wednesday
    assert town.windows(wednesday, "weekly")[-1] == (utc(2025, 12, 3), utc(2025, 12, 10))


def test_scheduler_down_three_days_next_tick_creates_the_three_missing_days(any_town):
    tokyo = any_town.user("taro", "Asia/Tokyo", daily_enabled_at=utc(2025, 12, 1))
    run_tick(utc(2025, 12, 4, 15, 0))  # Tokyo midnight: Dec 5 starts, Dec 4 is complete
    before = any_town.windows(tokyo)
    assert before[-1] == (utc(2025, 12, 3, 15), utc(2025, 12, 4, 15))

    result = run_tick(utc(2025, 12, 7, 15, 30))  # down until after Dec 8's midnight

    assert result.daily.reports_generated == 3
    assert any_town.windows(tokyo)[len(before):] == [
        (utc(2025, 12, 4, 15), utc(2025, 12, 5, 15)),
        (utc(2025, 12, 5, 15), utc(2025, 12, 6, 15)),
        (utc(2025, 12, 6, 15), utc(2025, 12, 7, 15)),
    ]


def test_catch_up_reaches_seven_days_back_oldest_first(town):
    user = town.user("uma", "UTC")

    result = run_tick(utc(2025, 12, 20, 0, 0))

    assert result.daily.reports_generated == 7
    reports = town.reports(user, "daily")
    assert [r.start_date for r in reports] == [utc(2025, 12, d) for d in range(13, 20)]
    assert [r.id for r in reports] == sorted(r.id for r in reports)  # oldest made first


def test_the_same_tick_twice_creates_nothing_more(town):
    user = town.user("sam", "Europe/London", daily_enabled_at=HORIZON)
    town.facts(user, [utc(2025, 12, 5, 9)])

    first = run_tick(utc(2025, 12, 6, 0, 0))
    second = run_tick(utc(2025, 12, 6, 0, 0))

    assert first.daily.reports_generated == 1
    assert (second.daily.reports_generated, second.daily.reports_skipped) == (0, 1)
    assert len(town.reports(user, "daily")) == 1


def test_a_deleted_report_is_not_recreated(any_town):
    user = any_town.user("dee", "UTC", daily_enabled_at=HORIZON)
    run_tick(utc(2025, 12, 6, 0, 0))
    report = any_town.reports(user, "daily")[0]
    delete_report(user.id, report.id, now=utc(2025, 12, 6, 1))

    result = run_tick(utc(2025, 12, 6, 1, 15))

    assert result.daily.reports_generated == 0 and result.daily.reports_skipped == 1
    [still] = any_town.reports(user, "daily")
    assert still.id == report.id and still.deleted_at is not None


def test_a_partial_day_report_becomes_final_at_the_next_tick_after_the_day(any_town):
    user = any_town.user("pat", "America/Chicago", daily_enabled_at=utc(2025, 12, 5, 12),
                     weekly_reports_enabled=False)
    any_town.facts(user, [utc(2025, 12, 5, 15)])
    so_far = today_so_far(utc(2025, 12, 5, 20), "America/Chicago")
    partial = generate_report(user.id, "daily", so_far.start, so_far.end, origin="post_sync",
                              now=utc(2025, 12, 5, 20)).report
    assert partial.is_partial

    assert run_tick(utc(2025, 12, 6, 5, 45)).daily.reports_generated == 0  # 23:45 local
    result = run_tick(utc(2025, 12, 6, 6, 0))

    assert result.daily.reports_generated == 1
    [final] = any_town.reports(user, "daily")
    assert final.id == partial.id
    assert (final.is_partial, final.origin, final.generated_at) == (
        False, "scheduled", utc(2025, 12, 6, 6))
    assert run_tick(utc(2025, 12, 6, 6, 15)).daily.reports_generated == 0


def test_users_without_zone_onboarding_or_toggle_are_not_checked(town):
    town.user("nozone", None)
    town.user("new", "UTC", onboarded=None)
    town.user("off", "UTC", daily_reports_enabled=False, weekly_reports_enabled=False)
    on = town.user("on", "UTC", daily_enabled_at=HORIZON, weekly_reports_enabled=False)

    result = run_tick(utc(2025, 12, 6, 0, 0))

    assert result.daily.users_attempted == 1 and result.weekly.users_attempted == 0
    assert [r.user_id for r in town.reports()] == [on.id]


def test_catch_up_stops_at_the_enable_horizon(town):
    user = town.user("hal", "UTC", daily_enabled_at=utc(2025, 12, 3, 12))

    run_tick(utc(2025, 12, 6, 0, 0))

    # Dec 3 ends after the toggle was switched on; Dec 2 ended before.
    assert town.windows(user) == [(utc(2025, 12, d), utc(2025, 12, d + 1)) for d in (3, 4, 5)]


def test_onboarding_is_the_horizon_while_the_toggle_was_never_switched(town):
    user = town.user("ona", "UTC", onboarded=utc(2025, 12, 5, 9), weekly_reports_enabled=False)

    run_tick(utc(2025, 12, 6, 0, 0))

    assert town.windows(user) == [(utc(2025, 12, 5), utc(2025, 12, 6))]


def test_history_has_one_row_per_kind_also_with_zero_users(town):
    result = run_tick(utc(2025, 12, 5, 15, 0))

    rows = town.history()
    assert [(row.kind, row.users_attempted, row.reports_generated) for row in rows] == [
        ("daily", 0, 0), ("weekly", 0, 0)]
    assert all(row.tick_at == utc(2025, 12, 5, 15) for row in rows)
    assert all(row.started_at == row.completed_at == utc(2025, 12, 5, 15) for row in rows)
    assert result.daily.users_attempted == result.weekly.users_attempted == 0


def test_a_user_whose_report_fails_does_not_stop_the_others_and_is_counted(town, session):
    users = [town.user(f"u{n}", "UTC", daily_enabled_at=HORIZON, weekly_reports_enabled=False)
             for n in range(3)]
    broken = users[1]
    # A real database failure for one owner: every report insert for them aborts.
    session.connection().exec_driver_sql(
        f"CREATE TRIGGER refuse_reports BEFORE INSERT ON reports WHEN NEW.user_id = {broken.id} "
        "BEGIN SELECT RAISE(ABORT, 'disk full'); END")
    session.commit()

    result = run_tick(utc(2025, 12, 6, 0, 0))

    assert (result.daily.reports_generated, result.daily.errors) == (2, 1)
    assert sorted(r.user_id for r in town.reports()) == [users[0].id, users[2].id]
    daily_row = session.scalars(sa.select(ReportJobHistory).where(
        ReportJobHistory.kind == "daily")).one()
    assert (daily_row.users_attempted, daily_row.reports_generated, daily_row.errors) == (3, 2, 1)


def test_every_stored_window_is_exactly_one_local_day(town):
    zones = ["America/Los_Angeles", "Asia/Kathmandu", "Pacific/Kiritimati"]
    users = [town.user(f"z{n}", zone) for n, zone in enumerate(zones)]

    run_tick(utc(2025, 12, 10, 12, 0))

    for user in users:
        for report in town.reports(user, "daily"):
            window = day_window(local_date(report.start_date, user.timezone), user.timezone)
            assert (report.start_date, report.end_date) == (window.start, window.end)
            assert report.timezone == user.timezone


def test_reports_are_unique_per_window(town, session):
    town.user("uno", "UTC")
    run_tick(utc(2025, 12, 10, 0, 0))
    run_tick(utc(2025, 12, 10, 0, 0))

    duplicates = session.execute(
        sa.select(Report.user_id, Report.schedule_type, Report.start_date, sa.func.count())
        .group_by(Report.user_id, Report.schedule_type, Report.start_date)
        .having(sa.func.count() > 1)).all()
    assert duplicates == []
