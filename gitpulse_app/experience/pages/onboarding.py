"""`/onboarding` — three steps to a first report: 1 Connect GitHub, 2 Sources (linked
installations polled every 5 s, the App install link, a personal access token, or the server token for
operators), 3 Schedule (IANA zone defaulting to the browser's, toggles, week start). "Complete
setup" saves the schedule, follows the running syncs live, writes the first report and opens it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from dataclasses import dataclass

import reflex as rx
from sqlalchemy.orm.attributes import flag_modified

from gitpulse_app.acquisition.sync.service import request_sync
from gitpulse_app.acquisition.sync.status import sync_statuses_for_user
from gitpulse_app.core.config import get_settings
from gitpulse_app.core.db import session_scope, utcnow
from gitpulse_app.core.models import User
from gitpulse_app.experience import routes
from gitpulse_app.experience.components.empty import error_alert, skeleton_block
from gitpulse_app.experience.components.feedback import toast_error, toast_success
from gitpulse_app.experience.settings import preferences
from gitpulse_app.experience.settings.preferences import PreferencesMixin
from gitpulse_app.experience.components.sync_banner import ACTIVE_STATES
from gitpulse_app.experience.ops_service import server_token_available, use_server_token
from gitpulse_app.experience.pages.repos import KIND_LABELS, install_url
from gitpulse_app.experience.settings.service import save_settings
from gitpulse_app.experience.settings.views import load_settings
from gitpulse_app.experience.sources.service import add_pat_source
from gitpulse_app.experience.sources.views import list_sources
from gitpulse_app.experience.state import SessionState
from gitpulse_app.experience.page import Guard, page
from gitpulse_app.intelligence.reports import generate_first_report
from gitpulse_app.intelligence.windows import MONDAY_TO_FRIDAY

log = logging.getLogger(__name__)

STEPS = 3
SOURCES_POLL_S = 5.0
SOURCES_POLL_LIMIT_S = 3600.0
SYNC_POLL_S = 1.0
SYNC_WAIT_S = 120.0
LOAD_ERROR = "Onboarding could not be loaded. Please try again."
REPORT_FAILED = "Unable to generate report. Try again."
WRITING = "Writing your first report…"
SYNCING = "Syncing repositories…"


@dataclass
class OnboardingSource:
    installation_id: int = 0
    account: str = ""
    kind_label: str = ""
    repos: str = ""


def onboarding_sources(user_id: int) -> list[OnboardingSource]:
    return [
        OnboardingSource(view.installation_id, view.account_login or "server token",
                         KIND_LABELS.get(view.kind, view.kind),
                         f"{len(view.repos)} repositor{'y' if len(view.repos) == 1 else 'ies'}")
        for view in list_sources(user_id)
    ]


def complete_onboarding(user_id: int, now: dt.datetime | None = None) -> None:
    """Stamp `onboarding_completed_at` (once): the scheduler and pages treat the user as set up."""
    now = now or utcnow()
    with session_scope() as session:
        user = session.get(User, user_id)
        if user is not None and user.onboarding_completed_at is None:
            user.onboarding_completed_at = now
            user.updated_at = now
            flag_modified(user, "updated_at")
            session.add(user)


def sync_progress(user_id: int) -> tuple[bool, int, int]:
    """Whether any of the user's sources is syncing, and repositories done / in the batches."""
    views = sync_statuses_for_user(user_id, github_url=get_settings().github_url)
    active = [view for view in views if view.state in ACTIVE_STATES]
    done = total = 0
    for view in active:
        if view.batch_progress is not None:
            done += view.batch_progress.completed + view.batch_progress.failed
            total += view.batch_progress.total
    return bool(active), done, total


def first_report_id(user_id: int) -> int:
    outcome = generate_first_report(user_id)
    if outcome.report is None or outcome.report.id is None:
        raise RuntimeError("No first report was written")
    return outcome.report.id


