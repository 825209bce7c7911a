"""App JWTs, installation tokens and token sources against a fake GitHub."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import httpx
import jwt
import pytest
from sqlmodel import Session

from gitpulse_app.acquisition.github import (
    AppAuth,
    AppInstallationTokenSource,
    AppJWTTokenSource,
    AuthError,
    ConfigError,
    GitHubClient,
    StaticTokenSource,
    TokenMintError,
    client_for,
    token_source_for,
)
from gitpulse_app.core.crypto import encrypt_token
from gitpulse_app.core.models import Installation
from tests.support.fake_http import FakeResponse

APP_ID = "12345"
MINT_PATH = "/app/installations/{}/access_tokens"


def run(scenario: Any) -> Any:
    return asyncio.run(scenario)


def minted(token: str, expires_at: dt.datetime) -> FakeResponse:
    iso = expires_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return FakeResponse(201, json={"token": token, "expires_at": iso, "permissions": {}})


def add_installation(session: Session, gh_installation_id: int, **fields: Any) -> Installation:
    row = Installation(kind="app", gh_installation_id=gh_installation_id, **fields)
    session.add(row)
    session.commit()
    session.refresh(row)
    return row


@pytest.fixture
def app_auth(fake_github, app_key_pem, clock, sleeps) -> AppAuth:
    return AppAuth(APP_ID, app_key_pem, base_url=fake_github.url, now=clock, sleep=sleeps)


async def fetch(client: GitHubClient, *paths: str) -> list[Any]:
    async with client:
        return [(await client.get_json(path)).data for path in paths]


def installation_client(app_auth: AppAuth, gh_id: int, fake_github, sleeps, clock) -> GitHubClient:
    source = AppInstallationTokenSource(app_auth, gh_id)
    return GitHubClient(source, base_url=fake_github.url, sleep=sleeps, now=clock)


# App JWT -----------------------------------------------------------------------------------------
def test_the_app_jwt_is_rs256_with_backdated_iat_and_eight_minute_exp(app_key, app_key_pem, clock):
    one_line_key = app_key_pem.replace("\n", "\\n")  # as pasted into a one-line .env value
    auth = AppAuth(APP_ID, one_line_key, now=clock)

    token = auth.jwt()

    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    claims = jwt.decode(token, app_key.public_key(), algorithms=["RS256"], issuer=APP_ID)
    now = int(clock().timestamp())
    assert claims == {"iat": now - 30, "exp": now + 8 * 60, "iss": APP_ID}


def test_the_app_jwt_is_reused_while_more_than_a_minute_remains(app_key_pem, clock):
    auth = AppAuth(APP_ID, app_key_pem, now=clock)
    first = auth.jwt()

    clock.advance(minutes=6, seconds=59)  # 61 s left
    assert auth.jwt() == first
    clock.advance(seconds=2)  # 59 s left
    assert auth.jwt() != first


def test_a_missing_app_configuration_is_named():
    with pytest.raises(ConfigError) as raised:
        AppAuth().jwt()

    assert str(raised.value) == "GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY must be configured"


def test_an_unreadable_app_key_is_a_configuration_error(clock):
    with pytest.raises(ConfigError, match="GITHUB_APP_PRIVATE_KEY"):
        AppAuth(APP_ID, "not a key", now=clock).jwt()


# Installation tokens -----------------------------------------------------------------------------
def test_two_calls_share_one_minted_installation_token(
    fake_github, app_auth, app_key, sleeps, clock
):
    expires = clock() + dt.timedelta(hours=1)
    mint = fake_github.add("POST", MINT_PATH.format(42), minted("ghs_one", expires))
    fake_github.add_json("/repos/o/r", {"id": 7})
    client = installation_client(app_auth, 42, fake_github, sleeps, clock)

    run(fetch(client, "/repos/o/r", "/repos/o/r"))

    assert mint.calls == 1
    bearer = mint.hits[0].headers["Authorization"].removeprefix("Bearer ")
    assert jwt.decode(bearer, app_key.public_key(), algorithms=["RS256"])["iss"] == APP_ID
    calls = fake_github.requests_to("/repos/o/r")
    assert [call.headers["Authorization"] for call in calls] == ["Bearer ghs_one"] * 2


def test_the_installation_token_is_cached_until_a_minute_before_it_expires(
    fake_github, app_auth, sleeps, clock
):
    expires = clock() + dt.timedelta(hours=1)
    mint = fake_github.add("POST", MINT_PATH.format(42), [
        minted("ghs_one", expires), minted("ghs_two", expires + dt.timedelta(hours=1))
    ])
    source = AppInstallationTokenSource(app_auth, 42)

    assert run(source.token()) == "ghs_one"
    clock.advance(minutes=58, seconds=59)  # 61 s before expiry
    assert run(source.token()) == "ghs_one"
    clock.advance(seconds=2)  # 59 s before expiry
    assert run(source.token()) == "ghs_two"
    assert mint.calls == 2


def test_the_jwt_is_reused_across_mints_for_different_installations(
    fake_github, app_auth, sleeps, clock
):
    expires = clock() + dt.timedelta(hours=1)
    first = fake_github.add("POST", MINT_PATH.format(1), minted("ghs_a", expires))
    second = fake_github.add("POST", MINT_PATH.format(2), minted("ghs_b", expires))

    run(AppInstallationTokenSource(app_auth, 1).token())
    run(AppInstallationTokenSource(app_auth, 2).token())

    assert first.hits[0].headers["Authorization"] == second.hits[0].headers["Authorization"]


def test_a_401_drops_the_installation_token_and_retries_once(fake_github, app_auth, sleeps, clock):
    expires = clock() + dt.timedelta(hours=1)
    mint = fake_github.add("POST", MINT_PATH.format(42), [
        minted("ghs_revoked", expires), minted("ghs_fresh", expires)
    ])
    fake_github.add("GET", "/repos/o/r", [
        FakeResponse(401, json={"message": "Bad credentials"}), FakeResponse(200, json={"id": 7})
    ])

    client = installation_client(app_auth, 42, fake_github, sleeps, clock)

    (data,) = run(fetch(client, "/repos/o/r"))

    assert data == {"id": 7}
    assert mint.calls == 2
    calls = fake_github.requests_to("/repos/o/r")
    assert [c.headers["Authorization"] for c in calls] == ["Bearer ghs_revoked", "Bearer ghs_fresh"]
    assert sleeps.waits == []


def test_a_second_401_after_the_refresh_is_an_auth_error(fake_github, app_auth, sleeps, clock):
    expires = clock() + dt.timedelta(hours=1)
    mint = fake_github.add("POST", MINT_PATH.format(42), minted("ghs_x", expires))
    fake_github.add_json("/repos/o/r", {"message": "Bad credentials"}, status=401)

    with pytest.raises(AuthError, match=r"^GitHub API error \(401\): Bad credentials$"):
        run(fetch(installation_client(app_auth, 42, fake_github, sleeps, clock), "/repos/o/r"))

    assert len(fake_github.requests_to("/repos/o/r")) == 2
    assert mint.calls == 2


def test_a_mint_404_marks_the_installation_deleted(
    fake_github, app_auth, session, sleeps, clock
):
    row = add_installation(session, 42)
    body = '{"message":"Not Found","documentation_url":"https://docs.github.com/rest/apps/apps"}'
    fake_github.add("POST", MINT_PATH.format(42), FakeResponse(404, body=body))

    with pytest.raises(TokenMintError) as raised:
        run(fetch(installation_client(app_auth, 42, fake_github, sleeps, clock), "/repos/o/r"))

    assert str(raised.value) == f"Failed to mint installation token (404): {body[:200]}"
    assert fake_github.requests_to("/repos/o/r") == []
    session.refresh(row)
    assert row.status == "deleted"


def test_a_mint_403_suspended_marks_the_installation_suspended(
    fake_github, app_auth, session, sleeps, clock
):
    row = add_installation(session, 42)
    fake_github.add_json(
        MINT_PATH.format(42), {"message": "This installation has been suspended"},
        status=403, method="POST",
    )

    with pytest.raises(TokenMintError, match=r"^Failed to mint installation token \(403\): "):
        run(AppInstallationTokenSource(app_auth, 42).token())

    session.refresh(row)
    assert row.status == "suspended"
    assert sleeps.waits == []


def test_a_long_mint_error_body_is_cut_to_200_characters(fake_github, app_auth, session):
    body = "x" * 500
    fake_github.add("POST", MINT_PATH.format(42), FakeResponse(422, body=body))

    with pytest.raises(TokenMintError) as raised:
        run(AppInstallationTokenSource(app_auth, 42).token())

    assert str(raised.value) == f"Failed to mint installation token (422): {'x' * 200}"


# Token sources -----------------------------------------------------------------------------------
def test_a_pat_source_sends_the_decrypted_token(fake_github, sleeps, clock):
    source = token_source_for(Installation(kind="pat", token_enc=encrypt_token("ghp_user_pat")))
    fake_github.add_json("/user/repos", [])

    client = GitHubClient(source, base_url=fake_github.url, sleep=sleeps, now=clock)

    run(fetch(client, "/user/repos"))

    assert fake_github.requests[0].headers["Authorization"] == "Bearer ghp_user_pat"


def test_an_unreadable_pat_asks_for_it_again():
    with pytest.raises(AuthError, match="Please add it again"):
        token_source_for(Installation(kind="pat", token_enc="garbage"))


def test_the_env_pat_source_uses_github_token(configure, fake_github, sleeps, clock):
    configure(GITHUB_TOKEN="ghp_from_env", GITHUB_API_URL=fake_github.url)
    fake_github.add_json("/user/repos", [])

    run(fetch(client_for(Installation(kind="env_pat"), sleep=sleeps, now=clock), "/user/repos"))

    assert fake_github.requests[0].headers["Authorization"] == "Bearer ghp_from_env"


def test_the_demo_source_does_not_sync_with_github():
    with pytest.raises(AuthError) as raised:
        token_source_for(Installation(kind="demo"))

    assert str(raised.value) == "The demo workspace does not sync with GitHub"


def test_an_app_source_needs_the_app_configured():
    with pytest.raises(ConfigError, match="GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY"):
        token_source_for(Installation(kind="app", gh_installation_id=42))


def test_a_static_token_is_never_shown_in_its_repr():
    assert "ghp_secret" not in repr(StaticTokenSource("ghp_secret"))


# Only GITHUB_API_URL's host ----------------------------------------------------------------------
class HostRecorder(httpx.AsyncBaseTransport):
    """A real transport that notes the host of everything sent through it."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.hosts: list[str] = []
        self.closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.hosts.append(f"{request.url.host}:{request.url.port}")
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        self.closed = True
        await self.inner.aclose()


