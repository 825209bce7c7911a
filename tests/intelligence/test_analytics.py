import datetime as dt

import pytest
from sqlmodel import Session

from gitpulse_app.core.models import Event, Repo, Report, User
from gitpulse_app.intelligence.analytics import (
    LAYERS,
    Kpi,
    counts_by_day_and_type,
    dashboard_activity,
    dashboard_data,
    dashboard_kpis,
    format_trend,
    latest_daily_tldr,
    latest_reports,
    offset_segments,
    repo_analytics,
    trend_percent,
    week_spans,
)
from tests.support.rows import make_app_source, make_event, make_repo, make_report, make_user

UTC = dt.UTC


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def add_fact(session: Session, repo: Repo, actor: User, fact_type: str, ts: str) -> Event:
    return make_event(session, repo, actor, at(ts), fact_type)


@pytest.mark.parametrize(("current", "previous", "percent", "label"), [
    (5, 4, 25.0, "↑ 25.0%"),
    (3, 4, -25.0, "↓ 25.0%"),
    (0, 0, 0.0, "—"),
    (3, 0, 100.0, "↑ 100.0%"),
    (0, 2, -100.0, "↓ 100.0%"),
    (4, 4, 0.0, "—"),
    (2, 3, -100 / 3, "↓ 33.3%"),
])
def test_trend_is_change_over_previous_or_100_when_previous_is_zero(current, previous, percent,
                                                                    label):
    assert trend_percent(current, previous) == pytest.approx(percent)
    assert format_trend(trend_percent(current, previous)) == label
    assert Kpi("x", current, previous).trend_label == label


def test_week_spans_start_on_the_users_week_start_and_compare_the_same_elapsed_span():
    now = at("2025-12-10T18:00:00Z")  # Wednesday 12:00 in Chicago
    monday = week_spans(now, "America/Chicago", 0)
    assert (monday.this_start, monday.last_start) == (at("2025-12-08T06:00:00Z"),
                                                      at("2025-12-01T06:00:00Z"))
    assert monday.last_end == at("2025-12-03T18:00:00Z")
    sunday = week_spans(now, "America/Chicago", 6)
    assert (sunday.this_start, sunday.last_start) == (at("2025-12-07T06:00:00Z"),
                                                      at("2025-11-30T06:00:00Z"))


def test_dashboard_kpis_count_own_visible_facts_this_week_against_same_span_last_week(any_engine):
    with Session(any_engine) as session:
        me, other = make_user(session, "me"), make_user(session, "other")
        mine, hidden = make_repo(session, "acme/api"), make_repo(session, "acme/secret")
        make_app_source(session, me, mine)
        for ts in ("2025-12-08T06:00:00Z", "2025-12-09T12:00:00Z", "2025-12-10T17:59:00Z"):
            add_fact(session, mine, me, "pr_opened", ts)  # this week: 3
        add_fact(session, mine, me, "pr_opened", "2025-12-02T10:00:00Z")  # last week, in span
        add_fact(session, mine, me, "pr_opened", "2025-12-04T10:00:00Z")  # last week, after span
        add_fact(session, mine, me, "pr_opened", "2025-12-08T05:59:00Z")  # Sunday night local
        add_fact(session, mine, other, "pr_opened", "2025-12-09T12:00:00Z")  # someone else's
        add_fact(session, hidden, me, "pr_opened", "2025-12-09T12:00:00Z")  # invisible repo
        add_fact(session, mine, me, "commit", "2025-12-02T10:00:00Z")
        add_fact(session, mine, me, "pr_merged", "2025-12-09T10:00:00Z")

        kpis = dashboard_kpis(session, user_id=me.id, repo_ids={mine.id},
                              zone="America/Chicago", week_start_day=0,
                              now=at("2025-12-10T18:00:00Z"))

    by_label = {kpi.label: kpi for kpi in kpis}
    assert [kpi.label for kpi in kpis] == ["PRs opened", "PRs merged", "Reviews", "Commits",
                                           "Issues closed"]
    assert (by_label["PRs opened"].current, by_label["PRs opened"].previous) == (3, 1)
    assert by_label["PRs opened"].trend_label == "↑ 200.0%"
    assert (by_label["Commits"].current, by_label["Commits"].previous) == (0, 1)
    assert by_label["Commits"].trend_label == "↓ 100.0%"
    assert by_label["PRs merged"].trend_label == "↑ 100.0%"
    assert by_label["Reviews"].trend_label == "—"


