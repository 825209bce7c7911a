"""The base state every page inherits: who is signed in, resolved from the session cookie.

The user id is a backend-only var (underscore prefix), so it never reaches the browser; the state
holds only what the shell displays.
"""

from __future__ import annotations

import asyncio

import reflex as rx
import sqlalchemy as sa

from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import User
from gitpulse_app.experience import routes
from gitpulse_app.experience.auth_sessions import resolve_token, token_from_cookie_header


def _lookup(cookie_header: str) -> tuple[int | None, str]:
    user_id = resolve_token(token_from_cookie_header(cookie_header))
    if user_id is None:
        return None, ""
    with session_scope() as session:
        user = session.get(User, user_id)
        return (user_id, user.gh_login or user.display_name or "") if user else (None, "")


class SessionState(rx.State):
    """Who is signed in; resolved on every protected page load."""

    _user_id: int | None = None
    signed_in: bool = False
    login: str = ""

    async def _resolve(self) -> None:
        try:
            user_id, login = await asyncio.to_thread(_lookup, self.router.headers.cookie)
        except sa.exc.SQLAlchemyError:
            user_id, login = None, ""
        self._user_id, self.signed_in, self.login = user_id, user_id is not None, login

    @rx.event
    async def require_user(self):
        """on_load of every signed-in page: signed-out visitors go to `/?next=<path>`."""
        await self._resolve()
        if not self.signed_in:
            return rx.redirect(routes.signed_out_redirect(self.router.url.path or "/"))
        return None

    @rx.event
    async def load_visitor(self):
        """on_load of public pages: know who is here without redirecting."""
        await self._resolve()