def test_only_the_github_api_url_host_is_ever_called(
    configure, fake_github, app_key_pem, session, sleeps, clock
):
    configure(GITHUB_API_URL=fake_github.url, GITHUB_APP_ID=APP_ID,
              GITHUB_APP_PRIVATE_KEY=app_key_pem.replace("\n", "\\n"))
    fake_github.load_fixture("paginate-issues")  # recorded links name api.github.com
    fake_github.add_paginated("/app/installations", [{"id": 42}])
    fake_github.add_paginated("/installation/repositories", [{"full_name": "o/r"}] * 120,
                              key="repositories")
    expires = clock() + dt.timedelta(hours=1)
    fake_github.add("POST", MINT_PATH.format(42), minted("ghs_one", expires))
    row = add_installation(session, 42)
    wire = HostRecorder()
    auth = AppAuth(transport=wire, now=clock, sleep=sleeps)

    async def scenario() -> tuple[Any, ...]:
        async with GitHubClient(AppJWTTokenSource(auth), transport=wire, sleep=sleeps) as app:
            installations = await app.list_app_installations()
        assert not wire.closed  # a shared transport is closed by its owner only
        options = {"app_auth": auth, "transport": wire, "sleep": sleeps, "now": clock}
        async with client_for(row, **options) as client:
            repositories = await client.list_installation_repositories()
            issues = await client.collect(
                "/repos/octokit-fixture-org/paginate-issues/issues", {"per_page": 3}
            )
        await wire.aclose()
        return installations, repositories, issues

    installations, repositories, issues = run(scenario())

    assert installations == [{"id": 42}] and len(repositories) == 120 and len(issues) == 13
    assert set(wire.hosts) == {f"127.0.0.1:{fake_github.port}"}
    assert len(wire.hosts) == len(fake_github.requests) == 1 + 1 + 2 + 5
    assert fake_github.unmatched == []
