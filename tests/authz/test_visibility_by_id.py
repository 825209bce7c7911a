"""Visibility by GitHub id (docs/VISIBILITY.md), on SQLite and PostgreSQL.

Deliveries go through the real receiver and processor; what a user sees is read through the
consumers themselves: the CSV export over HTTP, the timeline, reports and the repository page.
"""

import asyncio
import csv
import datetime as dt
import io
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select
from starlette.testclient import TestClient

from gitpulse_app.acquisition import access
from gitpulse_app.acquisition.webhooks import processor
from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import (
    IngestionJob,
    Installation,
    Repo,
    SyncBatch,
    TrackedRepo,
    User,
)
from gitpulse_app.experience.auth.sessions import start_session
from gitpulse_app.experience.auth.users import link_installations
from gitpulse_app.experience.http.app import create_api
from gitpulse_app.experience.repos.views import load_repo
from gitpulse_app.experience.sources.service import add_pat_source, set_tracked
from gitpulse_app.experience.sources.views import list_sources
from gitpulse_app.intelligence.reports.models import ReportError
from gitpulse_app.intelligence.reports.service import generate_report
from gitpulse_app.intelligence.timeline import TimelineFilters, load_timeline_page
from tests.acquisition.webhooks.conftest import SECRET, post_webhook
from tests.support.payloads import FULL_NAME, REPO_ID, USER_ID, load_webhook

DAY = (dt.datetime(2019, 5, 15, tzinfo=dt.UTC), dt.datetime(2019, 5, 16, tzinfo=dt.UTC))
NOW = dt.datetime(2019, 5, 20, 12, tzinfo=dt.UTC)
UNKNOWN_INSTALLATION = 7_310_001
NEW_OWNER_INSTALLATION = 7_310_002
NEW_REPO_ID = 990_000_111  # the repository that took FULL_NAME after the first was deleted
BOB_GH_ID = 9_310_001
OLD_PR_URL = f"https://github.com/{FULL_NAME}/pull/2"
NEW_PR_URL = f"https://github.com/{FULL_NAME}/pull/9"
TOKEN = "ghp_0123456789abcdefghijklmnopqrstuvwxyzWXYZ"


@pytest.fixture
def api(any_engine, configure) -> Iterator[TestClient]:
    """The real backend (receiver and export) on the test's database, without workers."""
    configure(GITHUB_WEBHOOK_SECRET=SECRET)
    with TestClient(create_api(with_workers=False), follow_redirects=False) as client:
        yield client


def deliver(client: TestClient, event: str, payload: dict) -> None:
    assert post_webhook(client, event, payload).status_code == 200
    result = processor.drain()
    assert result.completed == result.processed >= 1


def pr_opened(installation_id: int, *, repo_id: int = REPO_ID, number: int = 2) -> dict:
    payload = load_webhook("pull_request", "opened")
    payload["installation"] = {"id": installation_id}
    payload["repository"]["id"] = repo_id
    payload["pull_request"]["number"] = number
    payload["pull_request"]["html_url"] = f"https://github.com/{FULL_NAME}/pull/{number}"
    return payload


def installation_created(installation_id: int, repo_id: int, sender_gh_id: int,
                         sender_login: str) -> dict:
    payload = load_webhook("installation", "created")
    payload["installation"]["id"] = installation_id
    payload["repositories"] = [{"id": repo_id, "full_name": FULL_NAME, "name": "Hello-World",
                                "private": False}]
    payload["sender"] = {**payload["sender"], "id": sender_gh_id, "login": sender_login}
    return payload


def sign_up(gh_id: int, login: str) -> int:
    """A signed-up user (the row ingestion made for this GitHub account, if any)."""
    with session_scope() as session:
        user = session.exec(select(User).where(User.gh_id == gh_id)).first()
        user = user or User(gh_id=gh_id, gh_login=login)
        user.signed_up_at, user.timezone = NOW - dt.timedelta(days=30), "UTC"
        session.add(user)
        session.flush()
        return user.id


def exported_urls(client: TestClient, user_id: int) -> set[str]:
    with session_scope() as session:
        client.cookies.set("gitpulse_session", start_session(session, user_id, "pytest"))
    response = client.get("/api/export/timeline.csv?start=2019-05-01&end=2019-05-31")
    assert response.status_code == 200
    header, *rows = csv.reader(io.StringIO(response.content.decode("utf-8")))
    return {row[header.index("source_url")] for row in rows}


def timeline_urls(user_id: int) -> set[str]:
    return {row.source_url for row in load_timeline_page(user_id, TimelineFilters(), "UTC").rows}


def visible(user_id: int) -> set[str]:
    with session_scope() as session:
        ids = access.visible_repo_ids(session, user_id)
        return set(session.scalars(sa.select(Repo.full_name).where(Repo.id.in_(ids))))