def test_local_dates_follow_dst_and_half_hour_offsets(any_engine):
    with Session(any_engine) as session:
        me = make_user(session, "me")
        repo = make_repo(session, "acme/api")
        # Chicago, 2025-11-02 is 25 hours long (05:00Z → 11-03T06:00Z).
        for ts in ("2025-11-02T04:30:00Z", "2025-11-02T05:30:00Z", "2025-11-03T05:30:00Z",
                   "2025-11-03T06:30:00Z"):
            add_fact(session, repo, me, "commit", ts)
        chicago = counts_by_day_and_type(
            session, repo_ids={repo.id}, zone="America/Chicago",
            start=at("2025-10-31T05:00:00Z"), end=at("2025-11-05T06:00:00Z"))
        add_fact(session, repo, me, "release", "2025-12-04T18:29:00Z")
        add_fact(session, repo, me, "release", "2025-12-04T18:30:00Z")
        kolkata = counts_by_day_and_type(
            session, repo_ids={repo.id}, zone="Asia/Kolkata",
            start=at("2025-12-03T18:30:00Z"), end=at("2025-12-05T18:30:00Z"))

    assert chicago == {dt.date(2025, 11, 1): {"commit": 1}, dt.date(2025, 11, 2): {"commit": 2},
                       dt.date(2025, 11, 3): {"commit": 1}}
    assert kolkata == {dt.date(2025, 12, 4): {"release": 1}, dt.date(2025, 12, 5): {"release": 1}}


def test_offset_segments_find_the_exact_dst_change():
    segments = offset_segments("America/Chicago", at("2025-11-01T00:00:00Z"),
                               at("2025-11-04T00:00:00Z"))
    assert segments == [(None, -5 * 3600), (at("2025-11-02T07:00:00Z"), -6 * 3600)]
    assert offset_segments("UTC", at("2025-01-01T00:00:00Z"), at("2025-12-31T00:00:00Z")) == [
        (None, 0)]


def test_dashboard_chart_has_14_local_days_ending_today_stacked_by_layer(engine):
    with Session(engine) as session:
        me = make_user(session, "me", timezone="America/Chicago")
        repo = make_repo(session, "acme/api")
        make_app_source(session, me, repo)
        add_fact(session, repo, me, "commit", "2025-12-10T03:00:00Z")  # Dec 9 in Chicago
        add_fact(session, repo, me, "pr_merged", "2025-12-10T15:00:00Z")
        add_fact(session, repo, me, "review_comment", "2025-12-10T15:00:00Z")
        add_fact(session, repo, me, "commit", "2025-11-26T05:00:00Z")  # Nov 25: outside
        points = dashboard_activity(session, user_id=me.id, repo_ids={repo.id},
                                    zone="America/Chicago", now=at("2025-12-10T18:00:00Z"))

    assert len(points) == 14
    assert (points[0]["date"], points[-1]["date"]) == ("2025-11-27", "2025-12-10")
    assert points[-1]["label"] == "Dec 10"
    assert {key: points[-1][key] for key in ("prs", "commits", "reviews")} == {
        "prs": 1, "commits": 0, "reviews": 1}
    assert points[-2]["commits"] == 1
    assert sum(int(p[layer.key]) for p in points for layer in LAYERS) == 3


def add_report(session: Session, owner: User, **fields) -> Report:
    values = dict(
        start_date=at("2025-12-04T00:00:00Z"), end_date=at("2025-12-05T00:00:00Z"),
        title="Daily Standup - December 4, 2025", description="d",
        sections=[{"title": "Work Completed", "bullets": ["a", "b", "c", "d"], "citations": []}],
        event_count=3, citation_count=2,
    )
    return make_report(session, owner, **(values | fields))


def test_latest_reports_are_newest_first_without_deleted_or_foreign_ones(engine):
    with Session(engine) as session:
        me, other = make_user(session, "me"), make_user(session, "other")
        older = add_report(session, me)
        weekly = add_report(session, me, kind="weekly", schedule_type="weekly",
                            start_date=at("2025-12-01T00:00:00Z"),
                            end_date=at("2025-12-08T00:00:00Z"), title="Weekly Retro")
        add_report(session, me, start_date=at("2025-12-05T00:00:00Z"),
                   end_date=at("2025-12-06T00:00:00Z"), deleted_at=at("2025-12-06T01:00:00Z"))
        add_report(session, other, start_date=at("2025-12-09T00:00:00Z"),
                   end_date=at("2025-12-10T00:00:00Z"))
        custom = add_report(session, me, schedule_type=None, start_date=at("2025-12-02T00:00:00Z"),
                            end_date=at("2025-12-04T00:00:00Z"), opened_at=at("2025-12-05T00:00:00Z"))
        cards = latest_reports(session, me.id)

    assert [card.report_id for card in cards] == [weekly.id, older.id, custom.id]
    assert [card.kind_label for card in cards] == ["Weekly", "Daily", "Custom"]
    assert [card.date_label for card in cards] == ["Dec 1 - Dec 7, 2025", "December 4, 2025",
                                                   "Dec 2 - Dec 3, 2025"]
    assert [card.unread for card in cards] == [True, True, False]


