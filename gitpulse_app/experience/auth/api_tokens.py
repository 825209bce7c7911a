"""Personal API tokens (docs/API.md): create, list, revoke, and resolve a bearer token to its user.

A token is `gp_` + 40 random characters, shown once; `api_tokens` stores only its SHA-256 hex digest
(the same digest as session tokens) and the first characters for display. A token acts as its user
with exactly that user's visibility; `read` tokens may only read, `write` tokens may also generate
reports. Missing, unknown, expired and revoked tokens all look alike to the caller.
"""

from __future__ import annotations

import datetime as dt
import secrets
import string
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import select

from gitpulse_app.core.clock import iso_z_or_none
from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import ApiToken, User
from gitpulse_app.experience.auth.sessions import token_hash

TOKEN_PREFIX = "gp_"
SECRET_CHARS = 40
DISPLAY_CHARS = len(TOKEN_PREFIX) + 6
SCOPES = ("read", "write")
MAX_NAME = 100
MAX_EXPIRES_DAYS = 3650
# Writing `last_used_at` on every call would turn each read into a write; once a minute is enough.
LAST_USED_EVERY = dt.timedelta(minutes=1)
_ALPHABET = string.ascii_letters + string.digits


class TokenError(ValueError):
    """A token cannot be created or revoked as asked; the message says what to change."""


@dataclass(frozen=True)
class Principal:
    """Who a valid bearer token acts as."""

    token_id: int
    user_id: int
    login: str | None
    scope: str

    @property
    def can_write(self) -> bool:
        return self.scope == "write"


@dataclass(frozen=True)
class TokenView:
    """A token as lists show it (never the secret)."""

    id: int
    name: str
    scope: str
    prefix: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None

    def status(self, now: dt.datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"

    def as_json(self, now: dt.datetime) -> dict[str, object]:
        return {"id": self.id, "name": self.name, "scope": self.scope, "prefix": self.prefix,
                "created_at": iso_z_or_none(self.created_at), "last_used_at": iso_z_or_none(self.last_used_at),
                "expires_at": iso_z_or_none(self.expires_at), "revoked_at": iso_z_or_none(self.revoked_at),
                "status": self.status(now)}


@dataclass(frozen=True)
class CreatedToken:
    """A new token: the secret is here once and never again."""

    id: int
    token: str
    name: str
    scope: str
    expires_at: dt.datetime | None


def _view(row: ApiToken) -> TokenView:
    return TokenView(row.id or 0, row.name, row.scope, row.prefix, row.created_at,
                     row.last_used_at, row.expires_at, row.revoked_at)


def new_secret() -> str:
    """`gp_` + 40 characters from a CSPRNG (letters and digits: ~238 bits)."""
    return TOKEN_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(SECRET_CHARS))


def create_token(user_id: int, name: str, scope: str = "read", expires_days: int | None = None,
                 now: dt.datetime | None = None) -> CreatedToken:
    """Create a token for `user_id`.

    Args:
        user_id: The owner; the token acts as this user.
        name: What the token is for (shown in lists), 1–100 characters.
        scope: "read" or "write".
        expires_days: Days until it stops working (None: never).
        now: The clock reading.

    Raises:
        TokenError: Empty or long name, unknown scope, or a bad expiry.
    """
    now = now or utcnow()
    name = (name or "").strip()
    if not name:
        raise TokenError("Give the token a name, such as the tool that will use it.")
    if len(name) > MAX_NAME:
        raise TokenError(f"Keep the token name under {MAX_NAME} characters.")
    if scope not in SCOPES:
        raise TokenError('The token scope must be "read" or "write".')
    if expires_days is not None and not 1 <= expires_days <= MAX_EXPIRES_DAYS:
        raise TokenError(f"The expiry must be between 1 and {MAX_EXPIRES_DAYS} days.")
    secret = new_secret()
    expires_at = now + dt.timedelta(days=expires_days) if expires_days else None
    with session_scope() as session:
        if session.get(User, user_id) is None:
            raise TokenError("That user does not exist.")
        row = ApiToken(user_id=user_id, name=name, scope=scope, token_hash=token_hash(secret),
                       prefix=secret[:DISPLAY_CHARS], expires_at=expires_at, created_at=now,
                       updated_at=now)
        session.add(row)
        session.flush()
        token_id = row.id or 0
    return CreatedToken(token_id, secret, name, scope, expires_at)


def list_tokens(user_id: int) -> list[TokenView]:
    """Every token of `user_id`, newest first (revoked and expired ones too, marked as such)."""
    with session_scope() as session:
        rows = session.exec(select(ApiToken).where(ApiToken.user_id == user_id)
                            .order_by(ApiToken.id.desc())).all()
        return [_view(row) for row in rows]


def revoke_token(token_id: int, user_id: int | None = None,
                 now: dt.datetime | None = None) -> TokenView:
    """Revoke a token at once (idempotent: revoking twice keeps the first time).

    Args:
        token_id: The token.
        user_id: Its owner, when a person revokes from the UI (someone else's token looks missing);
            None for the operator's CLI.
        now: The clock reading.

    Raises:
        TokenError: No such token (or not the owner's).
    """
    now = now or utcnow()
    with session_scope() as session:
        row = session.get(ApiToken, token_id)
        if row is None or (user_id is not None and row.user_id != user_id):
            raise TokenError(f"No API token has id {token_id}.")
        if row.revoked_at is None:
            row.revoked_at = now
            session.add(row)
        session.flush()
        return _view(row)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer …` header (scheme case-insensitive), else None."""
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value:
        return None
    return value


def resolve_api_token(token: str | None, now: dt.datetime | None = None) -> Principal | None:
    """The principal of a live token; None for a missing, unknown, expired or revoked one."""
    if not token or not token.startswith(TOKEN_PREFIX):
        return None
    now = now or utcnow()
    with session_scope() as session:
        row = session.exec(select(ApiToken).where(ApiToken.token_hash == token_hash(token))).first()
        if row is None or row.revoked_at is not None:
            return None
        if row.expires_at is not None and row.expires_at <= now:
            return None
        login = session.scalar(sa.select(User.gh_login).where(User.id == row.user_id))
        if row.last_used_at is None or now - row.last_used_at >= LAST_USED_EVERY:
            row.last_used_at = now
            session.add(row)
        return Principal(row.id or 0, row.user_id, login, row.scope)