class OnboardingState(PreferencesMixin, SessionState):
    loading: bool = True
    error: str = ""
    step: int = 1
    phase: str = "setup"
    gh_login: str = ""
    connected: bool = False
    sources: list[OnboardingSource] = []
    install_link: str = ""
    offer_server_token: bool = False
    pat_saving: bool = False
    pat_error: str = ""
    server_saving: bool = False
    server_error: str = ""
    completing: bool = False
    finish_label: str = ""
    finish_percent: int = 0

    @rx.var
    def step_label(self) -> str:
        return f"Step {self.step} of {STEPS}"

    @rx.event
    async def load(self):
        if self._onboarded and self.phase == "setup":
            return rx.redirect(routes.DASHBOARD)
        user_id = self._user_id
        self.error = ""
        try:
            view, sources, offer = await asyncio.gather(
                asyncio.to_thread(load_settings, user_id),
                asyncio.to_thread(onboarding_sources, user_id),
                asyncio.to_thread(server_token_available, user_id))
        except Exception:  # noqa: BLE001 - shown inline with Retry
            log.exception("Loading onboarding failed")
            self.error, self.loading = LOAD_ERROR, False
            return None
        if view is None:
            return rx.redirect(routes.signed_out_redirect(routes.ONBOARDING))
        self.step, self.phase = 1, "setup"
        self.gh_login, self.connected = view.login, view.connected
        self.sources, self.offer_server_token = sources, offer
        self.install_link = install_url()
        # A new user's work week starts as Monday–Friday; they can add or remove days here.
        self._show_preferences(view, work_days=MONDAY_TO_FRIDAY)
        self.field_errors = {}
        self.loading = False
        events: list = [OnboardingState.poll_sources]
        if not view.timezone:
            # No zone yet: default to the browser's.
            events.append(rx.call_script(preferences.BROWSER_ZONE_JS,
                                         callback=OnboardingState.set_browser_zone))
        return events

    @rx.event
    def next_step(self):
        if self.step == 2 and not self.sources:
            return toast_error("Add at least one source to continue.")
        self.step = min(STEPS, self.step + 1)
        return None

    @rx.event
    def previous_step(self):
        self.step = max(1, self.step - 1)

    async def _refresh_sources(self) -> None:
        self.sources = await asyncio.to_thread(onboarding_sources, self._user_id)

    @rx.event(background=True, supersedes=True)
    async def poll_sources(self):
        """Linked installations appear as they are linked (every 5 s while on the first steps)."""
        started = time.monotonic()
        while time.monotonic() - started < SOURCES_POLL_LIMIT_S:
            await asyncio.sleep(SOURCES_POLL_S)
            async with self:
                if self.phase != "setup" or self.step > 2 or self._user_id is None:
                    return
                user_id = self._user_id
            sources = await asyncio.to_thread(onboarding_sources, user_id)
            async with self:
                self.sources = sources

    @rx.event(background=True)
    async def add_pat(self, form: dict):
        """Check and store a token source (the token is never kept in the state)."""
        token, repos = str(form.get("token") or ""), str(form.get("repos") or "")
        async with self:
            if self.pat_saving:
                return
            user_id = self._user_id
            self.pat_saving, self.pat_error = True, ""
        result = await add_pat_source(user_id, token, repos)
        if result.ok and result.installation_id is not None:
            await asyncio.to_thread(request_sync, result.installation_id, "manual",
                                    force_full=True, user_id=user_id)
        async with self:
            self.pat_saving = False
            if not result.ok:
                self.pat_error = result.message
                return
            await self._refresh_sources()
        yield toast_success(result.message)

    @rx.event(background=True)
    async def use_server(self, form: dict):
        """Operators: sync repositories through the server's `GITHUB_TOKEN`."""
        repos = str(form.get("repos") or "")
        async with self:
            if self.server_saving:
                return
            user_id = self._user_id
            self.server_saving, self.server_error = True, ""
        result, source_id = await use_server_token(user_id, repos)
        if result.ok and source_id is not None:
            await asyncio.to_thread(request_sync, source_id, "manual", force_full=True,
                                    user_id=user_id)
        async with self:
            self.server_saving = False
            if not result.ok:
                self.server_error = result.message
                return
            await self._refresh_sources()
        yield toast_success(result.message)

    @rx.event(background=True)
    async def complete(self):
        """Save the schedule, mark onboarding done, follow the syncs, write the first report."""
        async with self:
            if self.completing:
                return
            user_id = self._user_id
            form = self._preferences_form()
            self.completing = True
        try:
            result = await asyncio.to_thread(save_settings, user_id, form)
        except Exception:  # noqa: BLE001 - a toast; nothing was saved
            log.exception("Saving the onboarding schedule failed")
            async with self:
                self.completing = False
            yield toast_error("Your schedule could not be saved. Please try again.")
            return
        if not result.ok:
            async with self:
                self.completing, self.field_errors = False, result.errors
            yield toast_error(next(iter(result.errors.values())))
            return
        await asyncio.to_thread(complete_onboarding, user_id)
        async with self:
            self._onboarded = True
            self.phase, self.finish_label, self.finish_percent = "finishing", SYNCING, 0
        await self._follow_syncs(user_id)
        async for event in self._write_first_report(user_id):
            yield event

    async def _follow_syncs(self, user_id: int):
        """Show "Syncing repositories… k/N" until the syncs end (at most 120 s)."""
        started = time.monotonic()
        while time.monotonic() - started < SYNC_WAIT_S:
            active, done, total = await asyncio.to_thread(sync_progress, user_id)
            if not active:
                return
            async with self:
                self.finish_label = f"Syncing repositories… {done}/{total}"
                self.finish_percent = round(100 * done / total) if total else 0
            await asyncio.sleep(SYNC_POLL_S)

    async def _write_first_report(self, user_id: int):
        async with self:
            self.phase, self.finish_label, self.finish_percent = "finishing", WRITING, 100
        try:
            report_id = await asyncio.to_thread(first_report_id, user_id)
        except Exception:  # noqa: BLE001 - shown with Retry; the pipeline logged the cause
            log.warning("The first report failed", exc_info=True)
            async with self:
                self.phase, self.completing = "failed", False
            return
        async with self:
            self.completing = False
        yield rx.redirect(routes.report_url(report_id))

    @rx.event(background=True)
    async def retry(self):
        async with self:
            if self.completing:
                return
            self.completing = True
            user_id = self._user_id
        async for event in self._write_first_report(user_id):
            yield event


