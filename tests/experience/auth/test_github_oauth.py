"""The GitHub OAuth round trip through the real routes, against a fake GitHub."""

from __future__ import annotations

import datetime as dt
import logging
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlmodel import select

from gitpulse_app.core.crypto import decrypt_token
from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.models import AuthSession, User
from gitpulse_app.experience.auth.sessions import token_hash
from tests.experience.auth.conftest import (
    ACCESS_TOKEN,
    API_URL,
    BASE_URL,
    CLIENT_ID,
    CLIENT_SECRET,
    REFRESH_TOKEN,
    begin_login,
    cookie_attributes,
    cookie_value,
    error_message,
    finish_login,
    make_session,
    make_user,
    set_cookies,
    sign_in_with_github,
)
from tests.support.fake_http import FakeResponse


def sessions(session) -> list[AuthSession]:
    session.expire_all()
    return list(session.exec(select(AuthSession)).all())


# Login --------------------------------------------------------------------------------------------
def test_login_redirects_to_github_authorize_with_minimal_scopes(client, github):
    response = client.get("/auth/github/login", params={"next": "/reports/5"})

    assert response.status_code == 302
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == (
        f"{github.web.url}/login/oauth/authorize"
    )
    query = parse_qs(location.query)
    assert query["client_id"] == [CLIENT_ID]
    assert query["scope"] == ["read:user user:email"]
    assert query["redirect_uri"] == [f"{API_URL}/auth/github/callback"]
    assert query["response_type"] == ["code"]
    assert len(query["state"][0]) >= 20
    oauth_cookie = cookie_attributes(set_cookies(response)["gitpulse_oauth"])
    assert oauth_cookie["max-age"] == "600"
    assert oauth_cookie["samesite"] == "lax"
    assert "httponly" in oauth_cookie and "secure" not in oauth_cookie


def test_login_without_a_configured_client_answers_503(client, configure):
    configure(GITHUB_CLIENT_ID=None, GITHUB_CLIENT_SECRET=None)

    response = client.get("/auth/github/login")

    assert response.status_code == 503
    assert response.json() == {
        "error": "GitHub OAuth not configured. Set GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET."
    }


# Callback errors ----------------------------------------------------------------------------------
def test_state_mismatch_ends_on_the_landing_page_with_invalid_state_token(client, github, session):
    begin_login(client)

    response = finish_login(client, state="forged-state")

    assert response.status_code == 302
    assert error_message(response) == (f"{BASE_URL}/", "Invalid state token")
    assert sessions(session) == []
    assert "gitpulse_session" not in set_cookies(response)
    assert github.web.requests_to("/login/oauth/access_token") == []


def test_callback_without_the_login_step_is_a_state_mismatch(client, github):
    response = finish_login(client, state="never-issued")

    assert error_message(response)[1] == "Invalid state token"


def test_denied_authorization_shows_githubs_description(client, github, session):
    state = begin_login(client)

    response = client.get("/auth/github/callback", params={
        "error": "access_denied",
        "error_description": "The user has denied your application access.",
        "state": state,
    })

    assert error_message(response) == (f"{BASE_URL}/", "The user has denied your application access.")
    assert sessions(session) == []


def test_an_error_without_description_reads_unknown_error(client, github):
    state = begin_login(client)

    response = client.get("/auth/github/callback", params={"error": "server_error", "state": state})

    assert error_message(response)[1] == "Unknown error"


@pytest.mark.parametrize("params", [{"state": "s"}, {"code": "c"}, {}])
def test_missing_code_or_state_reads_missing_authorization_code(client, github, params):
    begin_login(client)

    response = client.get("/auth/github/callback", params=params)

    assert error_message(response)[1] == "Missing authorization code"


def test_a_failed_code_exchange_reads_failed_to_exchange(client, github, session):
    github.token_response(FakeResponse(500, body="boom"))

    response = sign_in_with_github(client)

    assert error_message(response) == (f"{BASE_URL}/", "Failed to exchange code for token")
    assert sessions(session) == []
    assert session.exec(select(User)).all() == []


def test_a_404_from_the_token_endpoint_is_an_exchange_failure(client, github):
    github.token_response(FakeResponse(404, json={"message": "Not Found"}))

    assert error_message(sign_in_with_github(client))[1] == "Failed to exchange code for token"


def test_a_token_error_response_shows_its_description(client, github):
    github.token_response(FakeResponse(200, json={
        "error": "bad_verification_code",
        "error_description": "The code passed is incorrect or expired.",
    }))

    assert error_message(sign_in_with_github(client))[1] == "The code passed is incorrect or expired."


