"""Settings → "API tokens" (docs/API.md): create a personal token (shown once), list and revoke.

The section has its own state and loads itself when it mounts, so the settings page only places it.
A new token's secret is held in state only until the person dismisses it; lists show its prefix.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import reflex as rx

from gitpulse_app.core.clock import utcnow
from gitpulse_app.experience.auth.api_tokens import (
    TokenError,
    create_token,
    list_tokens,
    revoke_token,
)
from gitpulse_app.experience.components.feedback import toast_error, toast_success
from gitpulse_app.experience.state import SessionState
from gitpulse_app.intelligence.formatting import format_short_date

log = logging.getLogger(__name__)

EXPIRY_CHOICES = {"Never": None, "30 days": 30, "90 days": 90, "1 year": 365}


@dataclass
class TokenRow:
    id: int = 0
    name: str = ""
    scope: str = ""
    prefix: str = ""
    status: str = ""
    created: str = ""
    last_used: str = ""
    expires: str = ""


def _rows(user_id: int) -> list[TokenRow]:
    now = utcnow()
    return [TokenRow(view.id, view.name, view.scope, f"{view.prefix}…", view.status(now),
                     format_short_date(view.created_at),
                     format_short_date(view.last_used_at) if view.last_used_at else "never",
                     format_short_date(view.expires_at) if view.expires_at else "never")
            for view in list_tokens(user_id)]


class ApiTokensState(SessionState):
    tokens: list[TokenRow] = []
    name: str = ""
    scope: str = "read"
    expiry: str = "Never"
    new_token: str = ""
    creating: bool = False

    @rx.event
    async def load(self):
        # A secret is shown once: leaving or reloading the page forgets it.
        self.new_token = ""
        await self._resolve()
        if self._user_id is None:
            return
        self.tokens = await asyncio.to_thread(_rows, self._user_id)

    @rx.event
    def set_name(self, value: str):
        self.name = value

    @rx.event
    def set_scope(self, value: str):
        self.scope = value

    @rx.event
    def set_expiry(self, value: str):
        self.expiry = value

    @rx.event
    def dismiss_token(self):
        self.new_token = ""

    @rx.event
    async def create(self):
        if self._user_id is None or self.creating:
            return
        self.creating = True
        try:
            created = await asyncio.to_thread(create_token, self._user_id, self.name,
                                              self.scope, EXPIRY_CHOICES.get(self.expiry))
        except TokenError as exc:
            self.creating = False
            return toast_error(str(exc))
        except Exception:  # noqa: BLE001 — a toast without internals
            log.exception("Creating an API token failed")
            self.creating = False
            return toast_error("The token could not be created. Please try again.")
        self.new_token, self.name, self.creating = created.token, "", False
        self.tokens = await asyncio.to_thread(_rows, self._user_id)
        return toast_success(f"Token “{created.name}” created. Copy it now.")

    @rx.event
    async def revoke(self, token_id: int):
        if self._user_id is None:
            return
        try:
            view = await asyncio.to_thread(revoke_token, token_id, self._user_id)
        except TokenError as exc:
            return toast_error(str(exc))
        self.tokens = await asyncio.to_thread(_rows, self._user_id)
        return toast_success(f"Token “{view.name}” revoked.")


def _token_row(row: TokenRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(row.name, weight="medium"), rx.code(row.prefix, size="1")),
        rx.table.cell(rx.badge(row.scope, variant="soft")),
        rx.table.cell(rx.badge(row.status, color_scheme=rx.match(
            row.status, ("active", "green"), ("expired", "orange"), "gray"))),
        rx.table.cell(rx.text("Last used ", row.last_used, size="1"),
                      rx.text("Expires ", row.expires, size="1", color_scheme="gray")),
        rx.table.cell(rx.cond(row.status == "active", rx.button(
            "Revoke", size="1", color_scheme="red", variant="soft",
            on_click=ApiTokensState.revoke(row.id)))),
    )


def api_tokens_section(section) -> rx.Component:
    """The "API tokens" card, built with the settings page's `section` frame."""
    state = ApiTokensState
    return section(
        "API tokens",
        rx.text("Personal tokens let scripts, assistants and MCP clients read your GitPulse "
                "data as you, through /api/v1 and /mcp. Read tokens only read; write tokens may "
                "also generate reports.", size="2"),
        rx.cond(state.new_token != "", rx.callout.root(
            rx.callout.text("Copy this token now — it is not shown again:"),
            rx.hstack(rx.code(state.new_token, id="new-api-token"),
                      rx.button(rx.icon("copy", size=14), size="1", variant="soft",
                                on_click=rx.set_clipboard(state.new_token)),
                      rx.button("Done", size="1", on_click=ApiTokensState.dismiss_token),
                      wrap="wrap", align="center"),
            color_scheme="green")),
        rx.hstack(
            rx.input(placeholder="Token name, e.g. laptop assistant", value=state.name,
                     on_change=ApiTokensState.set_name, max_length=100, id="api-token-name"),
            rx.select(["read", "write"], value=state.scope, on_change=ApiTokensState.set_scope),
            rx.select(list(EXPIRY_CHOICES), value=state.expiry,
                      on_change=ApiTokensState.set_expiry),
            rx.button("Create token", on_click=ApiTokensState.create, loading=state.creating,
                      id="create-api-token"),
            wrap="wrap",
            width="100%",
        ),
        rx.cond(state.tokens.length() > 0,
                rx.table.root(rx.table.body(rx.foreach(state.tokens, _token_row)),
                              width="100%", size="1"),
                rx.text("No API tokens yet.", size="2", color_scheme="gray")),
        on_mount=ApiTokensState.load,
    )
