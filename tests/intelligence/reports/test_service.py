"""The report pipeline end to end: scope, cache, saving, titles, deletion, partial reports."""

import datetime as dt

import pytest
import sqlalchemy as sa

from gitpulse_app.core.models import CoverageCandidate, EmailDelivery
from gitpulse_app.intelligence.reports.diagnostics import below_trust_threshold, diagnose
from gitpulse_app.intelligence.reports.models import (
    LOCAL_MODEL,
    NO_ACTIVITY,
    ReportError,
    ReportNotFound,
)
from gitpulse_app.intelligence.reports.service import delete_report, generate_report, get_report
from gitpulse_app.intelligence.windows import day_window, week_window
from tests.intelligence.reports.conftest import (
    DEC4,
    NOW,
    assert_inert,
    at,
    comment,
    commit,
    pr,
    release,
    review,
)

UTC = dt.UTC


@pytest.fixture
def team(world):
    """alice and bob see acme/app; only bob sees acme/secret."""
    alice = world.user("alice", email="alice@example.com")
    bob = world.user("bob")
    app = world.repo("acme/app", seen_by=(alice, bob))
    secret = world.repo("acme/secret", seen_by=(bob,))
    return alice, bob, app, secret


def daily(user, **kwargs):
    kwargs.setdefault("now", NOW)
    kwargs.setdefault("origin", "manual")
    return generate_report(user.id, "daily", *DEC4, **kwargs)


# Empty windows and the cache ----------------------------------------------------------------------
def test_an_empty_window_stores_a_no_activity_report_without_any_model_call(
        fake_llm, world, team):
    alice, *_ = team

    outcome = daily(alice, origin="scheduled")

    report = outcome.report
    assert [s["bullets"] for s in report.sections] == [[NO_ACTIVITY]] * 3
    assert (report.provider, report.model) == ("none", "none")
    assert report.coverage_score is None and report.event_count == 0
    assert report.markdown == ("## Work Completed\n- No activity recorded\n\n"
                               "## Key Decisions & Context\n- No activity recorded\n\n"
                               "## Momentum & Next Steps\n- No activity recorded")
    assert fake_llm.calls == []
    assert world.session.scalars(sa.select(EmailDelivery)).all() == []  # no email
    assert diagnose(report).label == "No activity"


def test_the_same_facts_twice_is_a_cache_hit_and_a_new_fact_changes_the_key(world, team):
    alice, _, app, _ = team
    world.add(pr(app, alice, 1, "Add search", at(2)))

    first = daily(alice)
    again = daily(alice)
    world.add(commit(app, alice, "Late fix", at(20)))
    third = daily(alice)

    assert (first.cache_hit, again.cache_hit, third.cache_hit) == (False, True, False)
    assert again.report.cache_key == first.report.cache_key != third.report.cache_key
    assert third.report.id == first.report.id  # a standard window is replaced in place
    assert third.report.event_count == 2


def test_without_a_key_the_local_writer_cites_every_fact(world, team):
    alice, _, app, _ = team
    world.add(pr(app, alice, 1, "Add search", at(2)), commit(app, alice, "Fix typo", at(3)),
              review(app, alice, 7, "approved", at(4)))

    report = daily(alice).report

    assert (report.provider, report.model) == ("local", LOCAL_MODEL)
    assert report.coverage_score == 1.0
    assert report.citation_count == report.expected_citations == report.event_count == 3
    assert report.coverage_breakdown == [{"scope_key": "acme/app", "used": 3, "total": 3}]
    assert diagnose(report) is None and not below_trust_threshold(report)


# Scope -------------------------------------------------------------------------------------------
def test_a_standard_report_holds_only_the_owners_facts_in_visible_repos(world, team):
    alice, bob, app, secret = team
    outsider = world.repo("acme/elsewhere")  # nobody sees it
    world.add(pr(app, alice, 1, "Mine", at(2)), pr(app, bob, 2, "Bob's", at(3)),
              pr(outsider, alice, 3, "Invisible", at(4)),
              pr(app, alice, 4, "Day before", DEC4[0] - dt.timedelta(minutes=1)),
              pr(app, alice, 5, "Day after", DEC4[1]))

    report = daily(alice).report

    assert report.citations == ["https://github.com/acme/app/pull/1"]
    assert report.event_count == 1 and report.repos == ["acme/app"]
    assert report.scope_logins == ["alice"] and report.schedule_type == "daily"


