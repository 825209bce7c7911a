"""Expired OAuth tokens are refreshed; a failed refresh asks the user to reconnect."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs

import pytest

from gitpulse_app.core.crypto import decrypt_token, encrypt_token
from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.models import User
from gitpulse_app.experience.auth.oauth import ReconnectRequired, usable_access_token
from tests.experience.auth.conftest import CLIENT_ID, CLIENT_SECRET, make_user
from tests.support.fake_http import FakeResponse


def user_with_tokens(expires_in: dt.timedelta, refresh: str | None = "ghr_old") -> User:
    return make_user(
        gh_id=1, gh_login="alice", signed_up_at=utcnow(),
        oauth_access_token_enc=encrypt_token("ghu_old"),
        oauth_refresh_token_enc=encrypt_token(refresh) if refresh else None,
        oauth_token_expires_at=utcnow() + expires_in,
    )


def test_a_live_token_is_used_as_it_is(engine, github):
    user = user_with_tokens(dt.timedelta(hours=2))

    assert usable_access_token(user.id) == "ghu_old"
    assert github.web.requests_to("/login/oauth/access_token") == []


def test_an_expired_token_is_refreshed_and_stored_encrypted(engine, github, session):
    user = user_with_tokens(dt.timedelta(minutes=-5))
    github.token_response(FakeResponse(200, json={
        "access_token": "ghu_new", "refresh_token": "ghr_new", "expires_in": 3600,
        "token_type": "bearer"}))

    assert usable_access_token(user.id) == "ghu_new"

    [call] = github.web.requests_to("/login/oauth/access_token", "POST")
    form = parse_qs(call.text)
    assert form["grant_type"] == ["refresh_token"] and form["refresh_token"] == ["ghr_old"]
    assert form["client_id"] == [CLIENT_ID] and form["client_secret"] == [CLIENT_SECRET]
    stored = session.get(User, user.id)
    assert decrypt_token(stored.oauth_access_token_enc) == "ghu_new"
    assert decrypt_token(stored.oauth_refresh_token_enc) == "ghr_new"
    assert stored.oauth_token_expires_at > utcnow() + dt.timedelta(minutes=59)


@pytest.mark.parametrize("response", [
    FakeResponse(200, json={"error": "bad_refresh_token", "error_description": "expired"}),
    FakeResponse(500, body="down"),
])
def test_a_failed_refresh_asks_the_user_to_reconnect(engine, github, response):
    user = user_with_tokens(dt.timedelta(minutes=-5))
    github.token_response(response)

    with pytest.raises(ReconnectRequired) as raised:
        usable_access_token(user.id)

    assert str(raised.value) == "GitHub authentication failed. Please reconnect your account."


def test_an_expired_token_without_refresh_token_asks_to_reconnect(engine, github):
    user = user_with_tokens(dt.timedelta(minutes=-5), refresh=None)

    with pytest.raises(ReconnectRequired):
        usable_access_token(user.id)


def test_a_token_unreadable_under_the_current_key_asks_to_reconnect(engine, github, configure):
    user = user_with_tokens(dt.timedelta(hours=2), refresh=None)
    configure(GITPULSE_SECRET_KEY="another-secret")

    with pytest.raises(ReconnectRequired):
        usable_access_token(user.id)
