"""GitHub OAuth and the identity calls made with the user's token.

The user's OAuth token is used only for identity (`GET /user`, `GET /user/emails`) and for
`GET /user/installations`, never for repository data. Every URL comes from `GITHUB_URL` (OAuth
endpoints) or `GITHUB_API_URL` (REST). No function here logs or raises with a token in its text.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

import httpx
from authlib.integrations.starlette_client import OAuth, StarletteOAuth2App

from gitpulse_app.acquisition.github import GitHubClient, GitHubError, StaticTokenSource
from gitpulse_app.core.config import VERSION, get_settings
from gitpulse_app.core.crypto import decrypt_token, encrypt_token
from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import User
from gitpulse_app.experience import routes

SCOPES = "read:user user:email"
OAUTH_COOKIE = "gitpulse_oauth"  # the signed session holding the OAuth state and `next`
OAUTH_COOKIE_MAX_AGE_S = 600
DEFAULT_TOKEN_LIFETIME = dt.timedelta(hours=8)
REFRESH_MARGIN = dt.timedelta(seconds=60)
TIMEOUT = httpx.Timeout(30.0, connect=10.0)
MAX_INSTALLATION_PAGES = 50
RECONNECT_MESSAGE = "GitHub authentication failed. Please reconnect your account."
PROFILE_FIELDS = (
    "avatar_url", "bio", "company", "location", "blog", "twitter_username",
    "followers", "following", "public_repos",
)


class TokenExchangeFailed(Exception):
    """The token endpoint answered non-2xx, unreadably, or not at all."""


class ProfileFetchFailed(Exception):
    """`GET /user` did not return a usable profile."""


class InstallationsUnavailable(Exception):
    """`GET /user/installations` failed (expected with a plain OAuth App: 403/404)."""


class ReconnectRequired(Exception):
    """The stored OAuth token is unusable and cannot be refreshed; the user must sign in again."""

    def __init__(self, message: str = RECONNECT_MESSAGE) -> None:
        super().__init__(message)


@dataclass(frozen=True)
class OAuthTokens:
    """A token endpoint's answer. Tokens are left out of `repr` so they never reach a log."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: dt.datetime

    @classmethod
    def from_response(cls, data: Any, now: dt.datetime | None = None) -> OAuthTokens:
        """Read a token response; expiry = `expires_in`, else 8 hours.

        Raises:
            TokenExchangeFailed: There is no access token in it.
        """
        if not isinstance(data, dict) or not isinstance(data.get("access_token"), str):
            raise TokenExchangeFailed("the token response has no access token")
        now = now or utcnow()
        try:
            lifetime = dt.timedelta(seconds=int(data["expires_in"]))
        except (KeyError, TypeError, ValueError):
            lifetime = DEFAULT_TOKEN_LIFETIME
        refresh = data.get("refresh_token")
        return cls(data["access_token"], refresh if isinstance(refresh, str) and refresh else None,
                   now + lifetime)


@dataclass(frozen=True)
class GitHubIdentity:
    """Who the token belongs to: `GET /user` plus the primary verified address."""

    gh_id: int
    login: str
    node_id: str | None
    name: str | None
    email: str | None
    profile: dict[str, Any]


# OAuth (authlib) --------------------------------------------------------------------------------
def oauth_session_secret(secret_key: str) -> str:
    """The signing key of the `gitpulse_oauth` cookie, derived from `GITPULSE_SECRET_KEY`.

    A key of its own, so a signature made for this cookie is good for nothing else.
    """
    return hashlib.sha256(("gitpulse-oauth-session:" + secret_key).encode("utf-8")).hexdigest()


def callback_url() -> str:
    """The `redirect_uri` GitHub sends the browser back to."""
    return get_settings().api_url + routes.AUTH_CALLBACK


def _require_2xx(response: Any) -> Any:
    # authlib reads any JSON object as a token; a 404 `{"message": …}` must not pass as one.
    if not 200 <= response.status_code < 300:
        raise TokenExchangeFailed(f"token endpoint answered {response.status_code}")
    return response


def _compliance_fix(client: Any) -> None:
    client.register_compliance_hook("access_token_response", _require_2xx)
    client.register_compliance_hook("refresh_token_response", _require_2xx)


def github_oauth_client() -> StarletteOAuth2App:
    """An authlib Starlette client for GitHub, built from the current settings.

    Built per request (cheap) so a settings reload takes effect; the state lives in the signed
    `gitpulse_oauth` session cookie, not in the client.
    """
    settings = get_settings()
    oauth = OAuth()
    oauth.register(
        "github",
        client_id=settings.github_client_id,
        client_secret=settings.github_client_secret,
        authorize_url=f"{settings.github_url}/login/oauth/authorize",
        access_token_url=f"{settings.github_url}/login/oauth/access_token",
        client_kwargs={
            "scope": SCOPES,
            # GitHub documents the client credentials as form fields of the token request.
            "token_endpoint_auth_method": "client_secret_post",
            "timeout": 30.0,
        },
        compliance_fix=_compliance_fix,
    )
    return oauth.create_client("github")


# REST calls with the user's token ---------------------------------------------------------------
def _user_client(access_token: str) -> GitHubClient:
    """A `GitHubClient` on `GITHUB_API_URL` for the user's token (only that host ever gets it).

    No reserve is kept: it exists for webhook work on installation budgets, not a user's own.
    Sign-in is interactive: a failed call is not retried and a rate limit is not waited out; the
    call fails at once and the callback shows the failure, so the user can try again. An empty
    token fails as GitHub's 401 would.
    """
    if not access_token:
        raise GitHubError(401, text="no access token")
    return GitHubClient(StaticTokenSource(access_token), keep_in_reserve=0,
                        retry_delays_s=(), max_slept_wait_s=0.0)