def test_a_team_report_for_two_logins_includes_both(world, team):
    alice, bob, app, secret = team
    world.add(pr(app, alice, 1, "Alice's", at(2)), pr(app, bob, 2, "Bob's", at(3)),
              pr(secret, bob, 3, "Secret", at(4)))

    report = daily(alice, logins=["alice", "BOB"]).report

    assert set(report.citations) == {"https://github.com/acme/app/pull/1",
                                     "https://github.com/acme/app/pull/2"}  # not acme/secret
    assert report.scope_logins == ["alice", "bob"] and report.schedule_type is None
    assert report.title == "Daily Report - Dec 4 - Dec 4, 2025"
    assert report.description == "Report for alice, bob"
    assert "@bob merged [PR #2]" in report.markdown


def test_a_repo_report_covers_everyone_in_that_repo(world, team):
    alice, bob, app, _ = team
    world.add(pr(app, alice, 1, "Alice's", at(2)), pr(app, bob, 2, "Bob's", at(3)))

    report = daily(alice, repo="ACME/app").report

    assert report.scope_repo == "acme/app" and report.event_count == 2
    assert report.description == "Report for acme/app"


def test_unknown_logins_and_invisible_repos_are_refused(world, team):
    alice, *_ = team

    with pytest.raises(ReportError, match="No user with login carol"):
        daily(alice, logins=["carol"])
    with pytest.raises(ReportError, match="Repository acme/secret not found"):
        daily(alice, repo="acme/secret")


def test_a_focus_query_keeps_only_related_facts(world, team):
    alice, _, app, _ = team
    world.add(pr(app, alice, 1, "Fix the auth bug in login", at(2)),
              pr(app, alice, 2, "Update README badges", at(3)),
              commit(app, alice, "Auth bug: expire stale sessions", at(4)))

    report = daily(alice, query="auth bug").report

    assert report.event_count == 3 and report.query == "auth bug"
    assert "https://github.com/acme/app/pull/1" in report.citations
    assert "https://github.com/acme/app/pull/2" not in report.citations
    assert report.schedule_type is None
    assert report.description == 'Auto-generated daily report for alice \u2014 focus: "auth bug"'


# Titles, windows, rows ----------------------------------------------------------------------------
def test_yesterdays_report_is_titled_with_the_covered_day(world, team):
    alice, *_ = team

    report = daily(alice).report

    assert report.title == "Daily Standup - December 4, 2025"
    assert report.description == "Auto-generated daily report for alice"
    assert report.timezone == "America/Chicago"
    assert (report.start_date, report.end_date) == DEC4


def test_weekly_standard_report_title_and_sections(world, team):
    alice, _, app, _ = team
    window = week_window(dt.date(2025, 12, 1), "America/Chicago")  # alice's weeks start Monday
    world.add(release(app, alice, "v1.0", "First", window.start + dt.timedelta(days=2)))

    report = generate_report(alice.id, "weekly", window.start, window.end, now=NOW + dt.timedelta(
        days=5)).report

    assert report.title == "Weekly Retro - Week of December 1, 2025"
    assert report.schedule_type == "weekly"
    assert [s["title"] for s in report.sections] == [
        "Accomplishments", "Technical Insights", "Challenges & Growth", "Momentum & Direction"]


def test_dst_day_windows_are_23_and_25_hours(world, team):
    alice, *_ = team
    short = day_window(dt.date(2025, 3, 9), "America/Chicago")
    long = day_window(dt.date(2025, 11, 2), "America/Chicago")

    spring = generate_report(alice.id, "daily", short.start, short.end, now=NOW).report
    fall = generate_report(alice.id, "daily", long.start, long.end, now=NOW).report

    assert spring.end_date - spring.start_date == dt.timedelta(hours=23)
    assert fall.end_date - fall.start_date == dt.timedelta(hours=25)
    assert spring.schedule_type == fall.schedule_type == "daily"
    assert spring.title == "Daily Standup - March 9, 2025"


def test_coverage_candidates_are_written_per_fact(fake_llm, world, team):
    alice, _, app, _ = team
    other = world.repo("acme/web", seen_by=(alice,))
    world.add(pr(app, alice, 1, "One", at(1)), pr(app, alice, 2, "Two", at(2)),
              pr(app, alice, 3, "Three", at(3)), pr(other, alice, 4, "Four", at(4)))

    def three_of_four(request):
        from tests.intelligence.reports.conftest import answer_citing, completion, urls_in_prompt

        urls = [u for u in urls_in_prompt(request) if not u.endswith("/pull/1")]
        return completion(answer_citing(urls))

    fake_llm.answer(three_of_four)

    report = daily(alice).report

    assert report.coverage_score == 0.75
    assert report.coverage_breakdown == [{"scope_key": "acme/app", "used": 2, "total": 3},
                                         {"scope_key": "acme/web", "used": 1, "total": 1}]
    rows = world.session.scalars(sa.select(CoverageCandidate).where(
        CoverageCandidate.report_id == report.id)).all()
    assert len(rows) == 4 and sum(row.cited for row in rows) == 3
    assert {row.report_kind for row in rows} == {"daily"}
    assert {(row.window_start, row.window_end) for row in rows} == {DEC4}
    assert below_trust_threshold(report) is False


