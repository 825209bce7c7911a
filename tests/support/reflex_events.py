"""Drive the app's Reflex events in-process, exactly as its websocket would.

`EventDriver` runs Reflex's own `BaseStateEventProcessor` with the real `rx.App` of
`gitpulse_app.gitpulse_app` as its middleware (so every app middleware, like the session guard,
applies) on an in-memory state manager, and records what the browser would receive. A `Tab` is one
browser tab: a client token, the page it shows and the cookie its websocket opened with.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from reflex.istate.manager.memory import StateManagerMemory
from reflex.state import StateUpdate
from reflex.utils.format import format_event_handler
from reflex_base.constants import RouteVar
from reflex_base.event import Event, EventHandler
from reflex_base.event.processor.base_state_processor import BaseStateEventProcessor

from gitpulse_app.core.config import get_settings
from gitpulse_app.experience.routes import SESSION_COOKIE

_tokens = itertools.count(1)
EVENT_TIMEOUT_S = 60


@dataclass
class Tab:
    """One browser tab: `route` is the page's route template, `path` the address shown."""

    driver: EventDriver
    token: str
    cookie: str | None
    route: str = "/"
    path: str = "/"
    query: dict[str, str] | None = None

    def at(self, route: str, path: str | None = None, **query: str) -> Tab:
        self.route, self.path, self.query = route, path or route, query
        return self

    async def send(self, handler: EventHandler, **payload: Any) -> list[StateUpdate]:
        """Run one event of this tab to completion (with the events it chains)."""
        return await self.driver.send(self, handler, payload)

    async def state(self, cls: type) -> Any:
        """This tab's instance of state `cls` as the backend holds it."""
        root = await self.driver.manager.get_state(_token_for(self.token, cls))
        return await root.get_state(cls)


def _token_for(token: str, cls: type):
    from reflex.istate.manager.token import BaseStateToken

    return BaseStateToken(ident=token, cls=cls)


class EventDriver:
    """The app's event processor, with what it sends to each tab recorded."""

    def __init__(self) -> None:
        from gitpulse_app.gitpulse_app import app

        self.app = app
        self.manager = StateManagerMemory()
        self.sent: dict[str, list[StateUpdate]] = defaultdict(list)
        self.raised: list[Exception] = []  # handlers' exceptions, as the processor saw them
        self.processor = BaseStateEventProcessor(
            middleware=app, backend_exception_handler=app.backend_exception_handler)
        self.processor.configure(state_manager=self.manager, event_namespace=self)

    async def emit_update(self, update: StateUpdate, token: str) -> None:
        self.sent[token].append(update)

    def tab(self, session_token: str | None) -> Tab:
        return Tab(self, f"tab-{next(_tokens)}", session_token)

    async def send(self, tab: Tab, handler: EventHandler, payload: dict) -> list[StateUpdate]:
        headers = {"origin": get_settings().base_url, "host": "localhost"}
        if tab.cookie:
            headers["cookie"] = f"{SESSION_COOKIE}={tab.cookie}"
        router_data = {RouteVar.PATH: tab.route, RouteVar.ORIGIN: tab.path,
                       RouteVar.QUERY: dict(tab.query or {}), RouteVar.HEADERS: headers,
                       RouteVar.CLIENT_TOKEN: tab.token, RouteVar.SESSION_ID: f"sid-{tab.token}",
                       RouteVar.CLIENT_IP: "127.0.0.1"}
        before = len(self.sent[tab.token])
        future = await self.processor.enqueue(
            tab.token, Event(name=format_event_handler(handler), router_data=router_data,
                             payload=payload))
        try:
            await asyncio.wait_for(future.wait_all(), EVENT_TIMEOUT_S)
        except Exception as exc:  # the app's exception handler already answered the tab
            self.raised.append(exc)
        return self.sent[tab.token][before:]


@asynccontextmanager
async def event_driver() -> AsyncIterator[EventDriver]:
    driver = EventDriver()
    async with driver.processor:
        yield driver


def signed_in_user(session, login: str, **fields: Any) -> tuple[int, str]:
    """An onboarded user with a live session: (user id, session token)."""
    from gitpulse_app.core.clock import utcnow
    from gitpulse_app.experience.auth.sessions import start_session
    from tests.intelligence.delivery.conftest import make_owner

    user = make_owner(session, login=login, **fields)
    user.onboarding_completed_at = utcnow()
    session.add(user)
    session.commit()
    token = start_session(session, user.id, "tab")
    session.commit()
    return user.id, token


def frontend_events(updates: list[StateUpdate]) -> list[Event]:
    return [event for update in updates for event in update.events]


def redirects(updates: list[StateUpdate]) -> list[str]:
    """The paths the tab was sent to."""
    return [event.payload["path"] for event in frontend_events(updates)
            if event.name == "_redirect"]


def sent_text(updates: list[StateUpdate]) -> str:
    """Everything the browser received, as text (to look for what it must not see)."""
    return repr([(update.delta, [(e.name, e.payload) for e in update.events])
                 for update in updates])
