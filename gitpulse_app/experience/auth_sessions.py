"""Resolving the `gitpulse_session` cookie to a user (CONTRACT §6, SPEC §11 Sessions).

The cookie holds an opaque random token; `auth_sessions` stores only its SHA-256 hex digest, so a
database leak leaks no live session.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from http.cookies import CookieError, SimpleCookie

import sqlalchemy as sa
from sqlmodel import select
from starlette.requests import HTTPConnection

from gitpulse_app.core.db import session_scope, utcnow
from gitpulse_app.core.models import AuthSession
from gitpulse_app.experience.routes import SESSION_COOKIE

SLIDE_WHEN_LESS_THAN = dt.timedelta(days=29)
SLIDE_TO = dt.timedelta(days=30)

log = logging.getLogger(__name__)


def token_hash(token: str) -> str:
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
    """The user id of a live session token; expired rows are deleted, the expiry slides."""
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


def session_user_id(conn: HTTPConnection) -> int | None:
    """The signed-in user of a request, or None (also when the database is unreachable)."""
    try:
        return resolve_token(conn.cookies.get(SESSION_COOKIE))
    except sa.exc.SQLAlchemyError:
        log.warning("Session lookup failed: database unavailable")
        return None