def test_a_fact_title_with_markup_renders_inert_in_the_stored_html(world, team):
    alice, _, app, _ = team
    world.add(pr(app, alice, 1, "<script>alert(1)</script> and <img src=x onerror=alert(2)>",
                 at(1)),
              pr(app, alice, 2, "[click](javascript:alert(3)) me", at(2)),
              commit(app, alice, "<a href='javascript:alert(4)'>x</a>", at(3)))

    report = daily(alice).report

    assert_inert(report.html)
    assert "&lt;script&gt;" in report.html
    assert report.coverage_score == 1.0


# Saving, deletion, partial reports ----------------------------------------------------------------
def test_a_standard_window_is_replaced_in_place_with_the_new_origin(world, team):
    alice, _, app, _ = team
    first = daily(alice, origin="scheduled").report
    world.add(pr(app, alice, 1, "Late", at(5)))

    second = daily(alice, origin="manual").report

    assert second.id == first.id and second.origin == "manual" and second.event_count == 1
    assert len(world.reports()) == 1


def test_custom_reports_with_the_same_window_are_separate_rows(world, team):
    alice, bob, app, _ = team
    world.add(pr(app, bob, 1, "Bob's", at(1)))

    a = daily(alice, logins=["bob"]).report
    b = daily(alice, logins=["alice", "bob"]).report

    assert a.id != b.id and a.schedule_type is None and b.schedule_type is None


def test_a_soft_deleted_standard_report_is_not_recreated_by_automatic_producers(world, team):
    alice, _, app, _ = team
    report = daily(alice, origin="scheduled").report
    assert delete_report(alice.id, report.id) == "Report deleted successfully"

    for origin in ("scheduled", "post_sync", "onboarding", "backfill"):
        outcome = daily(alice, origin=origin)
        assert outcome.report is None and outcome.skipped == "deleted"
    with pytest.raises(ReportNotFound):
        get_report(alice.id, report.id)
    assert world.report(report.id).deleted_at is not None


def test_a_manual_generate_restores_a_soft_deleted_standard_report(world, team):
    alice, *_ = team
    report = daily(alice, origin="scheduled").report
    delete_report(alice.id, report.id)

    restored = daily(alice, origin="manual").report

    assert restored.id == report.id and restored.deleted_at is None
    assert get_report(alice.id, report.id).origin == "manual"


def test_only_the_owner_reads_or_deletes_a_report(world, team):
    alice, bob, *_ = team
    report = daily(alice).report

    with pytest.raises(ReportNotFound, match="Report not found"):
        get_report(bob.id, report.id)
    with pytest.raises(ReportNotFound):
        delete_report(bob.id, report.id)


def test_a_partial_report_is_a_hit_only_until_its_day_ends(world, team):
    alice, _, app, _ = team
    world.add(pr(app, alice, 1, "Morning work", at(2)))
    during = DEC4[0] + dt.timedelta(hours=10)

    partial = daily(alice, origin="post_sync", now=during).report
    hit = daily(alice, origin="post_sync", now=during + dt.timedelta(hours=1))
    final = daily(alice, origin="scheduled", now=DEC4[1] + dt.timedelta(minutes=15))

    assert partial.is_partial and partial.description.endswith("(so far, generated 10:00 AM)")
    assert hit.cache_hit
    assert not final.cache_hit and final.report.id == partial.id
    assert not final.report.is_partial and final.report.origin == "scheduled"
    assert final.report.generated_at == DEC4[1] + dt.timedelta(minutes=15)
    assert final.report.description == "Auto-generated daily report for alice"
    assert final.report.sections == partial.sections


def test_a_final_scheduled_report_is_handed_to_email_delivery(world, team):
    alice, _, app, _ = team
    world.add(pr(app, alice, 1, "Work", at(2)))
    during = DEC4[0] + dt.timedelta(hours=10)

    daily(alice, origin="post_sync", now=during)
    assert world.session.scalars(sa.select(EmailDelivery)).all() == []  # partial: not yet
    report = daily(alice, origin="scheduled", now=DEC4[1] + dt.timedelta(minutes=15)).report

    world.session.expire_all()
    [delivery] = world.session.scalars(sa.select(EmailDelivery)).all()
    assert delivery.report_id == report.id and delivery.to_address == "alice@example.com"