def test_a_failed_profile_fetch_reads_failed_to_fetch_profile(client, github, session):
    github.api.add_json("/user", {"message": "boom"}, status=500)

    response = sign_in_with_github(client)

    assert error_message(response) == (f"{BASE_URL}/", "Failed to fetch GitHub user profile")
    assert sessions(session) == []
    assert session.exec(select(User)).all() == []


def test_an_error_while_signed_in_ends_on_settings_and_keeps_the_session(client, github, session):
    user = make_user(gh_id=1, gh_login="bob", signed_up_at=utcnow())
    token = make_session(user.id)
    client.cookies.set("gitpulse_session", token)
    state = begin_login(client)

    response = client.get("/auth/github/callback", params={"error": "access_denied", "state": state})

    assert error_message(response) == (f"{BASE_URL}/settings", "Unknown error")
    assert [row.token_hash for row in sessions(session)] == [token_hash(token)]


# Success ------------------------------------------------------------------------------------------
def test_first_sign_in_creates_the_user_with_encrypted_tokens_and_a_hashed_session(
    client, github, session, engine
):
    response = sign_in_with_github(client)

    assert response.status_code == 302
    assert response.headers["location"] == f"{BASE_URL}/onboarding"
    user = session.exec(select(User)).one()
    assert (user.gh_id, user.gh_login, user.gh_node_id) == (4242, "alice", "MDQ6VXNlcjQyNDI=")
    assert user.display_name == "Alice Liddell"
    assert user.email == "alice@alice.example"
    assert (user.company, user.followers, user.public_repos) == ("Wonderland", 7, 12)
    assert user.signed_up_at is not None and user.last_login_at is not None
    assert decrypt_token(user.oauth_access_token_enc) == ACCESS_TOKEN
    assert decrypt_token(user.oauth_refresh_token_enc) == REFRESH_TOKEN
    expected_expiry = utcnow() + dt.timedelta(seconds=28800)
    assert abs(user.oauth_token_expires_at - expected_expiry) < dt.timedelta(minutes=1)

    cookie = set_cookies(response)["gitpulse_session"]
    token = cookie_value(cookie)
    row = sessions(session)[0]
    assert row.token_hash == token_hash(token) and row.user_id == user.id
    assert row.user_agent == "testclient"
    assert abs(row.expires_at - (utcnow() + dt.timedelta(days=30))) < dt.timedelta(minutes=1)

    # Neither token nor the session token is stored in clear anywhere in the database.
    raw = engine.raw_connection()
    try:
        dump = "\n".join(raw.driver_connection.iterdump())
    finally:
        raw.close()
    for secret in (ACCESS_TOKEN, REFRESH_TOKEN, token):
        assert secret not in dump


def test_the_code_exchange_and_identity_calls_go_to_the_configured_github(client, github):
    sign_in_with_github(client)

    [exchange] = github.web.requests_to("/login/oauth/access_token", "POST")
    form = parse_qs(exchange.text)
    assert form["code"] == ["code-123"]
    assert form["client_id"] == [CLIENT_ID] and form["client_secret"] == [CLIENT_SECRET]
    assert form["redirect_uri"] == [f"{API_URL}/auth/github/callback"]
    assert "application/json" in exchange.headers["accept"]
    for path in ("/user", "/user/emails", "/user/installations"):
        [call] = [r for r in github.api.requests if r.path == path]
        assert call.headers["authorization"] == f"Bearer {ACCESS_TOKEN}"
        assert call.headers["x-github-api-version"] == "2022-11-28"


@pytest.mark.parametrize("base_url, secure", [("http://localhost:3000", False),
                                              ("https://pulse.example.com", True)])
def test_session_cookie_flags_are_exact(client, github, configure, base_url, secure):
    configure(GITPULSE_BASE_URL=base_url)
    client.base_url = client.base_url.copy_with(scheme="https" if secure else "http")

    response = sign_in_with_github(client)

    header = set_cookies(response)["gitpulse_session"]
    attributes = cookie_attributes(header)
    assert attributes == {"httponly": "", "max-age": "34560000", "path": "/", "samesite": "lax",
                          **({"secure": ""} if secure else {})}
    assert response.headers["location"] == f"{base_url}/onboarding"


def test_an_onboarded_user_lands_on_the_guarded_next(client, github):
    make_user(gh_id=4242, gh_login="alice", signed_up_at=utcnow(), onboarding_completed_at=utcnow())

    response = sign_in_with_github(client, next_path="/reports/5")

    assert response.headers["location"] == f"{BASE_URL}/reports/5"


def test_an_onboarded_user_without_next_lands_on_the_dashboard(client, github):
    make_user(gh_id=4242, gh_login="alice", signed_up_at=utcnow(), onboarding_completed_at=utcnow())

    assert sign_in_with_github(client).headers["location"] == f"{BASE_URL}/dashboard"


