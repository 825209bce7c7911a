"""`GET /api/reports/{id}.md`."""

import datetime as dt
import secrets

import pytest
from starlette.testclient import TestClient

from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.models import AuthSession
from gitpulse_app.experience.auth.sessions import token_hash
from gitpulse_app.experience.http.app import create_api
from gitpulse_app.intelligence.reports.service import delete_report, generate_report
from tests.intelligence.reports.conftest import DEC4, NOW, at, pr


@pytest.fixture
def client(engine):
    with TestClient(create_api(with_workers=False)) as test_client:
        yield test_client


def get_as(client, world, user, path: str):
    """GET `path` with a fresh signed-in session of `user`."""
    token = secrets.token_urlsafe(32)
    world.session.add(AuthSession(token_hash=token_hash(token), user_id=user.id,
                                  expires_at=utcnow() + dt.timedelta(days=30),
                                  last_seen_at=utcnow()))
    world.session.commit()
    client.cookies.set("gitpulse_session", token)
    try:
        return client.get(path)
    finally:
        client.cookies.clear()


@pytest.fixture
def saved(world):
    alice, bob = world.user("alice"), world.user("bob")
    app = world.repo("acme/app", seen_by=(alice,))
    world.add(pr(app, alice, 1, "Add search", at(2)))
    report = generate_report(alice.id, "daily", *DEC4, now=NOW).report
    return alice, bob, report


def test_the_owner_downloads_the_report_as_markdown(client, world, saved):
    alice, _, report = saved

    response = get_as(client, world, alice, f"/api/reports/{report.id}.md")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/markdown; charset=utf-8"
    assert response.headers["content-disposition"] == \
        f'attachment; filename="report-{report.id}.md"'
    assert response.text == (
        "# Daily Standup - December 4, 2025\n\nDecember 4, 2025\n\n"
        f"{report.markdown}\n\n"
        "Sources:\n- https://github.com/acme/app/pull/1\n")


def test_without_a_session_the_download_is_401(client, saved):
    _, _, report = saved

    response = client.get(f"/api/reports/{report.id}.md")

    assert response.status_code == 401 and response.json() == {"error": "Not signed in"}


def test_someone_elses_missing_or_deleted_report_is_404(client, world, saved):
    alice, bob, report = saved

    as_bob = get_as(client, world, bob, f"/api/reports/{report.id}.md")
    missing = get_as(client, world, alice, "/api/reports/424242.md")
    delete_report(alice.id, report.id)
    deleted = get_as(client, world, alice, f"/api/reports/{report.id}.md")

    for response in (as_bob, missing, deleted):
        assert response.status_code == 404
        assert response.json() == {"error": "Report not found"}