async def fetch_identity(access_token: str) -> GitHubIdentity:
    """`GET /user` and `GET /user/emails`.

    The address is the primary verified one; when `/user/emails` fails the sign-in goes on without
    it (the user can enter one on /settings).

    Raises:
        ProfileFetchFailed: `/user` failed or is not a profile.
    """
    try:
        async with _user_client(access_token) as client:
            profile = (await client.get_json("/user")).data
            if not (
                isinstance(profile, dict)
                and isinstance(profile.get("id"), int)
                and isinstance(profile.get("login"), str)
                and profile["login"]
            ):
                raise ProfileFetchFailed("GET /user answered no profile")
            email = await _primary_verified_email(client)
    except (GitHubError, httpx.HTTPError) as exc:
        raise ProfileFetchFailed(f"GET /user failed: {_reason(exc)}") from None
    return GitHubIdentity(
        gh_id=profile["id"],
        login=profile["login"],
        node_id=profile.get("node_id") if isinstance(profile.get("node_id"), str) else None,
        name=profile.get("name") if isinstance(profile.get("name"), str) else None,
        email=email,
        profile={key: profile.get(key) for key in PROFILE_FIELDS},
    )


def _reason(exc: Exception) -> str:
    # A client error's text names the status, GitHub's message or the refused URL, never a token.
    return str(exc) or type(exc).__name__


async def _primary_verified_email(client: GitHubClient) -> str | None:
    try:
        entries = (await client.get_json("/user/emails", params={"per_page": 100})).data
    except (GitHubError, httpx.HTTPError):
        return None
    if not isinstance(entries, list):
        return None
    for entry in entries:
        if (
            isinstance(entry, dict)
            and entry.get("primary")
            and entry.get("verified")
            and isinstance(entry.get("email"), str)
        ):
            return entry["email"]
    return None


async def list_user_installations(access_token: str) -> list[dict[str, Any]]:
    """Every App installation the user can see (`GET /user/installations`, all pages).

    The client follows the next links and refuses one to another host, so the token never
    leaves `GITHUB_API_URL`; at most `MAX_INSTALLATION_PAGES` pages are read.

    Raises:
        InstallationsUnavailable: Any failure; with a plain OAuth App GitHub answers 403/404.
    """
    found: list[dict[str, Any]] = []
    try:
        async with _user_client(access_token) as client:
            pages = aclosing(client.paginate("/user/installations", key="installations"))
            async with pages as each_page:
                read = 0
                async for page in each_page:
                    if not isinstance(page.raw, dict):
                        raise InstallationsUnavailable("GET /user/installations answered no object")
                    found.extend(item for item in page.items if isinstance(item, dict))
                    read += 1
                    if read >= MAX_INSTALLATION_PAGES:
                        break
    except (GitHubError, httpx.HTTPError) as exc:
        raise InstallationsUnavailable(f"GET /user/installations failed: {_reason(exc)}") from None
    return found


# Refresh ----------------------------------------------------------------------------------------
def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def refresh_tokens(refresh_token: str, now: dt.datetime | None = None) -> OAuthTokens:
    """Trade a refresh token for new tokens (`grant_type=refresh_token`).

    Raises:
        ReconnectRequired: GitHub refused or could not be reached.
    """
    settings = get_settings()
    if not settings.oauth_configured:
        raise ReconnectRequired()
    # Plain httpx: the token endpoint is on the web host (GITHUB_URL), not the REST API.
    try:
        response = httpx.post(
            f"{settings.github_url}/login/oauth/access_token",
            data={
                "client_id": settings.github_client_id,
                "client_secret": settings.github_client_secret,
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
            },
            headers={"Accept": "application/json", "User-Agent": f"gitpulse/{VERSION}"},
            timeout=TIMEOUT,
        )
    except httpx.HTTPError:
        raise ReconnectRequired() from None
    body = _json(response)
    if response.status_code != 200 or not isinstance(body, dict) or "error" in body:
        raise ReconnectRequired()
    try:
        tokens = OAuthTokens.from_response(body, now)
    except TokenExchangeFailed:
        raise ReconnectRequired() from None
    # GitHub may omit a new refresh token; the old one then stays valid.
    return tokens if tokens.refresh_token else OAuthTokens(tokens.access_token, refresh_token,
                                                           tokens.expires_at)


def store_tokens(user: User, tokens: OAuthTokens) -> None:
    """Write `tokens` to the user row, encrypted (`core.crypto`)."""
    user.oauth_access_token_enc = encrypt_token(tokens.access_token)
    user.oauth_refresh_token_enc = encrypt_token(tokens.refresh_token) if tokens.refresh_token else None
    user.oauth_token_expires_at = tokens.expires_at


def usable_access_token(user_id: int, now: dt.datetime | None = None) -> str:
    """The user's OAuth access token, refreshed first when it has expired (or is about to).

    Blocking (database and HTTP): call it from a thread in async code.

    Raises:
        ReconnectRequired: No readable token, or the refresh failed ("GitHub authentication
            failed. Please reconnect your account.").
    """
    now = now or utcnow()
    with session_scope() as session:
        user = session.get(User, user_id)
        if user is None:
            raise ReconnectRequired()
        access = decrypt_token(user.oauth_access_token_enc)
        expires_at = user.oauth_token_expires_at
        refresh = decrypt_token(user.oauth_refresh_token_enc)
    if access and (expires_at is None or expires_at - REFRESH_MARGIN > now):
        return access
    if not refresh:
        raise ReconnectRequired()
    tokens = refresh_tokens(refresh, now)
    with session_scope() as session:
        user = session.get(User, user_id)
        if user is None:
            raise ReconnectRequired()
        store_tokens(user, tokens)
        session.add(user)
    return tokens.access_token
