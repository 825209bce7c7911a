"""Session cookies: logout, expiry, sliding, sign out everywhere (docs/SECURITY.md)."""

from __future__ import annotations

import datetime as dt

from sqlmodel import select

from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.models import AuthSession
from gitpulse_app.experience.auth.sessions import (
    resolve_token,
    sign_out_everywhere,
    token_from_cookie_header,
    token_hash,
)
from tests.experience.auth.conftest import (
    BASE_URL,
    cookie_attributes,
    make_session,
    make_user,
    set_cookies,
)


def rows(session) -> list[AuthSession]:
    session.expire_all()
    return list(session.exec(select(AuthSession)).all())


def test_logout_deletes_the_session_clears_the_cookie_and_goes_home(client, configure, session):
    configure(GITPULSE_BASE_URL=BASE_URL)
    user = make_user(gh_id=1, gh_login="alice", signed_up_at=utcnow())
    token = make_session(user.id)
    other = make_session(user.id)
    client.cookies.set("gitpulse_session", token)

    response = client.post("/auth/logout")

    assert response.status_code == 303
    assert response.headers["location"] == f"{BASE_URL}/"
    cleared = set_cookies(response)["gitpulse_session"]
    assert cleared.startswith('gitpulse_session="";') or cleared.startswith("gitpulse_session=;")
    attributes = cookie_attributes(cleared)
    assert attributes["max-age"] == "0" and attributes["path"] == "/"
    assert "httponly" in attributes
    assert [row.token_hash for row in rows(session)] == [token_hash(other)]
    assert resolve_token(token) is None


def test_logout_without_a_session_still_clears_the_cookie(client):
    response = client.post("/auth/logout")

    assert response.status_code == 303
    assert "gitpulse_session" in set_cookies(response)


def test_logout_only_answers_post(client):
    assert client.get("/auth/logout").status_code == 405


def test_an_expired_session_is_signed_out_and_its_row_deleted(engine, session):
    user = make_user(gh_id=1, gh_login="alice")
    token = make_session(user.id, expires_in=dt.timedelta(seconds=-1))

    assert resolve_token(token) is None
    assert rows(session) == []


def test_forged_and_unknown_tokens_are_signed_out(engine):
    user = make_user(gh_id=1, gh_login="alice")
    token = make_session(user.id)

    assert resolve_token(token + "x") is None
    assert resolve_token(token_hash(token)) is None  # the stored hash is not a credential
    assert resolve_token("") is None and resolve_token(None) is None
    assert resolve_token(token) == user.id


def test_the_expiry_slides_to_thirty_days_once_less_than_29_remain(engine, session):
    user = make_user(gh_id=1, gh_login="alice")
    token = make_session(user.id, expires_in=dt.timedelta(days=10))

    assert resolve_token(token) == user.id

    [row] = rows(session)
    assert abs(row.expires_at - (utcnow() + dt.timedelta(days=30))) < dt.timedelta(minutes=1)
    assert abs(row.last_seen_at - utcnow()) < dt.timedelta(minutes=1)


def test_the_expiry_does_not_move_while_more_than_29_days_remain(engine, session):
    user = make_user(gh_id=1, gh_login="alice")
    token = make_session(user.id, expires_in=dt.timedelta(days=29, hours=12))
    [before] = rows(session)

    resolve_token(token)

    [after] = rows(session)
    assert after.expires_at == before.expires_at


def test_sign_out_everywhere_ends_every_session_of_that_user_only(engine, session):
    alice = make_user(gh_id=1, gh_login="alice")
    bob = make_user(gh_id=2, gh_login="bob")
    make_session(alice.id), make_session(alice.id)
    bobs = make_session(bob.id)

    assert sign_out_everywhere(alice.id) == 2

    assert [row.token_hash for row in rows(session)] == [token_hash(bobs)]


def test_the_session_keeps_only_the_first_256_characters_of_the_user_agent(client, github, session):
    from tests.experience.auth.conftest import sign_in_with_github

    client.headers["user-agent"] = "A" * 1000

    sign_in_with_github(client)

    assert rows(session)[0].user_agent == "A" * 256


def test_the_token_is_read_from_a_raw_cookie_header():
    assert token_from_cookie_header("theme=dark; gitpulse_session=abc123") == "abc123"
    assert token_from_cookie_header("theme=dark") is None
    assert token_from_cookie_header(None) is None