def test_facts_under_an_unknown_installation_show_once_the_user_is_linked_with_no_sync(
        api, any_engine):
    deliver(api, "pull_request", pr_opened(UNKNOWN_INSTALLATION))
    with Session(any_engine) as session:
        [source] = session.exec(select(Installation)).all()
        assert (source.gh_installation_id, source.repositories, source.repository_ids) == (
            UNKNOWN_INSTALLATION, [], [])
    user_id = sign_up(USER_ID, "Codertocat")
    assert exported_urls(api, user_id) == set() and timeline_urls(user_id) == set()

    with session_scope() as session:
        user = session.get(User, user_id)
        link_installations(session, user, [{"id": UNKNOWN_INSTALLATION,
                                            "account": {"login": "Codertocat", "type": "User"}}],
                           NOW)

    assert exported_urls(api, user_id) == {OLD_PR_URL}
    assert timeline_urls(user_id) == {OLD_PR_URL}
    report = generate_report(user_id, "daily", *DAY, origin="scheduled", now=NOW).report
    assert report.event_count == 1 and OLD_PR_URL in report.markdown
    with Session(any_engine) as session:
        assert session.exec(select(SyncBatch)).all() == []
        assert session.exec(select(IngestionJob)).all() == []


def test_a_name_registered_again_by_someone_else_shows_none_of_the_old_repository(
        api, any_engine):
    alice = sign_up(USER_ID, "Codertocat")
    deliver(api, "installation", load_webhook("installation", "created"))
    deliver(api, "pull_request", pr_opened(957387))
    # The repository is deleted; someone else creates one under the same name and installs the
    # App on it. Nothing has synced it yet: the stored row under that name is still the old one.
    bob = sign_up(BOB_GH_ID, "bob-widgets")
    deliver(api, "installation",
            installation_created(NEW_OWNER_INSTALLATION, NEW_REPO_ID, BOB_GH_ID, "bob-widgets"))
    with Session(any_engine) as session:
        stored = session.exec(select(Repo).where(Repo.full_name == FULL_NAME)).one()
        assert stored.gh_id == REPO_ID

    assert visible(bob) == set()
    assert exported_urls(api, bob) == set() and timeline_urls(bob) == set()
    with pytest.raises(ReportError, match="not found"):
        generate_report(bob, "daily", *DAY, repo=FULL_NAME, now=NOW)
    page, _zone = load_repo(bob, FULL_NAME, 30, NOW)
    assert page is not None and page.total == 0 and page.repo.html_url is None
    [source] = [view for view in list_sources(bob) if view.account_login]
    assert [(row.full_name, row.stored) for row in source.repos] == [(FULL_NAME, False)]
    assert exported_urls(api, alice) == {OLD_PR_URL}

    # The new repository's own facts reach its owner only; the old ones stay with theirs.
    deliver(api, "pull_request", pr_opened(NEW_OWNER_INSTALLATION, repo_id=NEW_REPO_ID, number=9))
    assert exported_urls(api, bob) == timeline_urls(bob) == {NEW_PR_URL}
    assert exported_urls(api, alice) == {OLD_PR_URL.replace(FULL_NAME, f"{FULL_NAME}#{REPO_ID}")}


def test_untracking_by_id_hides_the_repository_and_not_another_under_its_old_name(
        api, any_engine):
    alice = sign_up(USER_ID, "Codertocat")
    deliver(api, "installation", load_webhook("installation", "created"))
    deliver(api, "pull_request", pr_opened(957387))
    with session_scope() as session:
        [source_id] = session.scalars(sa.select(Installation.id))
    assert set_tracked(alice, source_id, FULL_NAME.upper(), False).ok
    with Session(any_engine) as session:
        [choice] = session.exec(select(TrackedRepo)).all()
        assert (choice.repo_gh_id, choice.tracked) == (REPO_ID, False)
    assert exported_urls(api, alice) == set()
    assert set_tracked(alice, source_id, FULL_NAME, True).ok
    assert exported_urls(api, alice) == {OLD_PR_URL}


def test_a_token_source_tracks_the_repository_github_confirmed_by_id(
        api, any_engine, configure, fake_github):
    configure(GITHUB_API_URL=fake_github.url)
    # The old repository's facts are stored under the name the token's repository now holds.
    deliver(api, "pull_request", pr_opened(UNKNOWN_INSTALLATION))
    carol = sign_up(9_310_002, "carol")
    fake_github.add_json("/user", {"login": "carol", "id": 9_310_002})
    fake_github.add_json(f"/repos/{FULL_NAME}", {"full_name": FULL_NAME, "id": NEW_REPO_ID})

    result = asyncio.run(add_pat_source(carol, TOKEN, FULL_NAME))

    assert result.ok, result.message
    with Session(any_engine) as session:
        source = session.get(Installation, result.installation_id)
        assert (source.repositories, source.repository_ids) == ([FULL_NAME], [NEW_REPO_ID])
        [choice] = session.exec(select(TrackedRepo)).all()
        assert (choice.repo_gh_id, choice.tracked) == (NEW_REPO_ID, True)
    assert visible(carol) == set() and exported_urls(api, carol) == set()

    deliver(api, "pull_request", pr_opened(NEW_OWNER_INSTALLATION, repo_id=NEW_REPO_ID, number=9))
    assert exported_urls(api, carol) == timeline_urls(carol) == {NEW_PR_URL}


def test_every_fact_consumer_reads_the_one_visibility_function():
    from gitpulse_app.intelligence import timeline
    from gitpulse_app.intelligence.embeddings import search

    assert timeline.visible_repo_ids is access.visible_repo_ids
    assert search.visible_repo_ids is access.visible_repo_ids
