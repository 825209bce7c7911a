"""Every Reflex event re-checks the session before its handler runs (docs/SECURITY.md).

`SessionGuard` is Reflex event middleware: `rx.App` runs it before every event, foreground and
background, under the state lock. For any handler of a `SessionState` subclass (every page and
component state, including handlers added later) it looks the cookie's token up in
`auth_sessions` (`live_session_user`: one read by the unique hash index). When the session is gone
(signed out, signed out everywhere, expired, or its user deleted) the tab's states are reset and
it is sent to `/?next=<path>`; the handler does not run. When the session is another user's than
the one the tab's states were filled for, they are reset before the handler runs. Only handlers
marked `@public_event` (pages anyone may open: the landing page, the 404 page) run without a
session.
"""

from __future__ import annotations

import asyncio
import logging

import reflex as rx
import sqlalchemy as sa
from reflex.middleware import Middleware
from reflex.state import StateUpdate
from reflex_base.event import Event
from reflex_base.registry import RegistrationContext

from gitpulse_app.experience import routes
from gitpulse_app.experience.auth.sessions import live_session_user, token_from_cookie_header
from gitpulse_app.experience.state import PUBLIC_EVENT, SessionState, route_of

log = logging.getLogger(__name__)

UNAVAILABLE = "Service temporarily unavailable. Please try again."


def guarded_state(event_name: str) -> type[SessionState] | None:
    """The `SessionState` subclass whose handler `event_name` is, when it needs a session."""
    registered = RegistrationContext.get().event_handlers.get(event_name)
    if registered is None or not registered.states:
        return None
    owner = registered.states[0]
    if not issubclass(owner, SessionState) or getattr(registered.handler.fn, PUBLIC_EVENT, False):
        return None
    return owner


def _session_user(cookie_header: str) -> int | None:
    return live_session_user(token_from_cookie_header(cookie_header))


class SessionGuard(Middleware):
    """Refuses every guarded event whose session no longer stands (see the module docstring)."""

    async def preprocess(self, app, state, event: Event) -> StateUpdate | None:
        if guarded_state(event.name) is None:
            return None
        root = state._get_root_state()
        visitor = await root.get_state(SessionState)
        try:
            user_id = await asyncio.to_thread(_session_user, visitor.router.headers.cookie)
        except sa.exc.SQLAlchemyError:
            log.warning("Session check failed: database unavailable", extra={"event": event.name})
            return await _answer(root, rx.toast.error(UNAVAILABLE))
        if user_id is not None:
            if visitor._owner_id not in (None, user_id):
                # This tab's states were filled for someone else (a sign-out, then another
                # sign-in in the same tab): start over before anything reads them.
                await _start_over(root)
            visitor._user_id = visitor._owner_id = user_id
            return None
        path = route_of(visitor.router.url.path or routes.LANDING)
        await _start_over(root)
        return await _answer(root, rx.redirect(routes.signed_out_redirect(path)))


def _session_states(cls: type = SessionState) -> list[type]:
    found = [cls]
    for sub in cls.get_substates():
        found.extend(_session_states(sub))
    return found


async def _start_over(root) -> None:
    """Every page and component state of this tab back to its defaults (backend vars too)."""
    for cls in _session_states()[1:]:
        await root.get_state(cls)  # loaded, so the reset below reaches it
    (await root.get_state(SessionState)).reset()


async def _answer(root, spec) -> StateUpdate:
    """The update that replaces the handler: the state change so far, then `spec`."""
    delta = await root._get_resolved_delta()
    root._clean()
    return StateUpdate(delta=delta, events=Event.from_event_type(spec))
