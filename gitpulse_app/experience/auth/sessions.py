"""Browser sessions: the `gitpulse_session` cookie and `auth_sessions` (docs/SECURITY.md).

The cookie holds an opaque random token; `auth_sessions` stores only its SHA-256 hex digest, so a
database leak leaks no live session. The cookie itself lives 400 days (the browser maximum); the
row's `expires_at` alone decides validity and slides forward while the session is used.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from http.cookies import CookieError, SimpleCookie

import sqlalchemy as sa
from sqlmodel import Session, delete, select
from starlette.requests import HTTPConnection
from starlette.responses import Response

from gitpulse_app.core.config import get_settings
from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.db import DatabaseUnavailable, session_scope
from gitpulse_app.core.models import AuthSession, User
from gitpulse_app.experience.routes import SESSION_COOKIE

SESSION_LIFETIME = dt.timedelta(days=30)
SLIDE_WHEN_LESS_THAN = dt.timedelta(days=29)
SLIDE_TO = SESSION_LIFETIME
COOKIE_MAX_AGE_S = 34_560_000  # 400 days: the longest a browser keeps a cookie
USER_AGENT_MAX = 256

log = logging.getLogger(__name__)


def token_hash(token: str) -> str:
    """The SHA-256 hex digest stored in place of a session token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_from_cookie_header(header: str | None) -> str | None:
    """The session token in a raw `Cookie` header (the Reflex websocket handshake carries one)."""
    if not header:
        return None
    jar = SimpleCookie()
    try:
        jar.load(header)
    except CookieError:
        return None
    morsel = jar.get(SESSION_COOKIE)
    return morsel.value if morsel and morsel.value else None


def resolve_token(token: str | None, now: dt.datetime | None = None) -> int | None:
    """The user id of a live session token; expired rows are deleted, the expiry slides.

    Args:
        token: The cookie value (None or empty: signed out).
        now: The clock reading (tests).

    Returns:
        The user id, or None for an unknown, forged or expired token.
    """
    if not token:
        return None
    now = now or utcnow()
    with session_scope() as session:
        row = session.exec(
            select(AuthSession).where(AuthSession.token_hash == token_hash(token))
        ).first()
        if row is None:
            return None
        if row.expires_at <= now:
            session.delete(row)
            return None
        row.last_seen_at = now
        if row.expires_at - now < SLIDE_WHEN_LESS_THAN:
            row.expires_at = now + SLIDE_TO
        session.add(row)
        return row.user_id


def live_session_user(token: str | None, now: dt.datetime | None = None) -> int | None:
    """The user of a live session token, read only: the check every Reflex event makes.

    One lookup by the unique `token_hash` index (joined to its user by primary key), no write:
    page loads slide the expiry (`resolve_token`), events only ask whether the session still
    stands after a sign-out, a sign-out everywhere, its expiry, or the user's deletion.
    """
    if not token:
        return None
    now = now or utcnow()
    with session_scope() as session:
        row = session.exec(
            select(AuthSession.user_id, AuthSession.expires_at)
            .join(User, User.id == AuthSession.user_id)
            .where(AuthSession.token_hash == token_hash(token))
        ).first()
    if row is None or row.expires_at <= now:
        return None
    return row.user_id


def session_user_id(conn: HTTPConnection) -> int | None:
    """The signed-in user of a request, or None (also when the database is unreachable)."""
    try:
        return signed_in_user_id(conn)
    except DatabaseUnavailable:
        return None


def signed_in_user_id(conn: HTTPConnection) -> int | None:
    """The signed-in user of a request, or None when signed out.

    Raises:
        DatabaseUnavailable: A session cookie came, but the database could not be asked about it
            (a route answers 503 then, not 401: the visitor may well be signed in).
    """
    try:
        return resolve_token(conn.cookies.get(SESSION_COOKIE))
    except sa.exc.SQLAlchemyError as exc:
        log.warning("Session lookup failed: database unavailable")
        raise DatabaseUnavailable("The session cannot be checked: database unavailable") from exc


def start_session(
    session: Session, user_id: int, user_agent: str | None, now: dt.datetime | None = None
) -> str:
    """Insert an `auth_sessions` row for `user_id` inside the caller's transaction.

    Args:
        session: The open database session (committed by the caller).
        user_id: Who signs in.
        user_agent: The request's `User-Agent` (first 256 characters are kept).
        now: The clock reading (tests).

    Returns:
        The new cookie token; only its hash is stored.
    """
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    session.add(
        AuthSession(
            token_hash=token_hash(token),
            user_id=user_id,
            expires_at=now + SESSION_LIFETIME,
            last_seen_at=now,
            user_agent=user_agent[:USER_AGENT_MAX] if user_agent else None,
        )
    )
    return token


def end_session(token: str | None) -> bool:
    """Delete the session of a cookie token (sign out); True when a row was deleted."""
    if not token:
        return False
    with session_scope() as session:
        result = session.exec(delete(AuthSession).where(AuthSession.token_hash == token_hash(token)))
        return bool(result.rowcount)


def sign_out_everywhere(user_id: int) -> int:
    """Delete every session of a user ("Sign out everywhere" on /settings).

    Returns:
        How many sessions ended.
    """
    with session_scope() as session:
        result = session.exec(delete(AuthSession).where(AuthSession.user_id == user_id))
        return int(result.rowcount or 0)


def set_session_cookie(response: Response, token: str) -> None:
    """Attach the session cookie: HttpOnly, SameSite=Lax, Path=/, Secure on https."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=COOKIE_MAX_AGE_S,
        path="/",
        secure=get_settings().is_https,
        httponly=True,
        samesite="lax",
    )


def clear_session_cookie(response: Response) -> None:
    """Tell the browser to drop the session cookie."""
    response.delete_cookie(
        SESSION_COOKIE, path="/", secure=get_settings().is_https, httponly=True, samesite="lax"
    )
