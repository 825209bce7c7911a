"""`demo seed [--reset]`: the demo workspace through the real pipeline."""

from __future__ import annotations

import collections
import datetime as dt
import json

import pytest
import sqlalchemy as sa
from sqlmodel import select
from starlette.testclient import TestClient

from gitpulse_app.acquisition import access
from gitpulse_app.acquisition.sync.service import request_sync
from gitpulse_app.acquisition.webhooks import processor
from gitpulse_app.acquisition.webhooks.receiver import store_envelope
from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import (
    AuthSession,
    CoverageCandidate,
    Embedding,
    Event,
    Installation,
    Repo,
    Report,
    User,
    UserInstallation,
    WebhookEvent,
)
from gitpulse_app.experience.cli.main import main
from gitpulse_app.experience.demo import catalog
from gitpulse_app.experience.demo.seed import SeedResult, seed_demo
from gitpulse_app.experience.http.app import create_api
from gitpulse_app.intelligence.reports.service import generate_report
from gitpulse_app.intelligence.windows import day_window, last_completed_week
from tests.experience.demo.conftest import NOW, snapshot
from tests.support.payloads import load_webhook

pytestmark = pytest.mark.slow


def seed(**kwargs) -> SeedResult:
    return seed_demo(now=kwargs.pop("now", NOW), **kwargs)


def demo_facts(session) -> list[Event]:
    demo_repos = select(Repo.id).where(Repo.gh_id.in_([r.gh_id for r in catalog.REPOS]))
    return list(session.exec(select(Event).where(Event.repo_id.in_(demo_repos))).all())


def test_seeding_loads_sixty_days_of_acme_activity_through_the_receiver(seeded, session):
    result = seeded

    assert result.seconds < 60
    repos = session.exec(select(Repo).order_by(Repo.full_name)).all()
    assert [r.full_name for r in repos] == ["acme/api", "acme/mobile", "acme/web"]
    assert {r.language for r in repos} == {"TypeScript", "Python", "Kotlin"}
    facts = demo_facts(session)
    assert 400 <= len(facts) == result.facts == result.facts_new <= 900
    assert {f.type for f in facts} >= {"pr_opened", "pr_merged", "review_submitted",
                                       "review_comment", "commit", "issue_opened",
                                       "issue_closed", "issue_comment", "release"}
    assert all(f.observed_via == "webhook" and f.source_url.startswith("https://github.com/acme/")
               for f in facts)
    days = {f.ts.date() for f in facts}
    assert min(days) <= (NOW - dt.timedelta(days=57)).date() and max(days) <= NOW.date()
    people = session.exec(select(User).where(User.id.in_({f.actor_id for f in facts}))).all()
    assert sorted(p.gh_login for p in people) == sorted(p.login for p in catalog.PEOPLE)
    assert result.people == 5 and result.repos == 3
    # Every delivery went through the receiver and was processed.
    envelopes = session.exec(select(WebhookEvent)).all()
    assert len(envelopes) == result.deliveries_posted == result.deliveries_new
    assert {e.status for e in envelopes} == {"completed"}
    assert {e.installation_gh_id for e in envelopes} == {catalog.INSTALLATION_ID}
    # Embedded with the local provider.
    hashes = {f.content_hash for f in facts}
    embedded = set(session.exec(select(Embedding.content_hash)).all())
    assert hashes <= embedded


def test_seeding_reports_progress_per_stage(engine):
    seen: dict[str, list[tuple[int, int]]] = collections.defaultdict(list)

    seed(progress=lambda stage, done, total: seen[stage].append((done, total)))

    assert list(seen) == ["deliveries", "processing", "embeddings", "reports"]
    for steps in seen.values():
        assert steps[0][0] == 0 and steps[-1][0] == steps[-1][1]
        assert [done for done, _ in steps] == sorted(done for done, _ in steps)


def test_the_demo_source_is_an_acme_installation_owned_by_the_demo_user(seeded, session):
    result = seeded

    installation = session.get(Installation, result.installation_id)
    assert (installation.kind, installation.account_login, installation.status) == (
        "demo", "acme", "active")
    assert installation.repositories == ["acme/web", "acme/api", "acme/mobile"]
    demo = session.get(User, result.demo_user_id)
    assert (demo.gh_login, demo.display_name, demo.is_demo, demo.timezone) == (
        "demo", "Demo User", True, "UTC")
    assert demo.signed_up_at is not None and demo.onboarding_completed_at is not None
    assert demo.daily_reports_enabled and demo.weekly_reports_enabled
    assert demo.email is None
    links = session.exec(select(UserInstallation)).all()
    assert [(l.user_id, l.installation_id, l.role) for l in links] == [
        (demo.id, installation.id, "owner")]
    assert access.visible_repo_names(session, demo.id) == {"acme/web", "acme/api", "acme/mobile"}
    others = session.exec(select(User).where(User.id != demo.id)).all()
    assert all(not u.is_demo and u.signed_up_at is None and u.display_name for u in others)


