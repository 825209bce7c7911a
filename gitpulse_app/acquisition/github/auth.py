"""Who GitPulse is when it calls GitHub: App JWTs, installation tokens, token sources.

A `TokenSource` gives the client its bearer token and, after a 401, one chance to get a fresh one.
Each kind of installation has its source: an App installation mints short-lived
installation tokens; a PAT source uses the user's decrypted token; `env_pat` uses `GITHUB_TOKEN`.
The user's OAuth token is only ever wrapped in a `StaticTokenSource` for identity calls.

Concurrent first calls for one installation may mint two tokens; both are valid, the later one is
kept, so no lock (which would tie an `AppAuth` to one event loop) is needed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import select

from gitpulse_app.core.clock import Clock, utcnow
from gitpulse_app.core.config import get_settings
from gitpulse_app.core.crypto import decrypt_token
from gitpulse_app.core.db import session_scope
from gitpulse_app.core.logging import get_logger, log_fields
from gitpulse_app.core.models import Installation

from .client import GitHubClient, Sleep
from .errors import AuthError, ConfigError, GitHubError, RateLimited, TokenMintError

JWT_BACKDATE = dt.timedelta(seconds=30)  # GitHub's clock may run behind ours
JWT_LIFETIME = dt.timedelta(minutes=8)  # GitHub refuses more than 10 minutes
JWT_REUSE_MARGIN = dt.timedelta(seconds=60)
TOKEN_REFRESH_MARGIN = dt.timedelta(seconds=60)
DEMO_SOURCE_MESSAGE = "The demo workspace does not sync with GitHub"

logger = get_logger(__name__)


@runtime_checkable
class TokenSource(Protocol):
    """Supplies the bearer token of one GitHub identity."""

    async def token(self) -> str:
        """The token to send now (minted or refreshed as needed)."""
        ...

    async def refresh(self) -> bool:
        """Forget the current token after a 401; True when a retry may get a different one."""
        ...


@dataclass(frozen=True)
class _Cached:
    value: str
    expires_at: dt.datetime


class AppAuth:
    """The GitHub App's credentials: signs JWTs and mints installation tokens, caching both.

    Args:
        app_id: Defaults to `GITHUB_APP_ID`.
        private_key: PEM; defaults to `GITHUB_APP_PRIVATE_KEY`. Literal `\\n` become newlines.
        base_url: REST root; defaults to `GITHUB_API_URL`.
        transport: An httpx transport for the mint calls.
        sleep: Awaited for retry waits of the mint calls.
        now: The clock (tests inject one).
        engine: Where the installation rows live; defaults to the process-wide engine.
    """

    def __init__(
        self,
        app_id: str | int | None = None,
        private_key: str | None = None,
        *,
        base_url: str | None = None,
        transport: Any = None,
        sleep: Sleep = asyncio.sleep,
        now: Clock = utcnow,
        engine: Engine | None = None,
    ) -> None:
        settings = get_settings()
        app_id = app_id if app_id is not None else settings.github_app_id
        key = private_key if private_key is not None else settings.github_app_private_key
        self.app_id = str(app_id) if app_id else None
        # Keys pasted into one-line env files arrive with literal "\n" sequences.
        self._private_key = key.replace("\\n", "\n") if key else None
        self.base_url = (base_url or settings.github_api_url).rstrip("/")
        self._transport = transport
        self._sleep = sleep
        self._now = now
        self._engine = engine
        self._jwt: _Cached | None = None
        self._tokens: dict[int, _Cached] = {}

    @property
    def configured(self) -> bool:
        return bool(self.app_id and self._private_key)

    def jwt(self) -> str:
        """The App JWT (RS256; iat now − 30 s, exp now + 8 min), reused while > 60 s remain.

        Raises:
            ConfigError: The App id or key is missing or the key cannot be read.
        """
        if not self.configured:
            raise ConfigError()
        now = self._now()
        cached = self._jwt
        if cached is not None and cached.expires_at - now > JWT_REUSE_MARGIN:
            return cached.value
        expires_at = now + JWT_LIFETIME
        claims = {
            "iat": int((now - JWT_BACKDATE).timestamp()),
            "exp": int(expires_at.timestamp()),
            "iss": self.app_id,
        }
        import jwt  # on first use: only App sources sign JWTs (docs/STARTUP.md)

        try:
            value = jwt.encode(claims, self._private_key, algorithm="RS256")
        except (ValueError, TypeError, jwt.PyJWTError) as exc:
            raise ConfigError(
                "GITHUB_APP_PRIVATE_KEY is not a readable RSA private key: paste the PEM key "
                "GitHub generated for the App."
            ) from exc
        self._jwt = _Cached(value, expires_at)
        return value

    def drop_jwt(self) -> None:
        """Sign a new JWT next time (GitHub refused the current one)."""
        self._jwt = None

    async def installation_token(self, gh_installation_id: int) -> str:
        """A token for one installation, minted or cached until 60 s before it expires.

        Raises:
            TokenMintError: GitHub refused (404 also marks the installation deleted, 403
                "suspended" marks it suspended).
            RateLimited: The App's budget is spent.
            ConfigError: The App is not configured.
        """
        cached = self._tokens.get(gh_installation_id)
        if cached is not None and self._now() < cached.expires_at - TOKEN_REFRESH_MARGIN:
            return cached.value
        minted = await self._mint(gh_installation_id)
        self._tokens[gh_installation_id] = minted
        return minted.value

    def invalidate(self, gh_installation_id: int) -> None:
        """Drop the cached token of an installation (GitHub answered 401 with it)."""
        self._tokens.pop(gh_installation_id, None)

    async def _mint(self, gh_installation_id: int) -> _Cached:
        async with GitHubClient(
            AppJWTTokenSource(self),
            base_url=self.base_url,
            transport=self._transport,
            sleep=self._sleep,
            now=self._now,
            keep_in_reserve=0,
        ) as client:
            try:
                response = await client.post_json(
                    f"/app/installations/{gh_installation_id}/access_tokens"
                )
            except (RateLimited, ConfigError):
                raise
            except GitHubError as exc:
                if exc.status is None:
                    raise
                self._mark_installation(gh_installation_id, exc)
                raise TokenMintError(exc.status, exc.body) from exc
        data = response.data if isinstance(response.data, dict) else {}
        try:
            token = data["token"]
            expires_at = dt.datetime.fromisoformat(str(data["expires_at"]))
        except (KeyError, ValueError):
            raise TokenMintError(response.status, "the response carried no token") from None
        if expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=dt.UTC)
        return _Cached(str(token), expires_at)

    def _mark_installation(self, gh_installation_id: int, error: GitHubError) -> None:
        text = f"{error.message or ''} {error.body}".lower()
        if error.status == 404:
            status = "deleted"
        elif error.status == 403 and "suspended" in text:
            status = "suspended"
        else:
            return
        try:
            with session_scope(self._engine) as session:
                query = select(Installation).where(
                    Installation.gh_installation_id == gh_installation_id
                )
                row = session.exec(query).first()
                # Lifecycle: any → deleted; only an active installation becomes suspended.
                if row is None or row.status == status:
                    return
                if status == "suspended" and row.status != "active":
                    return
                row.status = status
                session.add(row)
        except sa.exc.SQLAlchemyError:
            # The mint error matters more than the bookkeeping; the reconcile job catches up.
            logger.exception("Could not record the installation's status")
            return
        log_fields(
            logger, logging.WARNING, "GitHub installation marked " + status,
            gh_installation_id=gh_installation_id, mint_status=error.status,
        )


class AppJWTTokenSource:
    """The App itself (JWT): for `/app/...` endpoints such as minting and listing installations."""

    def __init__(self, app_auth: AppAuth) -> None:
        self.app_auth = app_auth

    async def token(self) -> str:
        return self.app_auth.jwt()

    async def refresh(self) -> bool:
        self.app_auth.drop_jwt()
        return True


class AppInstallationTokenSource:
    """One App installation: short-lived installation tokens, re-minted after a 401."""

    def __init__(self, app_auth: AppAuth, gh_installation_id: int) -> None:
        self.app_auth = app_auth
        self.gh_installation_id = gh_installation_id

    async def token(self) -> str:
        return await self.app_auth.installation_token(self.gh_installation_id)

    async def refresh(self) -> bool:
        self.app_auth.invalidate(self.gh_installation_id)
        return True


class StaticTokenSource:
    """A token that cannot be refreshed here: a PAT, `GITHUB_TOKEN`, or an OAuth user token."""

    def __init__(self, token: str) -> None:
        if not token:
            raise ValueError("a StaticTokenSource needs a token")
        self._token = token

    def __repr__(self) -> str:
        return "StaticTokenSource(token=[REDACTED])"

    async def token(self) -> str:
        return self._token

    async def refresh(self) -> bool:
        return False


_shared_app_auth: tuple[tuple[str | None, ...], AppAuth] | None = None


def get_app_auth() -> AppAuth:
    """The process-wide `AppAuth` for the current settings (its caches are shared by all jobs)."""
    global _shared_app_auth
    settings = get_settings()
    key = (settings.github_app_id, settings.github_app_private_key, settings.github_api_url)
    if _shared_app_auth is None or _shared_app_auth[0] != key:
        _shared_app_auth = (key, AppAuth())
    return _shared_app_auth[1]


def token_source_for(installation: Installation, *, app_auth: AppAuth | None = None) -> TokenSource:
    """The token source for a source row, by its kind.

    Raises:
        AuthError: The source has no usable token (demo, unreadable PAT, unset `GITHUB_TOKEN`).
        ConfigError: An App installation while the App is not configured.
    """
    kind = installation.kind
    if kind == "app":
        if installation.gh_installation_id is None:
            raise AuthError(
                "This GitHub App source has no installation id. Please reinstall the App."
            )
        auth = app_auth or get_app_auth()
        if not auth.configured:
            raise ConfigError()
        return AppInstallationTokenSource(auth, installation.gh_installation_id)
    if kind == "pat":
        token = decrypt_token(installation.token_enc)
        if not token:
            raise AuthError(
                "The saved personal access token can no longer be read. Please add it again."
            )
        return StaticTokenSource(token)
    if kind == "env_pat":
        token = get_settings().github_token
        if not token:
            raise AuthError("GITHUB_TOKEN is not set. Set it, or remove this source.")
        return StaticTokenSource(token)
    if kind == "demo":
        raise AuthError(DEMO_SOURCE_MESSAGE)
    raise ValueError(f"unknown installation kind {kind!r}")


def client_for(installation: Installation, **options: Any) -> GitHubClient:
    """A `GitHubClient` for a source row; `options` go to `GitHubClient` (e.g. `on_rate_limit`)."""
    app_auth = options.pop("app_auth", None)
    options.setdefault("installation_id", installation.id)
    return GitHubClient(token_source_for(installation, app_auth=app_auth), **options)