def test_tldr_is_the_latest_daily_reports_first_section(engine):
    with Session(engine) as session:
        me = make_user(session, "me")
        assert latest_daily_tldr(session, me.id) is None
        add_report(session, me)
        newest = add_report(session, me, start_date=at("2025-12-05T00:00:00Z"),
                            end_date=at("2025-12-06T00:00:00Z"),
                            sections=[{"title": "Work Completed", "bullets": ["x", "y"]},
                                      {"title": "Key Decisions & Context", "bullets": ["z"]}])
        add_report(session, me, kind="weekly", schedule_type="weekly",
                   start_date=at("2025-12-01T00:00:00Z"), end_date=at("2025-12-08T00:00:00Z"))
        tldr = latest_daily_tldr(session, me.id)

    assert tldr is not None
    assert (tldr.report_id, tldr.section_title, tldr.bullets) == (newest.id, "Work Completed",
                                                                  ["x", "y"])


def test_repo_analytics_counts_the_range_against_the_previous_equal_window(engine):
    end = at("2025-12-10T18:00:00Z")
    with Session(engine) as session:
        me, ann, bob = make_user(session, "me"), make_user(session, "ann"), make_user(session, "bob")
        repo = make_repo(session, "acme/api", description="The API", language="Python", stars=5,
                        forks=2, html_url="https://github.com/acme/api")
        make_repo(session, "acme/secret")
        make_app_source(session, me, repo)
        for ts in ("2025-12-04T10:00:00Z", "2025-12-09T10:00:00Z"):
            add_fact(session, repo, ann, "pr_opened", ts)
        for ts in ("2025-12-05T10:00:00Z", "2025-12-06T10:00:00Z", "2025-12-10T10:00:00Z"):
            add_fact(session, repo, bob, "commit", ts)
        add_fact(session, repo, ann, "review_submitted", "2025-12-08T10:00:00Z")
        add_fact(session, repo, ann, "pr_opened", "2025-11-28T10:00:00Z")  # previous window
        add_fact(session, repo, me, "commit", "2025-11-30T10:00:00Z")  # previous window
        add_fact(session, repo, me, "commit", "2025-12-03T10:00:00Z")  # day before the range

        analytics = repo_analytics(session, repo_ids={repo.id}, visible_names=["acme/api"],
                                   full_name="ACME/api", range_days=7, end=end, zone="UTC")
        hidden = repo_analytics(session, repo_ids={repo.id}, visible_names=["acme/api"],
                                full_name="acme/secret", range_days=7, end=end, zone="UTC")
        unknown = repo_analytics(session, repo_ids={repo.id}, visible_names=["acme/api"],
                                 full_name="acme/nope", range_days=7, end=end, zone="UTC")

    assert hidden is None and unknown is None
    assert analytics is not None
    assert analytics.repo.full_name == "acme/api" and analytics.repo.language == "Python"
    assert [d.isoformat() for d in (analytics.days[0], analytics.days[-1])] == [
        "2025-12-04", "2025-12-10"]
    assert {k.label: (k.current, k.previous) for k in analytics.kpis} == {
        "PRs Opened": (2, 1), "Commits": (3, 2), "Reviews": (1, 0), "Contributors": (2, 2)}
    assert analytics.total == 6
    assert [(r.type, r.count, round(r.share, 1), round(r.per_day, 2))
            for r in analytics.breakdown] == [
        ("commit", 3, 50.0, 0.43), ("pr_opened", 2, 33.3, 0.29), ("review_submitted", 1, 16.7, 0.14)]
    assert [(c.login, c.count) for c in analytics.contributors] == [("ann", 3), ("bob", 3)]
    assert analytics.daily[dt.date(2025, 12, 9)] == {"pr_opened": 1}


def test_repo_analytics_falls_back_to_90_days_and_shows_a_tracked_repo_never_stored(engine):
    with Session(engine) as session:
        analytics = repo_analytics(session, repo_ids=set(), visible_names=["acme/new"],
                                   full_name="acme/new", range_days=13,
                                   end=at("2025-12-10T18:00:00Z"), zone="UTC")
    assert analytics is not None
    assert analytics.range_days == 90 and len(analytics.days) == 90
    assert analytics.total == 0 and analytics.repo.full_name == "acme/new"


def test_dashboard_data_gathers_everything_for_the_user(engine):
    with Session(engine) as session:
        me = make_user(session, "me", timezone="Asia/Tokyo", week_start_day=6)
        repo = make_repo(session, "acme/api")
        make_app_source(session, me, repo)
        add_fact(session, repo, me, "commit", "2025-12-10T01:00:00Z")
        add_report(session, me)
        user_id = me.id
    data = dashboard_data(user_id, at("2025-12-10T06:00:00Z"))
    assert data is not None
    assert {k.label: k.current for k in data.kpis}["Commits"] == 1
    assert len(data.activity) == 14 and data.activity[-1]["commits"] == 1
    assert data.tldr is not None and len(data.reports) == 1
    assert data.week_label.startswith("This week since December 7, 2025")
    assert dashboard_data(999_999, at("2025-12-10T06:00:00Z")) is None
