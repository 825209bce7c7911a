"""`/settings` — GitHub connection, report schedule, email, token sources, sign out everywhere.
Saving validates every field first: with any field error nothing is saved."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from urllib.parse import quote

import reflex as rx

from gitpulse_app.core.config import get_settings
from gitpulse_app.experience import routes
from gitpulse_app.experience.auth.sessions import sign_out_everywhere
from gitpulse_app.experience.components.empty import error_alert, skeleton_block
from gitpulse_app.experience.components.feedback import toast_error, toast_info, toast_success
from gitpulse_app.experience.settings import preferences
from gitpulse_app.experience.settings.channels import channels_section
from gitpulse_app.experience.settings.page_tokens import api_tokens_section
from gitpulse_app.experience.settings.preferences import PreferencesMixin
from gitpulse_app.experience.settings.service import confirm_email, save_settings
from gitpulse_app.experience.settings.views import load_settings
from gitpulse_app.experience.sources.service import remove_pat_source
from gitpulse_app.experience.state import SessionState
from gitpulse_app.experience.page import page

log = logging.getLogger(__name__)

LOAD_ERROR = "Your settings could not be loaded. Please try again."


@dataclass
class PatItem:
    installation_id: int = 0
    account: str = ""
    hint: str = ""
    repos: str = ""
    is_owner: bool = False
    readable: bool = True


class SettingsState(PreferencesMixin, SessionState):
    loading: bool = True
    error: str = ""
    saving: bool = False
    gh_login: str = ""
    connected: bool = False
    token_expired: bool = False
    reconnect_url: str = ""
    is_demo: bool = False
    zone_unresolvable: bool = False
    pat_sources: list[PatItem] = []

    @rx.var
    def weekly_copy(self) -> str:
        return f"Weekly Retrospective – 7-day summary ({self.week_start}s)."

    @rx.event
    async def load(self):
        self.error, self.field_errors = "", {}
        params = self.router.url.query_parameters
        user_id = self._user_id
        notices = []
        if params.get("confirm_email"):
            confirmed = await asyncio.to_thread(confirm_email, user_id, params["confirm_email"])
            notices.append(toast_success(f"Email address confirmed: {confirmed}") if confirmed
                           else toast_error("This confirmation link is invalid or has expired."))
        if params.get("github") == "connected":
            notices.append(toast_success("GitHub reconnected."))
        elif params.get("github") == "error":
            notices.append(toast_error(params.get("message") or "Unknown error"))
        try:
            view = await asyncio.to_thread(load_settings, user_id)
        except Exception:  # noqa: BLE001 - shown inline with Retry
            log.exception("Loading settings failed")
            self.error, self.loading = LOAD_ERROR, False
            return notices
        if view is None:
            return rx.redirect(routes.signed_out_redirect(routes.SETTINGS))
        settings = get_settings()
        self.gh_login, self.connected, self.is_demo = view.login, view.connected, view.is_demo
        self.token_expired = view.token_expired
        self.reconnect_url = (
            f"{settings.api_url}{routes.AUTH_LOGIN}?next={quote(routes.SETTINGS, safe='/')}"
            if view.oauth_configured else "")
        self.zone_unresolvable = view.zone_unresolvable
        self._show_preferences(view)
        self.pat_sources = [
            PatItem(s.installation_id, s.account_login, s.token_hint, ", ".join(s.repos),
                    s.is_owner, s.readable)
            for s in view.pat_sources
        ]
        self.loading = False
        if not view.timezone:
            # No zone yet: default to the browser's.
            notices.append(rx.call_script(preferences.BROWSER_ZONE_JS,
                                          callback=SettingsState.set_browser_zone))
        return notices

    @rx.event
    async def save(self):
        if self.saving:
            return
        self.saving = True
        yield
        form = self._preferences_form()
        try:
            result = await asyncio.to_thread(save_settings, self._user_id, form)
        except Exception:  # noqa: BLE001 - a toast; nothing was saved
            log.exception("Saving settings failed")
            self.saving = False
            yield toast_error("Settings could not be saved. Please try again.")
            return
        self.saving = False
        self.field_errors = result.errors
        if not result.ok:
            yield toast_error(next(iter(result.errors.values())))
            return
        self.timezone = form.timezone
        self.zone_unresolvable = False
        yield toast_success(result.message)
        if result.notice:
            yield toast_info(result.notice)

    @rx.event
    async def remove_source(self, installation_id: int):
        result = await asyncio.to_thread(remove_pat_source, self._user_id, installation_id)
        if not result.ok:
            return toast_error(result.message)
        self.pat_sources = [s for s in self.pat_sources if s.installation_id != installation_id]
        return toast_success(result.message)

    @rx.event
    async def sign_out_all(self):
        count = await asyncio.to_thread(sign_out_everywhere, self._user_id)
        self._user_id, self.signed_in = None, False
        return [toast_success(f"Signed out of {count} session(s)."), rx.redirect(routes.LANDING)]


# Views ---------------------------------------------------------------------------------------------
def section(title: str, *children: rx.Component, **props) -> rx.Component:
    return rx.card(
        rx.vstack(rx.heading(title, as_="h2", size="4"), *children, spacing="3", width="100%"),
        width="100%",
        **props,
    )


def github_section() -> rx.Component:
    state = SettingsState
    return section(
        "GitHub connection",
        rx.hstack(
            rx.icon("git-branch", size=18),
            rx.text(rx.cond(state.connected, "Connected as @" + state.gh_login,
                            "Not connected to GitHub")),
            rx.spacer(),
            rx.cond(state.reconnect_url != "",
                    rx.link(rx.button("Reconnect", variant="soft", size="2"),
                            href=state.reconnect_url)),
            align="center",
            width="100%",
        ),
        rx.cond(state.token_expired,
                rx.callout("Your GitHub authorization has expired. Reconnect to keep signing in "
                           "and linking installations.", icon="triangle-alert",
                           color_scheme="amber")),
        rx.cond(state.is_demo,
                rx.text("This is the demo workspace: it does not sync with GitHub.", size="2",
                        color_scheme="gray")),
    )


def schedule_section() -> rx.Component:
    state = SettingsState
    return section(
        "Schedule",
        preferences.timezone_field(state, rx.cond(
            state.zone_unresolvable,
            rx.callout("Your saved time zone is no longer recognised; reports use UTC until you "
                       "pick one again.", icon="triangle-alert", color_scheme="amber"))),
        preferences.daily_toggle(state),
        preferences.weekly_toggle(state, state.weekly_copy),
        preferences.work_days_field(state),
        preferences.week_start_field(state),
        preferences.field_error(state, "week_start_day"),
    )


def email_section() -> rx.Component:
    state = SettingsState
    return section(
        "Email",
        preferences.email_toggle(state),
        rx.vstack(
            rx.text("Address", weight="medium", as_="label", html_for="email"),
            rx.input(value=state.email, on_change=state.set_email, id="email",
                     type="email", disabled=~state.email_configured, width="100%",
                     max_width="28em"),
            preferences.field_error(state, "email"),
            spacing="1",
            width="100%",
        ),
    )


def pat_row(item: PatItem) -> rx.Component:
    return rx.hstack(
        rx.icon("key-round", size=16),
        rx.vstack(
            rx.text("@" + item.account, " ", item.hint, weight="medium", size="2"),
            rx.text(item.repos, size="1", color_scheme="gray"),
            rx.cond(~item.readable,
                    rx.text("This token can no longer be read. Add it again.", size="1",
                            color_scheme="red")),
            spacing="0",
        ),
        rx.spacer(),
        rx.cond(item.is_owner,
                rx.button("Remove", size="1", variant="soft", color_scheme="red",
                          on_click=SettingsState.remove_source(item.installation_id))),
        align="center",
        width="100%",
    )


def sources_section() -> rx.Component:
    state = SettingsState
    return section(
        "Personal access tokens",
        rx.cond(state.pat_sources.length() > 0,
                rx.vstack(rx.foreach(state.pat_sources, pat_row), spacing="3", width="100%"),
                rx.text("No token sources.", size="2", color_scheme="gray")),
        rx.link("Add a token source on Repositories →", href=routes.REPOS, size="2"),
    )


def settings_form() -> rx.Component:
    state = SettingsState
    return rx.vstack(
        github_section(),
        schedule_section(),
        email_section(),
        rx.hstack(
            rx.button(rx.cond(state.saving, "Saving…", "Save"), on_click=SettingsState.save,
                      loading=state.saving, disabled=state.saving, size="3", id="save-settings"),
            justify="end",
            width="100%",
        ),
        sources_section(),
        api_tokens_section(section),
        channels_section(),
        section(
            "Sessions",
            rx.hstack(
                rx.text("Sign out of GitPulse on every browser and device.", size="2"),
                rx.spacer(),
                rx.alert_dialog.root(
                    rx.alert_dialog.trigger(rx.button("Sign out everywhere", color_scheme="red",
                                                      variant="soft")),
                    rx.alert_dialog.content(
                        rx.alert_dialog.title("Sign out everywhere?"),
                        rx.alert_dialog.description("Every session, this one included, ends."),
                        rx.hstack(
                            rx.alert_dialog.cancel(rx.button("Cancel", variant="soft",
                                                             color_scheme="gray")),
                            rx.alert_dialog.action(rx.button(
                                "Sign out everywhere", color_scheme="red",
                                on_click=SettingsState.sign_out_all)),
                            justify="end",
                            spacing="3",
                            padding_top="1em",
                        ),
                    ),
                ),
                align="center",
                width="100%",
                wrap="wrap",
            ),
        ),
        spacing="4",
        width="100%",
    )


@page(routes.SETTINGS, "Settings", load=SettingsState.load)
def settings() -> rx.Component:
    state = SettingsState
    return (
        rx.vstack(
            rx.heading("Settings", as_="h1", size="8"),
            rx.cond(
                state.error != "",
                error_alert(state.error, SettingsState.load),
                rx.cond(state.loading,
                        rx.vstack(skeleton_block("5em"), skeleton_block("14em"),
                                  skeleton_block("8em"), width="100%"),
                        settings_form()),
            ),
            spacing="4",
            width="100%",
            max_width="48em",
        )
    )