# Views ---------------------------------------------------------------------------------------------
def step_bar() -> rx.Component:
    state = OnboardingState
    return rx.vstack(
        rx.text(state.step_label, size="2", color_scheme="gray", id="step-label"),
        rx.hstack(
            *[rx.box(flex="1", height="0.4em", border_radius="3px",
                     background=rx.cond(state.step >= n, rx.color("accent", 9),
                                        rx.color("gray", 5)),
                     class_name="step-segment")
              for n in range(1, STEPS + 1)],
            spacing="2",
            width="100%",
        ),
        spacing="2",
        width="100%",
    )


def step_card(title: str, *children: rx.Component) -> rx.Component:
    return rx.card(rx.vstack(rx.heading(title, as_="h2", size="5"), *children, spacing="4",
                             width="100%"),
                   width="100%", size="3")


def nav_buttons(*, back: bool, forward: rx.Component) -> rx.Component:
    return rx.hstack(
        rx.button("Back", variant="soft", color_scheme="gray",
                  on_click=OnboardingState.previous_step) if back else rx.box(),
        rx.spacer(),
        forward,
        width="100%",
        align="center",
    )


def connect_step() -> rx.Component:
    state = OnboardingState
    return step_card(
        "Connect GitHub",
        rx.hstack(
            rx.icon("circle-check", color=rx.color("grass", 10)),
            rx.text(rx.cond(state.connected, "Connected as @" + state.gh_login,
                            "Signed in as " + state.gh_login), weight="medium"),
            align="center",
        ),
        rx.text("GitPulse reads your GitHub activity only through the sources you choose next.",
                size="2", color_scheme="gray"),
        nav_buttons(back=False, forward=rx.button("Continue", on_click=OnboardingState.next_step,
                                                  id="onboarding-next")),
    )


def source_row(source: OnboardingSource) -> rx.Component:
    return rx.hstack(
        rx.icon("git-branch", size=16),
        rx.text(source.account, weight="medium", size="2"),
        rx.badge(source.kind_label, variant="soft"),
        rx.spacer(),
        rx.text(source.repos, size="1", color_scheme="gray"),
        align="center",
        width="100%",
        class_name="onboarding-source",
    )


def pat_form() -> rx.Component:
    state = OnboardingState
    return rx.form(
        rx.vstack(
            rx.text("Add a personal access token", weight="medium"),
            rx.text("GitPulse checks it with GitHub and stores it encrypted. Name the "
                    "repositories it should sync, as owner/name.", size="2", color_scheme="gray"),
            rx.input(placeholder="ghp_…", type="password", name="token", id="pat-token",
                     auto_complete="off", width="100%"),
            rx.text_area(placeholder="acme/api, acme/web", name="repos", id="pat-repos",
                         width="100%"),
            rx.cond(state.pat_error != "",
                    rx.text(state.pat_error, color_scheme="red", size="2", id="pat-error")),
            rx.button(rx.cond(state.pat_saving, "Checking…", "Add token"), type="submit",
                      loading=state.pat_saving, disabled=state.pat_saving, variant="outline"),
            spacing="2",
            width="100%",
        ),
        on_submit=OnboardingState.add_pat,
        reset_on_submit=False,
        width="100%",
    )


