"""Reports as the pages show them: labels, coverage levels, the list, the detail, generating."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
import sqlalchemy as sa

from gitpulse_app.acquisition.sync.waiting import sync_and_wait
from gitpulse_app.core.models import (
    EmailDelivery,
    Installation,
    Report,
    ReportRegeneration,
    SyncBatch,
    UserInstallation,
)
from gitpulse_app.experience.reports.service import (
    GenerateInputError,
    GenerateRequest,
    prepare_generation,
    run_generation,
)
from gitpulse_app.experience.reports.views import (
    analyst_label,
    backfill_message,
    cost_label,
    coverage_label,
    coverage_level,
    latency_label,
    list_reports,
    source_item,
)
from gitpulse_app.experience.reports.views_detail import (
    report_detail,
    report_id_from_path,
    stage_view,
)
from gitpulse_app.intelligence.reports.flows import BackfillResult
from gitpulse_app.intelligence.reports.models import ReportError
from tests.intelligence.reports.conftest import DEC4, NOW, World, at, commit, pr
from tests.support.rows import make_report

_serial = itertools.count(1)
G = "https://github.com"


@pytest.fixture
def world(session) -> World:
    return World(session)


def add_report(session, user_id: int, *, days_ago: int = 1, generated: dt.datetime | None = None,
               **fields) -> Report:
    end = dt.datetime(2025, 12, 5, tzinfo=dt.UTC) - dt.timedelta(days=days_ago - 1)
    values = dict(
        start_date=end - dt.timedelta(days=1), end_date=end,
        title=f"Daily Standup {next(_serial)}", description="Auto-generated daily report",
        markdown="## Work Completed\n- Shipped ([PR #1](https://github.com/a/b/pull/1))",
        citations=[f"{G}/a/b/pull/1", f"{G}/a/b/commit/{'c' * 40}"],
        repos=["a/b"], cache_key="f" * 64, event_count=2, citation_count=2, expected_citations=2,
        coverage_score=1.0, generated_at=generated or end + dt.timedelta(minutes=5))
    return make_report(session, user_id, **(values | fields))


# Labels -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("url", "repo", "label"), [
    (f"{G}/acme/api/pull/42", "acme/api", "PR #42"),
    (f"{G}/acme/api/pull/42#pullrequestreview-7", "acme/api", "PR #42"),
    (f"{G}/acme/api/pull/42/files#r9", "acme/api", "PR #42"),
    (f"{G}/acme/web/issues/7#issuecomment-3", "acme/web", "Issue #7"),
    (f"{G}/acme/web/commit/{'ab12cd3' + 'e' * 33}", "acme/web", "Commit #ab12cd3"),
    (f"{G}/acme/web/releases/tag/v1.2.0", "acme/web", "Release v1.2.0"),
    ("https://example.com/docs/page", "", "example.com/docs/page"),
    (f"{G}/acme", "", "github.com/acme"),
])
def test_sources_are_labelled_by_kind(url, repo, label):
    item = source_item(3, url)
    assert (item.number, item.url, item.repo, item.label) == (3, url, repo, label)


@pytest.mark.parametrize(("score", "level"), [
    (1.0, "excellent"), (0.9, "excellent"), (0.89, "good"), (0.7, "good"), (0.69, "warning"),
    (0.5, "warning"), (0.49, "poor"), (0.0, "poor"), (None, "none"),
])
def test_coverage_levels_follow_the_trust_threshold(score, level):
    assert coverage_level(score) == level


def test_metadata_labels():
    assert coverage_label(0.754) == "75% coverage"
    assert coverage_label(None) == "No events to cover"
    assert analyst_label("local", "local-extractive-v1") == "Local writer"
    assert analyst_label("none", "none") == "none"
    assert analyst_label("openai", "gpt-4.1-mini") == "openai / gpt-4.1-mini"
    assert cost_label(0.00421, 1200, 300) == "$0.0042 (1,200 in / 300 out tokens)"
    assert cost_label(None, None, None) == "$0.00"
    assert latency_label(850) == "850 ms"
    assert latency_label(2345) == "2.3 s"
    assert latency_label(None) == "—"


def test_report_ids_come_from_the_path():
    assert report_id_from_path("/reports/12") == 12
    assert report_id_from_path("/reports/12/") == 12
    assert report_id_from_path("/reports/abc") is None
    assert report_id_from_path("/reports") is None


@pytest.mark.parametrize(("result", "ok", "text"), [
    (BackfillResult(3, 2, 2), True, "Generated 3 report(s)"),
    (BackfillResult(0, 7, 0), False, "All days already have reports"),
    (BackfillResult(0, 0, 7), False, "No activity found in the past 7 days"),
    (BackfillResult(0, 4, 3), False, "Backfill complete - no new reports generated"),
])
def test_backfill_toasts(result, ok, text):
    assert backfill_message(result) == (ok, text)


# The list -----------------------------------------------------------------------------------------
def test_the_list_is_newest_first_in_pages_of_20(world, session):
    me = world.user("alice")
    other = world.user("bob")
    for days_ago in range(1, 26):
        add_report(session, me.id, days_ago=days_ago)
    # Same end date: the later generation comes first.
    late = add_report(session, me.id, days_ago=1, schedule_type=None,
                      generated=dt.datetime(2025, 12, 5, 9, tzinfo=dt.UTC), title="Custom late")
    add_report(session, me.id, days_ago=30, deleted_at=NOW, title="Deleted one")
    add_report(session, other.id, days_ago=1, title="Not mine")

    first = list_reports(me.id)
    assert len(first.cards) == 20 and first.next_cursor
    assert first.cards[0].report_id == late.id
    assert first.cards[0].kind_label == "Custom"
    second = list_reports(me.id, cursor=first.next_cursor)
    assert len(second.cards) == 6 and second.next_cursor is None
    titles = [card.title for card in first.cards + second.cards]
    assert "Deleted one" not in titles and "Not mine" not in titles
    assert len(set(titles)) == 26
    ends = [session.get(Report, card.report_id).end_date for card in first.cards + second.cards]
    assert ends == sorted(ends, reverse=True)

    assert [card.report_id for card in list_reports(me.id, "custom").cards] == [late.id]
    assert len(list_reports(me.id, "daily", limit=100).cards) == 25
    assert list_reports(me.id, "weekly").cards == []


def test_cards_carry_badges_coverage_and_diagnostics(world, session):
    me = world.user("alice")
    add_report(session, me.id, days_ago=3, event_count=0, citation_count=0, expected_citations=0,
               coverage_score=None, citations=[])
    add_report(session, me.id, days_ago=2, coverage_score=0.5, is_stale=True, is_partial=True,
               opened_at=NOW)
    add_report(session, me.id, days_ago=1, citation_count=1)
    newest, middle, empty = list_reports(me.id).cards
    assert newest.citations == "1 CITATION" and newest.unread
    assert newest.coverage == "100% coverage" and newest.coverage_level == "excellent"
    assert newest.date_label == "December 4, 2025" and newest.kind_label == "Daily"
    assert middle.stale and middle.partial and middle.below_threshold and not middle.unread
    assert middle.coverage_level == "warning"
    assert empty.diagnostic == "No activity" and not empty.unread
    assert empty.coverage == "No events to cover" and empty.coverage_level == "none"


# The detail ---------------------------------------------------------------------------------------
def test_the_detail_is_the_owners_only_and_opening_marks_it_read(world, session):
    me = world.user("alice", timezone="UTC")
    other = world.user("bob")
    older = add_report(session, me.id, days_ago=3)
    report = add_report(session, me.id, days_ago=2, cost_usd=0.0123, input_tokens=1000,
                        output_tokens=200, latency_ms=1500, provider="openai",
                        model="gpt-4.1-mini", coverage_breakdown=[
                            {"scope_key": "a/b", "used": 2, "total": 2}])
    newer = add_report(session, me.id, days_ago=1)
    deleted = add_report(session, me.id, days_ago=4, deleted_at=NOW)
    session.add(EmailDelivery(report_id=report.id, to_address="alice@example.com",
                              status="failed", last_error="SMTP down"))
    session.commit()

    assert report_detail(other.id, report.id) is None
    assert report_detail(me.id, deleted.id) is None
    assert report_detail(me.id, 999_999) is None

    view = report_detail(me.id, report.id, open_it=True, api_url="http://api:8000", now=NOW)
    assert view is not None
    session.expire_all()
    assert session.get(Report, report.id).opened_at == NOW
    assert view.title == report.title
    assert view.analyst == "openai / gpt-4.1-mini"
    assert view.cost == "$0.0123 (1,000 in / 200 out tokens)"
    assert view.latency == "1.5 s"
    assert view.events_label == "2 events" and view.repos_label == "1 repository"
    assert view.date_range == "December 3, 2025 (UTC)"
    assert view.coverage_percent == 100 and view.coverage_level == "excellent"
    assert view.breakdown == ["a/b: 2 of 2"]
    assert [(s.number, s.repo, s.label) for s in view.sources] == [
        (1, "a/b", "PR #1"), (2, "a/b", "Commit #ccccccc")]
    assert view.email_text == "Email to alice@example.com failed: SMTP down"
    assert view.email_can_retry
    assert view.older_url == f"/reports/{older.id}"
    assert view.newer_url == f"/reports/{newer.id}"
    assert view.download_url == f"http://api:8000/api/reports/{report.id}.md"
    # The oldest has no older neighbour (the deleted one does not count).
    assert report_detail(me.id, older.id).older_url == ""
    assert report_detail(me.id, newer.id).newer_url == ""


def test_an_empty_report_shows_no_writer_and_its_diagnostic(world, session):
    me = world.user("alice")
    report = add_report(session, me.id, event_count=0, citation_count=0, expected_citations=0,
                        coverage_score=None, citations=[], provider="none", model="none")
    view = report_detail(me.id, report.id)
    assert view.analyst == "none"
    assert view.diagnostic_label == "No activity"
    assert view.diagnostic_message == "No GitHub activity was recorded for this time period."
    assert view.coverage_label == "No events to cover" and view.sources == []


# Generating ---------------------------------------------------------------------------------------
def _request(**fields) -> GenerateRequest:
    values = dict(kind="daily", start_date="2025-12-04", end_date="2025-12-04")
    values.update(fields)
    return GenerateRequest(**values)


@pytest.mark.parametrize(("fields", "message"), [
    (dict(kind="monthly"), "Choose daily or weekly."),
    (dict(start_date=""), "Choose a start date."),
    (dict(end_date="2025-12-01"), "The end date must not be before the start date."),
    (dict(start_date="2025-01-01"), "Choose at most 92 days."),
    (dict(start_date="2025-12-07", end_date="2025-12-08"), "The start date is in the future."),
    (dict(scope="people", logins=" , "), "Name at least one GitHub login."),
    (dict(scope="repo", repo=""), "Choose a repository."),
])
def test_the_modal_refuses_what_cannot_be_generated(world, fields, message):
    me = world.user("alice")
    with pytest.raises(GenerateInputError, match=message.replace(".", r"\.")):
        prepare_generation(me.id, _request(**fields), now=NOW)


def test_generating_records_stages_and_returns_the_new_report(world, session):
    me = world.user("alice")
    bob = world.user("bob")
    repo = world.repo("acme/api", seen_by=(me,))
    world.add(pr(repo, me, 1, "Add search", at(2)), commit(repo, bob, "Fix typo", at(3)))

    prepared = prepare_generation(me.id, _request(scope="people", logins="alice, @bob"), now=NOW)
    assert (prepared.start, prepared.end) == DEC4
    assert prepared.logins == ["alice", "bob"]
    queued = stage_view(me.id, prepared.regeneration_id)
    assert (queued.status, queued.progress, queued.label) == ("queued", 0, "Waiting to start")
    assert stage_view(bob.id, prepared.regeneration_id) is None

    report_id = run_generation(me.id, prepared)
    report = session.get(Report, report_id)
    assert report.schedule_type is None and report.scope_logins == ["alice", "bob"]
    assert report.citation_count == 2
    done = stage_view(me.id, prepared.regeneration_id)
    assert (done.status, done.progress) == ("completed", 100)


def test_a_refused_generation_fails_its_row(world, session):
    me = world.user("alice")
    prepared = prepare_generation(me.id, _request(scope="people", logins="nobody"), now=NOW)
    with pytest.raises(ReportError, match="No user with login nobody"):
        run_generation(me.id, prepared)
    row = session.get(ReportRegeneration, prepared.regeneration_id)
    session.refresh(row)
    assert row.status == "failed" and row.error_message == "No user with login nobody"
    assert session.scalar(sa.select(sa.func.count()).select_from(Report)) == 0


# Backfill's wait ----------------------------------------------------------------------------------
def test_sync_and_wait_polls_running_batches_until_they_end(world, session):
    me = world.user("alice")
    assert sync_and_wait(me.id) == 0
    source = Installation(kind="pat", account_login="alice", repositories=[], status="suspended")
    session.add(source)
    session.commit()
    session.add(UserInstallation(user_id=me.id, installation_id=source.id, role="owner"))
    batch = SyncBatch(installation_id=source.id, trigger="manual", status="running")
    session.add(batch)
    session.commit()

    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 2:
            batch.status = "completed"
            session.add(batch)
            session.commit()

    started = sync_and_wait(me.id, sleep=sleep)
    assert started == 0  # a suspended source is not synced, but its running batch is awaited
    assert sleeps == [3.0, 3.0]

    clock = itertools.count(0, 50)
    batch.status = "running"
    session.add(batch)
    session.commit()
    sleeps.clear()
    sync_and_wait(me.id, sleep=lambda s: sleeps.append(s), clock=lambda: next(clock))
    assert len(sleeps) == 2  # deadline 0 + 120: polls at 50 and 100, gives up at 150