def test_diagnostics_labels():
    from gitpulse_app.core.models import Report

    def row(events, citations, expected, coverage=None):
        return Report(user_id=1, kind="daily", origin="manual", start_date=DEC4[0],
                      end_date=DEC4[1], timezone="UTC", title="t", description="d", markdown="",
                      html="", prompt_version="py-v1", provider="openai", model="m",
                      cache_key="0" * 64, event_count=events, citation_count=citations,
                      expected_citations=expected, coverage_score=coverage)

    assert diagnose(row(0, 0, 0)).message == "No GitHub activity was recorded for this time period."
    review_needed = diagnose(row(5, 0, 5))
    assert review_needed.label == "Review needed"
    assert review_needed.message == ("5 events available but no citations extracted. "
                                     "The LLM may not have included GitHub URLs properly.")
    data_issue = diagnose(row(3, 0, 0))
    assert data_issue.label == "Data issue"
    assert data_issue.message == ("3 events recorded but none have source URLs. "
                                  "This may indicate an ingestion issue.")
    assert below_trust_threshold(row(4, 2, 4, 0.5)) and not below_trust_threshold(row(4, 3, 4, 0.7))


def test_bad_requests_are_refused(world, team):
    alice, *_ = team

    with pytest.raises(ReportError, match="Unknown report kind"):
        generate_report(alice.id, "monthly", *DEC4)
    with pytest.raises(ReportError, match="empty"):
        generate_report(alice.id, "daily", DEC4[1], DEC4[0])
    with pytest.raises(ReportError, match="No user"):
        generate_report(99_999, "daily", *DEC4)


def test_comments_and_reviews_land_in_key_decisions(world, team):
    alice, _, app, _ = team
    world.add(comment(app, alice, 3, "We chose Postgres", at(1)),
              review(app, alice, 4, "changes_requested", at(2), body="Needs tests"))

    sections = daily(alice).report.sections

    assert sections[0]["bullets"] == [NO_ACTIVITY]
    assert "commented on [Issue #3]" in sections[1]["bullets"][0]
    assert "requested changes on [PR #4]" in sections[1]["bullets"][0]


def test_backfill_generates_missing_days_with_facts_and_counts_the_rest(world, team):
    from gitpulse_app.intelligence.reports.flows import backfill_reports

    alice, _, app, _ = team
    def day(n):
        return day_window(dt.date(2025, 12, 5) - dt.timedelta(days=n), "America/Chicago")

    world.add(pr(app, alice, 1, "Day 1", day(1).start + dt.timedelta(hours=1)),
              pr(app, alice, 2, "Day 2", day(2).start + dt.timedelta(hours=1)),
              pr(app, alice, 3, "Day 3", day(3).start + dt.timedelta(hours=1)),
              pr(app, alice, 4, "Day 8", day(8).start + dt.timedelta(hours=1)))
    done = generate_report(alice.id, "daily", day(2).start, day(2).end, now=NOW).report
    gone = generate_report(alice.id, "daily", day(3).start, day(3).end, now=NOW).report
    delete_report(alice.id, gone.id)
    synced = []

    result = backfill_reports(alice.id, now=NOW, sync_and_wait=synced.append)

    assert synced == [alice.id]
    assert result.as_json() == {"reports_generated": 1, "days_skipped": 2,
                                "days_without_events": 4}
    assert world.report(done.id).origin == "manual"
    assert world.report(gone.id).deleted_at is not None
    new = [r for r in world.reports() if r.origin == "backfill"]
    assert [(r.start_date, r.end_date) for r in new] == [(day(1).start, day(1).end)]


def test_the_first_report_covers_the_latest_day_with_own_facts(world, team):
    from gitpulse_app.core.models import User
    from gitpulse_app.intelligence.reports.flows import generate_first_report

    alice, bob, app, _ = team
    three_days_ago = day_window(dt.date(2025, 12, 2), "America/Chicago")
    world.add(pr(app, alice, 1, "Mine", three_days_ago.start + dt.timedelta(hours=2)),
              pr(app, bob, 2, "Bob's, later", at(3)))

    report = generate_first_report(alice.id, now=NOW).report
    empty = generate_first_report(bob.id, now=NOW - dt.timedelta(days=30)).report

    assert (report.start_date, report.end_date) == (three_days_ago.start, three_days_ago.end)
    assert report.origin == "onboarding" and report.event_count == 1
    assert empty.event_count == 0 and empty.is_partial  # today's empty report
    world.session.expire_all()
    assert world.session.get(User, alice.id).first_report_status == "completed"


def test_today_so_far_is_a_partial_standard_report(world, team):
    from gitpulse_app.intelligence.reports.flows import generate_today_so_far

    alice, _, app, _ = team
    world.add(pr(app, alice, 1, "This morning", DEC4[1] + dt.timedelta(hours=2)))

    report = generate_today_so_far(alice.id, now=NOW).report

    assert report.is_partial and report.schedule_type == "daily" and report.origin == "post_sync"
    assert report.title == "Daily Standup - December 5, 2025"
    assert report.description.endswith("(so far, generated 9:00 AM)")
