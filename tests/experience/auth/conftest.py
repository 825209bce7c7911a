"""Fixtures for the sign-in tests: the API app, a fake GitHub (web + REST) and helpers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlmodel import select
from starlette.testclient import TestClient

from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import AuthSession, User
from gitpulse_app.experience.auth.sessions import start_session, token_hash
from gitpulse_app.experience.http.app import create_api
from tests.support.fake_github import FakeGitHub
from tests.support.fake_http import FakeHTTPServer, FakeResponse

BASE_URL = "http://localhost:3000"
API_URL = "http://localhost:8000"
CLIENT_ID = "Iv1.testclient"
CLIENT_SECRET = "client-secret-value"
ACCESS_TOKEN = "ghu_AccessTokenThatMustNeverLeak0001"
REFRESH_TOKEN = "ghr_RefreshTokenThatMustNeverLeak0002"
PROFILE = {
    "id": 4242,
    "login": "alice",
    "node_id": "MDQ6VXNlcjQyNDI=",
    "name": "Alice Liddell",
    "avatar_url": "https://avatars.example/u/4242",
    "bio": "Down the rabbit hole",
    "company": "Wonderland",
    "location": "Oxford",
    "blog": "https://alice.example",
    "twitter_username": "alice",
    "followers": 7,
    "following": 3,
    "public_repos": 12,
    "email": None,
}
EMAILS = [
    {"email": "old@alice.example", "primary": False, "verified": True, "visibility": None},
    {"email": "alice@alice.example", "primary": True, "verified": True, "visibility": "private"},
]


@dataclass
class GitHub:
    """The fake GitHub: `web` serves the OAuth endpoints (GITHUB_URL), `api` the REST API."""

    web: FakeHTTPServer
    api: FakeGitHub

    def token_response(self, response: FakeResponse) -> None:
        self.web.add("POST", "/login/oauth/access_token", response)

    def installations(self, items: list[dict[str, Any]], status: int = 200) -> None:
        body = {"total_count": len(items), "installations": items} if status == 200 else {
            "message": "You must authenticate with an access token authorized to a GitHub App"}
        self.api.add_json("/user/installations", body, status=status)


@pytest.fixture
def github(fake_http: FakeHTTPServer, fake_github: FakeGitHub, configure) -> GitHub:
    """A fake GitHub answering a successful sign-in, and the settings pointing at it."""
    configure(
        GITHUB_URL=fake_http.url,
        GITHUB_API_URL=fake_github.url,
        GITHUB_CLIENT_ID=CLIENT_ID,
        GITHUB_CLIENT_SECRET=CLIENT_SECRET,
        GITPULSE_BASE_URL=BASE_URL,
        GITPULSE_API_URL=API_URL,
    )
    fake = GitHub(web=fake_http, api=fake_github)
    fake.token_response(FakeResponse(200, json={
        "access_token": ACCESS_TOKEN,
        "token_type": "bearer",
        "scope": "read:user,user:email",
        "expires_in": 28800,
        "refresh_token": REFRESH_TOKEN,
        "refresh_token_expires_in": 15811200,
    }))
    fake_github.add_json("/user", PROFILE)
    fake_github.add_json("/user/emails", EMAILS)
    fake.installations([], status=404)
    return fake


@pytest.fixture
def client(engine) -> Iterator[TestClient]:
    """The API app (no workers), redirects not followed."""
    with TestClient(create_api(with_workers=False), follow_redirects=False) as test_client:
        yield test_client


def begin_login(client: TestClient, next_path: str | None = None) -> str:
    """GET /auth/github/login; returns the OAuth state GitHub would echo back."""
    params = {"next": next_path} if next_path is not None else None
    response = client.get("/auth/github/login", params=params)
    assert response.status_code == 302, response.text
    return parse_qs(urlsplit(response.headers["location"]).query)["state"][0]


def finish_login(client: TestClient, state: str, code: str = "code-123"):
    return client.get("/auth/github/callback", params={"code": code, "state": state})


def sign_in_with_github(client: TestClient, next_path: str | None = None):
    return finish_login(client, begin_login(client, next_path))


def error_message(response) -> tuple[str, str]:
    """(path, message) of a callback error redirect."""
    location = urlsplit(response.headers["location"])
    query = parse_qs(location.query)
    assert query["github"] == ["error"]
    return f"{location.scheme}://{location.netloc}{location.path}", query["message"][0]


def set_cookies(response) -> dict[str, str]:
    """Raw Set-Cookie headers by cookie name."""
    found = {}
    for header in response.headers.get_list("set-cookie"):
        name = header.split("=", 1)[0]
        found[name] = header
    return found


def cookie_attributes(header: str) -> dict[str, str]:
    """The attributes of one Set-Cookie header, lower-cased names (flags map to "")."""
    parts = [part.strip() for part in header.split(";")]
    attributes = {}
    for part in parts[1:]:
        name, _, value = part.partition("=")
        attributes[name.lower()] = value
    return attributes


def cookie_value(header: str) -> str:
    jar = SimpleCookie()
    jar.load(header)
    return next(iter(jar.values())).value


def make_user(**fields: Any) -> User:
    with session_scope() as session:
        user = User(**fields)
        session.add(user)
        session.flush()
        return user


def make_session(user_id: int, expires_in: dt.timedelta | None = None) -> str:
    """A session for `user_id` (optionally expiring `expires_in` from now); returns its token."""
    with session_scope() as session:
        token = start_session(session, user_id, "pytest")
        session.flush()
        if expires_in is not None:
            row = session.exec(
                select(AuthSession).where(AuthSession.token_hash == token_hash(token))
            ).one()
            row.expires_at = utcnow() + expires_in
            session.add(row)
    return token