def test_the_demo_user_gets_dailies_of_seven_work_days_and_the_last_weekly_report(seeded, session):
    result = seeded

    reports = session.exec(select(Report).where(Report.user_id == result.demo_user_id)
                           .order_by(Report.kind, Report.start_date)).all()
    daily = [r for r in reports if r.kind == "daily"]
    weekly = [r for r in reports if r.kind == "weekly"]
    # NOW is Friday 2025-12-05: the 7 work days before it, Monday's window from Saturday 00:00.
    def utc_day(day: int, month: int = 12) -> dt.datetime:
        return dt.datetime(2025, month, day, tzinfo=dt.UTC)
    expected = [(utc_day(26, 11), utc_day(27, 11)), (utc_day(27, 11), utc_day(28, 11)),
                (utc_day(28, 11), utc_day(29, 11)), (utc_day(29, 11), utc_day(2)),
                (utc_day(2), utc_day(3)), (utc_day(3), utc_day(4)), (utc_day(4), utc_day(5))]
    assert [(r.start_date, r.end_date) for r in daily] == expected
    assert daily[3].title == "Daily Standup - December 1, 2025"
    week = last_completed_week(NOW, "UTC", 0)
    assert [(r.start_date, r.end_date) for r in weekly] == [(week.start, week.end)]
    assert result.reports == result.reports_new == 8
    assert {r.origin for r in reports} == {"demo"}
    assert {r.schedule_type for r in reports} == {"daily", "weekly"}
    written = [r for r in reports if r.event_count > 0]
    assert written == reports  # every work day of the demo user has activity
    for report in written:
        assert report.provider == "local"
        assert report.citations and all(
            url.startswith("https://github.com/acme/") for url in report.citations)
        assert report.coverage_score == 1.0 and report.coverage_breakdown
        assert "](https://github.com/acme/" in report.markdown
    candidates = session.exec(select(CoverageCandidate)).all()
    assert len(candidates) == sum(r.event_count for r in written)


def test_seeding_twice_adds_nothing(seeded, engine):
    first = seeded
    before = snapshot(engine)

    second = seed()

    assert snapshot(engine) == before
    assert (second.deliveries_posted, second.deliveries_new) == (first.deliveries_posted, 0)
    assert (second.facts, second.facts_new) == (first.facts, 0)
    assert (second.reports, second.reports_new) == (8, 0)


def test_a_later_seed_keeps_the_workspace_it_already_has(seeded):
    first = seeded

    later = seed(now=NOW + dt.timedelta(days=3))

    assert later.anchor == first.anchor == NOW
    assert (later.deliveries_new, later.facts_new, later.reports_new) == (0, 0, 0)


def _add_someone_elses_workspace(engine) -> None:
    """A signed-up user with a session, an App installation, facts, vectors and a report."""
    with session_scope() as session:
        alice = User(gh_id=4242, gh_login="alice", signed_up_at=NOW, timezone="UTC",
                     onboarding_completed_at=NOW)
        app = Installation(gh_installation_id=1, kind="app", account_login="Codertocat",
                           repositories=["Codertocat/Hello-World"])
        session.add_all([alice, app])
        session.flush()
        session.add(UserInstallation(user_id=alice.id, installation_id=app.id, role="owner"))
        session.add(AuthSession(token_hash="a" * 64, user_id=alice.id,
                                expires_at=NOW + dt.timedelta(days=30)))
        alice_id = alice.id
    for event, name in (("pull_request", "opened.with-organization"),
                        ("issues", "opened.with-organization"),
                        ("push", "with-no-username-committer")):
        store_envelope(f"alice-{event}", event, load_webhook(event, name))
    processor.drain()
    from gitpulse_app.intelligence.embeddings import drain

    drain()
    day = day_window(dt.date(2019, 5, 15), "UTC")
    generate_report(alice_id, "daily", day.start, day.end, origin="manual",
                    logins=["Codertocat"], now=NOW)


