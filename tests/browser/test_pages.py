"""The signed-in pages in headless Chromium against the running app.

Each test signs in by inserting a user and an `auth_sessions` row into the live app's database
and handing the browser the session cookie; facts go through the real fact store.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
import re

import pytest
from playwright.sync_api import expect

from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import (
    IngestionJob,
    Installation,
    Report,
    SyncBatch,
    User,
    UserInstallation,
    WebhookEvent,
)
from gitpulse_app.experience.auth.sessions import start_session
from gitpulse_app.experience.routes import SESSION_COOKIE
from gitpulse_app.normalization.models import ActorRef, Metrics, NormalizedFact, RepoRef
from gitpulse_app.normalization.store import ingest_facts

pytestmark = pytest.mark.browser

# Unique numbers for GitHub ids and names across the session's shared database.
_serial = itertools.count(random.randrange(1, 10**6) * 1000)
SAVED = "Settings saved! Reports will be generated at your local midnight."


@pytest.fixture
def db(live_db) -> None:
    """The live app's database as this process's engine (tests/support/browser.py)."""


class Workspace:
    """One signed-in user with an App source over a few repositories of their own org."""

    def __init__(self, page, live_app, *, onboarded: bool = True, timezone: str | None = "UTC",
                 **fields) -> None:
        number = next(_serial)
        self.login = f"tester{number}"
        self.org = f"org{number}"
        self.gh_id = 1_000_000_000 + number
        self.repo_ids: dict[str, int] = {}
        with session_scope() as session:
            user = User(gh_id=self.gh_id, gh_login=self.login, signed_up_at=utcnow(),
                        onboarding_completed_at=utcnow() if onboarded else None,
                        daily_reports_enabled=False, weekly_reports_enabled=False,
                        timezone=timezone, **fields)
            session.add(user)
            session.flush()
            self.user_id = user.id
            token = start_session(session, user.id, "playwright")
        page.context.add_cookies([{"name": SESSION_COOKIE, "value": token,
                                   "url": live_app.frontend_url}])
        self.installation_id: int | None = None

    def repo(self, name: str) -> str:
        return f"{self.org}/{name}"

    def _repo_gh_id(self, name: str) -> int:
        return self.repo_ids.setdefault(name, 3_000_000_000 + next(_serial))

    def link(self, *names: str, account: str | None = None) -> int:
        with session_scope() as session:
            # Synced and reconciled just now, so the live scheduler leaves it alone.
            source = Installation(kind="app", gh_installation_id=2_000_000_000 + next(_serial),
                                  account_login=account or self.org,
                                  repositories=[self.repo(name) for name in names],
                                  repository_ids=[self._repo_gh_id(name) for name in names],
                                  last_synced_at=utcnow(), last_reconciled_at=utcnow())
            session.add(source)
            session.flush()
            session.add(UserInstallation(user_id=self.user_id, installation_id=source.id,
                                         role="owner"))
            self.installation_id = source.id
            return source.id

    def facts(self, repo: str, fact_type: str, count: int, *, start: dt.datetime | None = None,
              step: dt.timedelta = dt.timedelta(minutes=7), titles: list[str] | None = None,
              actor: tuple[int, str] | None = None) -> None:
        start = start or utcnow() - dt.timedelta(minutes=5)
        gh_id, login = actor or (self.gh_id, self.login)
        repo_gh_id = self._repo_gh_id(repo)
        ref = RepoRef(gh_id=repo_gh_id, full_name=self.repo(repo),
                      owner=self.org, name=repo,
                      raw={"description": f"The {repo} service", "language": "Python",
                           "stargazers_count": 42, "forks_count": 7,
                           "html_url": f"https://github.com/{self.repo(repo)}"})
        facts = []
        for n in range(count):
            serial = next(_serial)
            title = titles[n % len(titles)] if titles else f"Change {serial}"
            ts = start - step * n
            if fact_type == "commit":
                sha = f"{serial:040x}"
                facts.append(NormalizedFact(
                    type="commit", repo=ref, actor=ActorRef(gh_id=gh_id, login=login), ts=ts,
                    source_url=f"https://github.com/{self.repo(repo)}/commit/{sha}",
                    metrics=Metrics(3, 1, 1), metadata={"sha": sha, "message": title}))
            else:
                kind = "issues" if fact_type.startswith("issue") else "pull"
                facts.append(NormalizedFact(
                    type=fact_type, repo=ref, actor=ActorRef(gh_id=gh_id, login=login), ts=ts,
                    source_url=f"https://github.com/{self.repo(repo)}/{kind}/{serial}",
                    metadata={"number": serial, "issue_number": serial, "title": title}))
        ingest_facts(facts, observed_via="webhook")

    def report(self, **fields) -> int:
        today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
        values = dict(
            user_id=self.user_id, kind="daily", schedule_type="daily", origin="scheduled",
            start_date=today - dt.timedelta(days=1), end_date=today, timezone="UTC",
            title="Daily Standup - Yesterday", description="Auto-generated daily report",
            sections=[{"title": "Work Completed", "bullets": [
                "Shipped the [login fix](https://github.com/x/y/pull/1)", "Second bullet",
                "Third bullet", "Fourth bullet"], "citations": []}],
            citations=["https://github.com/x/y/pull/1"], markdown="", html="", prompt_version="py-v1", provider="local",
            model="local-extractive-v1", cache_key="f" * 64, event_count=4, citation_count=4)
        values.update(fields)
        with session_scope() as session:
            row = Report(**values)
            session.add(row)
            session.flush()
            return row.id


def heading(page):
    return page.get_by_role("heading", level=1)


def test_dashboard_shows_kpis_chart_tldr_and_latest_reports(page, live_app, db):
    me = Workspace(page, live_app)
    me.link("api", "web")
    me.facts("api", "pr_opened", 2, step=dt.timedelta(seconds=30))
    me.facts("web", "commit", 3, step=dt.timedelta(seconds=30))
    me.report()

    page.goto("/dashboard")

    expect(heading(page)).to_have_text("Dashboard")
    cards = page.locator(".kpi-card")
    expect(cards).to_have_count(5)
    expect(cards.filter(has_text="PRs opened")).to_contain_text("2")
    expect(cards.filter(has_text="Commits")).to_contain_text("3")
    expect(cards.filter(has_text="Commits")).to_contain_text("↑ 100.0%")
    expect(page.locator("#activity .recharts-surface").first).to_be_visible()
    tldr = page.locator("#tldr")
    expect(tldr).to_contain_text("Shipped the login fix")
    expect(tldr).not_to_contain_text("Fourth bullet")
    tldr.get_by_role("button", name="Expand").click()
    expect(tldr).to_contain_text("Fourth bullet")
    expect(tldr.get_by_role("link", name="login fix")).to_have_attribute(
        "href", "https://github.com/x/y/pull/1")
    expect(page.locator("#latest-reports")).to_contain_text("Daily Standup - Yesterday")
    expect(page.locator("#latest-reports")).to_contain_text("4 CITATIONS")
    expect(page.get_by_label("unread reports")).to_have_text("1")
    expect(page.locator("#local-mode")).to_contain_text("Local mode")
    expect(page.locator("#local-mode")).to_have_attribute(
        "title", "Reports: local writer · Search: local embeddings")


def test_dashboard_without_sources_asks_for_one(page, live_app, db):
    Workspace(page, live_app)
    page.goto("/dashboard")
    expect(heading(page)).to_have_text("Dashboard")
    expect(page.locator(".sync-warning")).to_contain_text("Add a token source to enable ingestion.")
    expect(page.locator("#tldr")).to_contain_text("No daily reports yet")


def test_repos_lists_sources_and_tracking_choices_persist(page, live_app, db):
    me = Workspace(page, live_app)
    me.link("api", "web")
    me.facts("api", "commit", 1)

    page.goto("/repos")

    expect(heading(page)).to_have_text("Repositories")
    expect(page.locator("#integration-health")).to_contain_text(
        "GitHub App installed and ingesting events.")
    card = page.locator(".source-card")
    expect(card).to_contain_text(me.org)
    expect(card.locator(".repo-row")).to_have_count(2)
    web_switch = page.get_by_role("switch", name=f"Track {me.repo('web')}")
    expect(web_switch).to_have_attribute("aria-checked", "true")
    web_switch.click()
    expect(page.get_by_text(f"Stopped tracking {me.repo('web')}")).to_be_visible()
    page.reload()
    expect(page.get_by_role("switch", name=f"Track {me.repo('web')}")).to_have_attribute(
        "aria-checked", "false")
    expect(page.get_by_role("link", name=me.repo("api"))).to_have_attribute(
        "href", f"/repos/{me.org}/api")


def test_a_running_sync_shows_live_progress_and_its_rate_limit_countdown(page, live_app, db):
    me = Workspace(page, live_app)
    source_id = me.link("api", "web")
    me.facts("api", "commit", 1)
    now = utcnow()
    with session_scope() as session:
        batch = SyncBatch(installation_id=source_id, trigger="manual", status="running",
                          total_repos=2, requested_by_user_id=me.user_id,
                          created_at=now - dt.timedelta(minutes=2))
        session.add(batch)
        session.flush()
        common = dict(batch_id=batch.id, installation_id=source_id, trigger="manual",
                      since=now - dt.timedelta(days=30))
        session.add(IngestionJob(repo_full_name=me.repo("api"), status="completed", progress=100,
                                 events_ingested=12, completed_at=now, **common))
        # Blocked until later: no worker touches it before then.
        session.add(IngestionJob(repo_full_name=me.repo("web"), status="blocked", progress=40,
                                 blocked_until=now + dt.timedelta(minutes=5), **common))

    page.goto("/dashboard")
    progress = page.locator(".sync-progress")
    expect(progress).to_contain_text("Rate Limit Cooldown")
    expect(progress).to_contain_text("50%")
    expect(progress).to_contain_text("12 events")
    countdown = progress.get_by_text(re.compile(r"^Resuming in 4m \d+s$"))
    first = countdown.text_content()
    expect(countdown).not_to_have_text(first, timeout=5000)

    page.goto("/repos")
    expect(page.locator(".source-card").get_by_role("button", name="Syncing…")).to_be_disabled()
    expect(page.locator(".source-card .sync-progress")).to_contain_text("Rate Limit Cooldown")


def test_adding_a_token_source_explains_what_is_missing(page, live_app, db):
    Workspace(page, live_app)
    page.goto("/repos")
    page.get_by_role("button", name="Add PAT source").click()
    dialog = page.get_by_role("dialog")
    dialog.locator("#pat-token").fill("ghp_notarealtoken")
    dialog.get_by_role("button", name="Add source").click()
    expect(dialog.locator("#pat-error")).to_have_text("Name at least one repository as owner/name.")


def test_failed_deliveries_offer_retry_to_the_owner_and_not_to_a_viewer(page, live_app, db):
    owner = Workspace(page, live_app)
    source_id = owner.link("api")
    with session_scope() as session:
        gh_id = session.get(Installation, source_id).gh_installation_id
        session.add(WebhookEvent(delivery_id=f"dead-{gh_id}", event="push",
                                 installation_gh_id=gh_id, status="failed", attempts=5))

    page.goto("/repos")
    card = page.locator(".source-card")
    expect(card).to_contain_text("1 failed deliveries")
    expect(card.get_by_role("button", name="Retry")).to_be_visible()

    viewer = Workspace(page, live_app)  # signs this browser in as someone else
    with session_scope() as session:
        session.add(UserInstallation(user_id=viewer.user_id, installation_id=source_id,
                                     role="viewer"))
    page.goto("/repos")
    expect(card).to_contain_text("1 failed deliveries")
    expect(card.get_by_role("button", name="Retry")).to_have_count(0)


def test_repos_without_sources_says_so(page, live_app, db):
    Workspace(page, live_app)
    page.goto("/repos")
    expect(heading(page)).to_have_text("Repositories")
    expect(page.get_by_text("No sources configured")).to_be_visible()


def test_repo_detail_shows_kpis_breakdown_chart_and_ranges(page, live_app, db):
    me = Workspace(page, live_app)
    me.link("api")
    me.facts("api", "commit", 3, step=dt.timedelta(hours=1))
    me.facts("api", "pr_opened", 1)
    me.facts("api", "commit", 2, start=utcnow() - dt.timedelta(days=20))

    page.goto(f"/repos/{me.org}/api")

    expect(heading(page)).to_have_text(me.repo("api"))
    expect(page.get_by_text("The api service")).to_be_visible()
    expect(page.get_by_role("link", name="View on GitHub →")).to_be_visible()
    expect(page.get_by_text(re.compile(r"^Data snapshot: .+ \(refresh page for latest data\)$"))
           ).to_be_visible()
    expect(page.get_by_role("heading", name="Event Breakdown (6 total)")).to_be_visible()
    expect(page.locator(".kpi-card").filter(has_text="Commits")).to_contain_text("5")
    expect(page.locator(".breakdown-row").first).to_contain_text("83.3% of all events")
    expect(page.locator(".recharts-surface").first).to_be_visible()
    page.get_by_role("radio", name="7d").click()
    expect(page.get_by_role("heading", name="Event Breakdown (4 total)")).to_be_visible()
    page.locator(".breakdown-row").filter(has_text="Commits").click()
    expect(page.locator(".breakdown-row").filter(has_text="Commits")).to_have_css("opacity", "0.5")


def test_a_repository_the_user_cannot_see_is_not_found(page, live_app, db):
    other = Workspace(page, live_app)
    other.link("hidden")
    other.facts("hidden", "commit", 1)
    Workspace(page, live_app)  # the browser now holds this user's cookie
    page.goto(f"/repos/{other.org}/hidden")
    expect(heading(page)).to_have_text("Repository not found")


def test_timeline_filters_and_search_change_the_list(page, live_app, db):
    me = Workspace(page, live_app)
    me.link("api", "web")
    me.facts("api", "commit", 3, titles=["Fix the auth bug in login", "Update README",
                                         "Bump numpy"])
    me.facts("web", "pr_opened", 2, titles=["Dark mode for settings", "Faster charts"])

    page.goto("/timeline")

    expect(heading(page)).to_have_text("Timeline")
    rows = page.locator(".timeline-row")
    expect(rows).to_have_count(5)
    page.get_by_role("combobox", name="Repository").click()
    page.get_by_role("option", name=me.repo("web")).click()
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text(me.repo("web"))
    page.get_by_role("combobox", name="Repository").click()
    page.get_by_role("option", name="All repositories").click()
    expect(rows).to_have_count(5)
    page.get_by_role("checkbox", name="Commits").click()
    expect(rows).to_have_count(3)
    page.get_by_role("checkbox", name="Commits").click()
    expect(rows).to_have_count(5)

    page.locator("#timeline-search").fill("auth bug")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("Best matches for “auth bug”")).to_be_visible()
    expect(rows.first).to_contain_text("Fix the auth bug in login")
    expect(rows.first.locator(".score")).to_be_visible()
    page.get_by_role("button", name="Clear").click()
    expect(rows).to_have_count(5)
    expect(page.locator(".score")).to_have_count(0)

    export = page.locator("#export-csv")
    expect(export).to_have_attribute("href", re.compile(r"/api/export/timeline\.csv$"))
    response = page.request.get(export.get_attribute("href"))
    assert response.status == 200
    lines = response.text().splitlines()
    assert lines[0].startswith("ts_utc,local_date,type,repo,actor,canonical_text")
    assert len(lines) == 6


def test_timeline_scrolls_in_pages_of_50(page, live_app, db):
    me = Workspace(page, live_app)
    me.link("api")
    me.facts("api", "commit", 120, step=dt.timedelta(minutes=1))
    page.goto("/timeline")
    rows = page.locator(".timeline-row")
    expect(rows).to_have_count(50)
    page.locator("#timeline-sentinel").scroll_into_view_if_needed()
    expect(rows).to_have_count(100)
    page.locator("#timeline-sentinel").scroll_into_view_if_needed()
    expect(rows).to_have_count(120)
    expect(page.locator("#timeline-load-more")).to_have_count(0)


def test_timeline_is_empty_for_a_range_without_activity(page, live_app, db):
    me = Workspace(page, live_app)
    me.link("api")
    me.facts("api", "commit", 1)
    page.goto("/timeline")
    expect(page.locator(".timeline-row")).to_have_count(1)
    page.locator("#timeline-end").fill("2020-01-01")
    expect(page.get_by_text("No activity in this range")).to_be_visible()


def test_settings_persist_across_reload_and_a_bad_zone_is_refused(page, live_app, db):
    Workspace(page, live_app)
    page.goto("/settings")
    expect(heading(page)).to_have_text("Settings")
    expect(page.get_by_text("Email is not configured on this server")).to_be_visible()
    expect(page.get_by_role("switch", name="Email reports")).to_be_disabled()

    page.locator("#timezone").fill("Asia/Tokyo")
    page.get_by_role("switch", name="Daily reports").click()
    page.locator("#week-start").click()
    page.get_by_role("option", name="Sunday").click()
    expect(page.get_by_text("Weekly Retrospective – 7-day summary (Sundays).")).to_be_visible()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text(SAVED)).to_be_visible()

    page.reload()
    expect(page.locator("#timezone")).to_have_value("Asia/Tokyo")
    expect(page.get_by_role("switch", name="Daily reports")).to_have_attribute(
        "aria-checked", "true")
    expect(page.locator("#week-start")).to_have_text("Sunday")

    page.locator("#timezone").fill("Mars/Olympus")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#timezone-error")).to_have_text(
        'Unknown time zone "Mars/Olympus". Choose an IANA zone such as "America/Chicago".')
    page.reload()
    expect(page.locator("#timezone")).to_have_value("Asia/Tokyo")


def test_settings_default_to_the_browsers_zone(page, live_app, db):
    Workspace(page, live_app, timezone=None)
    page.goto("/settings")
    browser_zone = page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone")
    expect(page.locator("#timezone")).to_have_value(browser_zone)


def test_signing_out_everywhere_ends_the_session(page, live_app, db):
    Workspace(page, live_app)
    page.goto("/settings")
    page.get_by_role("button", name="Sign out everywhere").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Sign out everywhere").click()
    page.wait_for_url(re.compile(r"/$|/\?"))
    page.goto("/dashboard")
    page.wait_for_url(re.compile(r"/\?next=/dashboard$"))


@pytest.mark.parametrize("path", ["/dashboard", "/repos", "/repos/acme/api", "/timeline",
                                  "/settings"])
def test_signed_out_visits_go_to_the_landing_page(page, path):
    page.goto(path)
    page.wait_for_url(re.compile(r"/\?next=" + re.escape(path) + "$"))


def test_a_user_who_has_not_finished_onboarding_goes_there(page, live_app, db):
    Workspace(page, live_app, onboarded=False)
    page.goto("/dashboard")
    page.wait_for_url(re.compile(r"/onboarding/?$"))
    expect(heading(page)).to_have_text("Welcome to GitPulse")