def server_token_form() -> rx.Component:
    state = OnboardingState
    return rx.form(
        rx.vstack(
            rx.text("Use the server token", weight="medium"),
            rx.text("As an operator you may sync repositories through this server's "
                    "GITHUB_TOKEN.", size="2", color_scheme="gray"),
            rx.text_area(placeholder="acme/api", name="repos", id="server-repos", width="100%"),
            rx.cond(state.server_error != "",
                    rx.text(state.server_error, color_scheme="red", size="2",
                            id="server-error")),
            rx.button(rx.cond(state.server_saving, "Checking…", "Use the server token"),
                      type="submit", loading=state.server_saving, disabled=state.server_saving,
                      variant="outline"),
            spacing="2",
            width="100%",
        ),
        on_submit=OnboardingState.use_server,
        reset_on_submit=False,
        width="100%",
    )


def sources_step() -> rx.Component:
    state = OnboardingState
    return step_card(
        "Sources",
        rx.cond(
            state.sources.length() > 0,
            rx.vstack(rx.foreach(state.sources, source_row), spacing="2", width="100%",
                      id="onboarding-sources"),
            rx.text("No sources linked yet. Installations you link on GitHub appear here.",
                    size="2", color_scheme="gray"),
        ),
        rx.cond(state.install_link != "",
                rx.link(rx.button(rx.icon("download", size=16), "Install GitHub App"),
                        href=state.install_link, is_external=True)),
        rx.separator(size="4"),
        pat_form(),
        rx.cond(state.offer_server_token,
                rx.vstack(rx.separator(size="4"), server_token_form(), spacing="4",
                          width="100%")),
        rx.cond(state.sources.length() == 0,
                rx.text("Add at least one source to continue.", size="2", color_scheme="gray")),
        nav_buttons(back=True, forward=rx.button(
            "Continue", on_click=OnboardingState.next_step, id="onboarding-next",
            disabled=state.sources.length() == 0)),
    )


def schedule_step() -> rx.Component:
    state = OnboardingState
    return step_card(
        "Schedule",
        preferences.timezone_field(state, rx.text("Reports are written at your local midnight.",
                                                  size="1", color_scheme="gray")),
        preferences.daily_toggle(state),
        preferences.work_days_field(state),
        preferences.weekly_toggle(
            state, "Weekly Retrospective – 7-day summary (" + state.week_start + "s)."),
        preferences.email_toggle(state),
        rx.cond(state.email_configured,
                rx.vstack(
                    rx.input(value=state.email, on_change=state.set_email, id="email",
                             type="email", placeholder="you@example.com", width="100%",
                             max_width="28em"),
                    preferences.field_error(state, "email"),
                    spacing="1", width="100%")),
        preferences.week_start_field(state),
        nav_buttons(back=True, forward=rx.button(
            rx.cond(state.completing, "Saving…", "Complete setup"), size="3",
            on_click=OnboardingState.complete, loading=state.completing,
            disabled=state.completing, id="complete-setup")),
    )


def finishing() -> rx.Component:
    state = OnboardingState
    return step_card(
        "Your first report",
        rx.cond(
            state.phase == "failed",
            rx.callout.root(
                rx.hstack(
                    rx.callout.icon(rx.icon("triangle-alert")),
                    rx.callout.text(REPORT_FAILED),
                    rx.spacer(),
                    rx.button("Retry", size="1", variant="soft", color_scheme="red",
                              on_click=OnboardingState.retry, loading=state.completing),
                    align="center",
                    width="100%",
                ),
                color_scheme="red",
                role="alert",
                width="100%",
            ),
            rx.vstack(
                rx.hstack(rx.icon("loader-circle", size=16, class_name="spin"),
                          rx.text(state.finish_label, id="finish-label"), align="center"),
                rx.progress(value=state.finish_percent, max=100, width="100%"),
                spacing="2",
                width="100%",
                id="finish-progress",
            ),
        ),
    )


def onboarding_steps() -> rx.Component:
    state = OnboardingState
    return rx.cond(
        state.phase == "setup",
        rx.match(state.step, (1, connect_step()), (2, sources_step()), schedule_step()),
        finishing(),
    )


@page(routes.ONBOARDING, "Welcome to GitPulse", load=OnboardingState.load, guard=Guard.SIGNED_IN)
def onboarding() -> rx.Component:
    state = OnboardingState
    return (
        rx.vstack(
            rx.heading("Welcome to GitPulse", as_="h1", size="8"),
            rx.text("Three steps, then your first cited report.", color_scheme="gray"),
            step_bar(),
            rx.cond(
                state.error != "",
                error_alert(state.error, OnboardingState.load),
                rx.cond(state.loading, skeleton_block("16em"), onboarding_steps()),
            ),
            spacing="4",
            width="100%",
            max_width="40em",
            margin_x="auto",
        )
    )
