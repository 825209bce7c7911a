"""The state of `/onboarding` (its views are in `onboarding/page.py`): the three steps, the sources
polled while the first two show, and "Complete setup" (save the schedule, follow the running
syncs, write the first report and open it).
"""

from __future__ import annotations

import asyncio
import logging
import time

import reflex as rx

from gitpulse_app.experience import routes
from gitpulse_app.experience.components.feedback import toast_error, toast_success
from gitpulse_app.experience.onboarding.service import complete_onboarding, first_report_id
from gitpulse_app.experience.onboarding.views import (
    OnboardingSource,
    onboarding_sources,
    sync_progress,
)
from gitpulse_app.experience.ops.service import server_token_available, use_server_token
from gitpulse_app.experience.sources.views import install_url
from gitpulse_app.experience.settings import preferences
from gitpulse_app.experience.settings.preferences import PreferencesMixin
from gitpulse_app.experience.settings.service import save_settings
from gitpulse_app.experience.settings.views import load_settings
from gitpulse_app.experience.sources.service import add_pat_source_and_sync, start_full_sync
from gitpulse_app.experience.state import SessionState
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
        result, _ = await add_pat_source_and_sync(user_id, token, repos)
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
            await asyncio.to_thread(start_full_sync, source_id, user_id)
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