def test_reset_reseeds_and_leaves_everything_else_untouched(seeded, engine, session):
    demo_only = snapshot(engine)
    _add_someone_elses_workspace(engine)
    with_others = snapshot(engine)
    others = {key: row for key, row in with_others.items() if key not in demo_only}
    assert {table for table, _key in others} >= {
        "users", "installations", "user_installations", "auth_sessions", "events", "repos",
        "webhook_events", "embeddings", "reports", "coverage_candidates"}
    later = NOW + dt.timedelta(days=2)

    result = seed(reset=True, now=later)

    after = snapshot(engine)
    assert {key: after.get(key) for key in others} == others
    assert result.reset and result.anchor == later
    assert result.deliveries_new == result.deliveries_posted
    facts = demo_facts(session)
    assert len(facts) == result.facts and max(f.ts for f in facts) > NOW
    demo_installations = session.exec(select(Installation).where(Installation.kind == "demo")).all()
    assert len(demo_installations) == 1
    assert len(session.exec(select(User).where(User.is_demo.is_(True))).all()) == 1
    reports = session.exec(select(Report).where(Report.user_id == result.demo_user_id)).all()
    assert len(reports) == 8 and all(r.end_date <= later for r in reports)
    assert min(r.start_date for r in reports) >= later - dt.timedelta(days=14)


def test_reset_deletes_the_demo_users_sessions(seeded, session):
    first = seeded
    with session_scope() as scope:
        scope.add(AuthSession(token_hash="d" * 64, user_id=first.demo_user_id,
                              expires_at=NOW + dt.timedelta(days=30)))

    seed(reset=True)

    assert session.exec(select(AuthSession)).all() == []


def test_seed_signs_with_the_webhook_secret_when_one_is_configured(engine, configure, session):
    configure(GITHUB_WEBHOOK_SECRET="a-real-webhook-secret")

    result = seed()

    assert result.deliveries_new == result.deliveries_posted > 0
    assert {e.status for e in session.exec(select(WebhookEvent)).all()} == {"completed"}


def test_without_a_webhook_secret_the_seed_signs_with_the_demo_key(seeded, session):
    # `seeded` ran with no GITHUB_WEBHOOK_SECRET: the receiver took the in-process demo key.
    envelopes = session.exec(select(WebhookEvent)).all()

    assert len(envelopes) == seeded.deliveries_posted > 0
    assert {e.status for e in envelopes} == {"completed"}


def test_the_demo_source_never_syncs(seeded):
    result = seeded

    outcome = request_sync(result.installation_id, "manual", user_id=result.demo_user_id)

    assert not outcome.started
    assert outcome.message == "The demo workspace does not sync with GitHub"


def test_demo_sign_in_is_503_before_seeding_and_signs_in_after(engine, configure):
    configure(GITPULSE_DEMO="1", GITPULSE_BASE_URL="http://localhost:3000")
    with TestClient(create_api(with_workers=False), follow_redirects=False) as client:
        assert client.get("/auth/demo").status_code == 503

        seed()
        response = client.get("/auth/demo")

    assert response.status_code == 302
    assert response.headers["location"] == "http://localhost:3000/dashboard"
    assert "gitpulse_session=" in response.headers["set-cookie"]


def test_cli_demo_seed_prints_one_json_object_and_progress_on_stderr(engine, configure, capsys):
    configure(GITPULSE_DEMO="1")

    assert main(["demo", "seed", "--json"]) == 0

    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert captured.out.count("\n") == 1
    assert data["seeded"] is True and data["reset"] is False
    assert data["deliveries_posted"] == data["deliveries_new"] > 0
    assert data["reports"] == 8 and data["facts"] >= 400
    assert "Posting webhook deliveries" in captured.err and "Writing reports" in captured.err

    assert main(["demo", "seed"]) == 0
    summary = capsys.readouterr().out
    assert "0 new" in summary and "--reset" in summary and "/auth/demo" in summary


def test_cli_demo_seed_on_an_unmigrated_database_exits_1(configure, tmp_path, capsys):
    configure(DATABASE_URL=f"sqlite:///{tmp_path / 'empty.db'}")

    assert main(["demo", "seed", "--json"]) == 1

    assert "db upgrade" in json.loads(capsys.readouterr().out)["error"]


@pytest.mark.postgres
def test_seed_reseed_and_reset_work_on_postgres(pg_engine):
    first = seed()
    before = snapshot(pg_engine)

    again = seed()

    assert snapshot(pg_engine) == before and again.facts_new == 0
    reset = seed(reset=True, now=NOW + dt.timedelta(days=1))
    assert reset.facts == reset.facts_new > 400 and reset.reports_new == 8
    assert first.deliveries_posted > 0
    with session_scope() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Installation)) == 1
