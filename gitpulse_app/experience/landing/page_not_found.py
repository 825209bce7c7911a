"""The standard "Page not found": unknown paths, and pages the visitor may not see
(a non-operator's /ops answers with the same view, so the page's existence never leaks)."""

from __future__ import annotations

import reflex as rx

from gitpulse_app.experience import routes
from gitpulse_app.experience.page import Guard, page
from gitpulse_app.experience.state import SessionState, public_event

# Reflex's route for the page it serves at every path no other page matches.
ROUTE = "404"
TITLE = "Page not found"
# A link to a backend route (`/auth/demo`, `/api/…`) on the app's own origin — one port in
# production — is followed by the client-side router, which has no such page: load it from the
# server instead (once per path in ten seconds, so a missing route cannot loop).
BACKEND_PATH_JS = """
(function () {
  const path = window.location.pathname;
  if (!/^\\/(auth|api)\\//.test(path)) return;
  const key = 'gitpulse-reload:' + path + window.location.search;
  const last = Number(window.sessionStorage.getItem(key) || 0);
  if (Date.now() - last < 10000) return;
  window.sessionStorage.setItem(key, String(Date.now()));
  window.location.reload();
})();
"""


class NotFoundState(SessionState):
    @rx.event
    @public_event
    async def load(self):
        return rx.call_script(BACKEND_PATH_JS)


def not_found_view() -> rx.Component:
    return rx.vstack(
        rx.heading(TITLE, as_="h1", size="8"),
        rx.text("There is nothing at this address. Check the link, or start again from your "
                "dashboard.", color_scheme="gray"),
        rx.cond(
            SessionState.signed_in,
            rx.link("← Go to the dashboard", href=routes.DASHBOARD),
            rx.link("← Go to the home page", href=routes.LANDING),
        ),
        spacing="3",
        id="not-found",
    )


@page(ROUTE, TITLE, load=NotFoundState.load, guard=Guard.PUBLIC)
def not_found() -> rx.Component:
    return not_found_view()
