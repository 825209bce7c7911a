"""`GET /auth/demo`."""

from __future__ import annotations

from sqlmodel import select

from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.models import AuthSession
from gitpulse_app.experience.auth.sessions import resolve_token
from tests.experience.auth.conftest import (
    BASE_URL,
    cookie_attributes,
    cookie_value,
    make_user,
    set_cookies,
)


def test_demo_sign_in_is_404_when_demo_mode_is_off(client, configure):
    configure(GITPULSE_DEMO="0")

    response = client.get("/auth/demo")

    assert response.status_code == 404


def test_demo_sign_in_without_a_seeded_workspace_is_503(client, configure):
    configure(GITPULSE_DEMO="1")

    response = client.get("/auth/demo")

    assert response.status_code == 503
    assert response.json() == {
        "error": "Demo workspace not seeded. Run: python -m gitpulse_app demo seed"
    }


def test_demo_sign_in_signs_into_the_demo_user_and_goes_to_next(client, configure, session):
    configure(GITPULSE_DEMO="1", GITPULSE_BASE_URL=BASE_URL)
    make_user(gh_id=1, gh_login="alice")
    demo = make_user(gh_login="demo", is_demo=True, timezone="UTC", onboarding_completed_at=utcnow())

    response = client.get("/auth/demo", params={"next": "/reports/5"})

    assert response.status_code == 302
    assert response.headers["location"] == f"{BASE_URL}/reports/5"
    header = set_cookies(response)["gitpulse_session"]
    assert "httponly" in cookie_attributes(header)
    assert resolve_token(cookie_value(header)) == demo.id
    assert len(session.exec(select(AuthSession)).all()) == 1


def test_demo_sign_in_guards_next(client, configure):
    configure(GITPULSE_DEMO="1", GITPULSE_BASE_URL=BASE_URL)
    make_user(gh_login="demo", is_demo=True, onboarding_completed_at=utcnow())

    for target in (None, "//evil.com", "https://evil.com"):
        params = {"next": target} if target else None
        assert client.get("/auth/demo", params=params).headers["location"] == f"{BASE_URL}/dashboard"
