"""The base state every page inherits: who is signed in, resolved from the session cookie.

The user id is a backend-only var (underscore prefix), so it never reaches the browser; the state
holds only what the shell displays: the login, the unread report count and the local-mode badge.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import reflex as rx
import sqlalchemy as sa

from gitpulse_app.core.config import get_settings
from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import User
from gitpulse_app.experience import routes
from gitpulse_app.experience.auth.sessions import resolve_token, token_from_cookie_header
from gitpulse_app.intelligence.delivery.status import unread_count


F = TypeVar("F", bound=Callable)
PUBLIC_EVENT = "_gitpulse_public_event"


def public_event(fn: F) -> F:
    """Let a handler run without a live session (apply under `@rx.event`): only for pages anyone
    may open, and it may touch no user data beyond resolving the visitor itself. Every other
    handler of a `SessionState` is refused once its session ends (experience/auth/guard.py)."""
    setattr(fn, PUBLIC_EVENT, True)
    return fn


@dataclass(frozen=True)
class _Visitor:
    user_id: int | None = None
    login: str = ""
    onboarded: bool = False
    unread: int = 0


def _lookup(cookie_header: str) -> _Visitor:
    user_id = resolve_token(token_from_cookie_header(cookie_header))
    if user_id is None:
        return _Visitor()
    with session_scope() as session:
        user = session.get(User, user_id)
        if user is None:
            return _Visitor()
        return _Visitor(user_id, user.gh_login or user.display_name or "",
                        user.onboarding_completed_at is not None,
                        unread_count(user_id, session=session))


def local_capabilities() -> list[str]:
    """What runs on the local providers (the "Local mode" badge)."""
    settings = get_settings()
    capabilities = []
    if not settings.openai_enabled:
        capabilities.append("Reports: local writer")
    if not settings.openai_enabled and not settings.voyage_enabled:
        capabilities.append("Search: local embeddings")
    return capabilities


def route_of(path: str) -> str:
    # The production static server adds a trailing slash to page paths.
    return path.rstrip("/") or routes.LANDING


class SessionState(rx.State):
    """Who is signed in; resolved on every protected page load."""

    _user_id: int | None = None
    # Whose data this tab's states hold (set by experience/auth/guard.py): another user's
    # session resets them all before any handler runs.
    _owner_id: int | None = None
    _onboarded: bool = False
    signed_in: bool = False
    login: str = ""
    unread_reports: int = 0
    local_modes: list[str] = []

    async def _resolve(self) -> None:
        try:
            visitor = await asyncio.to_thread(_lookup, self.router.headers.cookie)
        except sa.exc.SQLAlchemyError:
            visitor = _Visitor()
        self._user_id, self.signed_in = visitor.user_id, visitor.user_id is not None
        self.login, self._onboarded = visitor.login, visitor.onboarded
        self.unread_reports = visitor.unread
        self.local_modes = local_capabilities()

    async def _guard(self):
        """Resolve the visitor; the redirect a protected page needs, or None to go on.

        Signed-out visitors go to `/?next=<path>`; signed-in users who have not finished
        onboarding go to /onboarding.
        """
        await self._resolve()
        path = route_of(self.router.url.path or "/")
        if not self.signed_in:
            return rx.redirect(routes.signed_out_redirect(path))
        if not self._onboarded and path != routes.ONBOARDING:
            return rx.redirect(routes.ONBOARDING)
        return None

    @rx.event
    async def require_user(self):
        """on_load of every signed-in page: signed-out visitors go to `/?next=<path>`."""
        return await self._guard()

    @rx.event
    @public_event
    async def load_visitor(self):
        """on_load of public pages: know who is here without redirecting."""
        await self._resolve()