@pytest.mark.parametrize("evil", ["//evil.com", "https://evil.com", "/\\evil.com", "javascript:x"])
def test_an_offsite_next_lands_on_the_dashboard(client, github, evil):
    make_user(gh_id=4242, gh_login="alice", signed_up_at=utcnow(), onboarding_completed_at=utcnow())

    assert sign_in_with_github(client, next_path=evil).headers["location"] == f"{BASE_URL}/dashboard"


def test_a_reconnect_ends_on_settings_connected_and_replaces_the_session(client, github, session):
    user = make_user(gh_id=4242, gh_login="alice", signed_up_at=utcnow(),
                     onboarding_completed_at=utcnow())
    old_token = make_session(user.id)
    client.cookies.set("gitpulse_session", old_token)

    response = sign_in_with_github(client)

    assert response.headers["location"] == f"{BASE_URL}/settings?github=connected"
    new_token = cookie_value(set_cookies(response)["gitpulse_session"])
    assert [row.token_hash for row in sessions(session)] == [token_hash(new_token)]


def test_a_returning_user_keeps_sign_up_time_and_gets_fresh_tokens(client, github, session):
    signed_up = utcnow() - dt.timedelta(days=40)
    make_user(gh_id=4242, gh_login="alice", signed_up_at=signed_up, email="edited@alice.example")

    sign_in_with_github(client)

    user = session.exec(select(User)).one()
    assert abs(user.signed_up_at - signed_up) < dt.timedelta(seconds=1)
    assert user.last_login_at > signed_up
    assert user.email == "edited@alice.example"  # a confirmed edit outlives sign-ins
    assert decrypt_token(user.oauth_access_token_enc) == ACCESS_TOKEN


def test_a_token_without_expiry_is_kept_for_eight_hours(client, github, session):
    github.token_response(FakeResponse(200, json={"access_token": ACCESS_TOKEN,
                                                  "token_type": "bearer", "scope": ""}))

    sign_in_with_github(client)

    user = session.exec(select(User)).one()
    expected_expiry = utcnow() + dt.timedelta(hours=8)
    assert abs(user.oauth_token_expires_at - expected_expiry) < dt.timedelta(minutes=1)
    assert user.oauth_refresh_token_enc is None


def test_a_failed_emails_call_does_not_fail_the_sign_in(client, github, session):
    github.api.add_json("/user/emails", {"message": "Not Found"}, status=404)

    response = sign_in_with_github(client)

    assert response.headers["location"] == f"{BASE_URL}/onboarding"
    assert session.exec(select(User)).one().email is None


def test_no_token_ever_appears_in_the_logs(client, github, caplog):
    caplog.set_level(logging.DEBUG)

    response = sign_in_with_github(client)

    session_token = cookie_value(set_cookies(response)["gitpulse_session"])
    assert caplog.records, "the sign-in logged nothing at all; the check would be vacuous"
    for record in caplog.records:
        line = f"{record.getMessage()} {record.__dict__!r}"
        if "http://testserver/" in line:
            continue  # the test client's own request line, not the app's
        for secret in (ACCESS_TOKEN, REFRESH_TOKEN, CLIENT_SECRET, session_token, "code-123"):
            assert secret not in line, f"{secret[:8]}… leaked in {record.name}: {record.msg}"


def test_a_callback_when_oauth_is_not_configured_says_so(client, github, configure):
    state = begin_login(client)
    configure(GITHUB_CLIENT_ID=None, GITHUB_CLIENT_SECRET=None)

    assert error_message(finish_login(client, state))[1] == "GitHub OAuth not configured"


def test_an_unreachable_database_reads_service_temporarily_unavailable(client, github):
    from gitpulse_app.core.db import create_db_engine, set_engine

    state = begin_login(client)
    unreachable = create_db_engine("postgresql+psycopg://nobody@127.0.0.1:9/gitpulse")
    set_engine(unreachable)  # the `engine` fixture restores the default afterwards
    try:
        response = finish_login(client, state)
    finally:
        unreachable.dispose()

    assert error_message(response) == (
        f"{BASE_URL}/", "Service temporarily unavailable. Please try again.")
    assert "gitpulse_session" not in set_cookies(response)


@pytest.mark.parametrize("succeed", [True, False])
def test_the_callback_clears_the_oauth_state_cookie(client, github, succeed):
    state = begin_login(client)

    response = finish_login(client, state if succeed else "forged")

    assert set_cookies(response)["gitpulse_oauth"].startswith("gitpulse_oauth=null;")
    assert error_message(finish_login(client, state))[1] == "Invalid state token"  # no replay
