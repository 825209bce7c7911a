"""`/reports/[id]` — one cited report: header, metadata, the coverage meter, stale banner,
diagnostics, the sanitised body with inline citation links, numbered sources, email status, and
Download markdown / Regenerate (live stages) / Delete. Keys: ← older, → newer, Esc → /reports.

Only the owner sees a report; anyone else — and everyone, once it is deleted — gets "Report not
found", exactly as for an id that never existed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging

import reflex as rx

from gitpulse_app.core.config import get_settings
from gitpulse_app.experience import routes
from gitpulse_app.experience.components.coverage import coverage_meter
from gitpulse_app.experience.components.empty import error_alert, skeleton_block
from gitpulse_app.experience.components.feedback import toast_error, toast_info, toast_success
from gitpulse_app.experience.components.rich_text import report_html
from gitpulse_app.experience.components.sources import sources_section
from gitpulse_app.experience.page import page
from gitpulse_app.experience.reports.views import SourceItem
from gitpulse_app.experience.reports.views_detail import (
    ReportDetailView,
    report_detail,
    report_id_from_path,
    stage_view,
)
from gitpulse_app.experience.sources.banner import SyncStatusState
from gitpulse_app.experience.state import SessionState
from gitpulse_app.intelligence.delivery import retry_delivery, unread_count
from gitpulse_app.intelligence.reports.models import ReportError, ReportNotFound
from gitpulse_app.intelligence.reports.service import (
    delete_report,
    request_regeneration,
    run_regeneration,
)

log = logging.getLogger(__name__)

NOT_FOUND = "Report not found"
LOAD_ERROR = "This report could not be loaded. Please try again."
POLL_S = 1.0
KEY_HINT = "Press Esc to close · ← → to navigate"
# ← older, → newer, Esc → /reports; ignored while typing or while a dialog is open. Attached once
# per page load of the app; it acts only on report pages.
KEYS_JS = """
(function () {
  if (window.__gitpulseReportKeys) return;
  window.__gitpulseReportKeys = true;
  document.addEventListener('keydown', function (event) {
    if (!/^\\/reports\\/\\d+\\/?$/.test(window.location.pathname)) return;
    if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
    const target = event.target;
    const tag = target && target.tagName ? target.tagName.toLowerCase() : '';
    if (tag === 'input' || tag === 'textarea' || tag === 'select' ||
        (target && target.isContentEditable)) return;
    if (document.querySelector('[role="dialog"], [role="alertdialog"]')) return;
    const ids = {ArrowLeft: 'report-older', ArrowRight: 'report-newer', Escape: 'report-back'};
    const link = ids[event.key] && document.getElementById(ids[event.key]);
    if (!link) return;
    event.preventDefault();
    link.click();
  });
})();
"""


class ReportDetailState(SessionState):
    loading: bool = True
    not_found: bool = False
    error: str = ""
    report_id: int = 0
    title: str = ""
    description: str = ""
    kind_label: str = ""
    date_label: str = ""
    date_range: str = ""
    repos: list[str] = []
    repos_label: str = ""
    events_label: str = ""
    analyst: str = ""
    cost: str = ""
    latency: str = ""
    prompt_version: str = ""
    generated: str = ""
    coverage_percent: int = 0
    coverage_label: str = ""
    coverage_level: str = "none"
    breakdown: list[str] = []
    below_threshold: bool = False
    stale: bool = False
    partial: bool = False
    diagnostic_label: str = ""
    diagnostic_message: str = ""
    body_html: str = ""
    sources: list[SourceItem] = []
    email_text: str = ""
    email_status: str = ""
    email_can_retry: bool = False
    older_url: str = ""
    newer_url: str = ""
    download_url: str = ""
    regenerating: bool = False
    regen_stage: str = ""
    regen_progress: int = 0

    def _apply(self, view: ReportDetailView) -> None:
        # Every field of the view is a var of this state, by the same name.
        for item in dataclasses.fields(view):
            setattr(self, item.name, getattr(view, item.name))

    async def _fetch(self, report_id: int, *, open_it: bool) -> None:
        user_id = self._user_id
        view = await asyncio.to_thread(report_detail, user_id, report_id, open_it=open_it,
                                       api_url=get_settings().api_url)
        self.not_found = view is None
        if view is not None:
            self._apply(view)
            if open_it:
                self.unread_reports = await asyncio.to_thread(unread_count, user_id)

    @rx.event
    async def load(self):
        self.loading, self.error, self.not_found = True, "", False
        report_id = report_id_from_path(self.router.url.path or "")
        if report_id is None:
            self.not_found, self.loading = True, False
            return None
        try:
            await self._fetch(report_id, open_it=True)
        except Exception:  # noqa: BLE001 - shown inline with Retry
            log.exception("Loading a report failed")
            self.error = LOAD_ERROR
        self.loading = False
        return rx.call_script(KEYS_JS)

    @rx.event(background=True)
    async def regenerate(self):
        """Rerun the report without the cache; the stage label and bar update every second."""
        async with self:
            if self.regenerating or self.report_id == 0:
                return
            user_id, report_id = self._user_id, self.report_id
            self.regenerating, self.regen_stage, self.regen_progress = True, "Waiting to start", 0
        try:
            regeneration_id = await asyncio.to_thread(request_regeneration, user_id, report_id)
        except ReportNotFound:
            async with self:
                self.regenerating, self.not_found = False, True
            yield toast_error(NOT_FOUND)
            return
        run = asyncio.create_task(asyncio.to_thread(run_regeneration, regeneration_id))
        while not run.done():
            await asyncio.wait({run}, timeout=POLL_S)
            view = await asyncio.to_thread(stage_view, user_id, regeneration_id)
            if view is not None:
                async with self:
                    self.regen_stage, self.regen_progress = view.label, view.progress
        try:
            run.result()
        except ReportError as exc:
            async with self:
                self.regenerating = False
            yield toast_error(str(exc))
            return
        except Exception:  # noqa: BLE001 - a toast; the old report is unchanged
            log.exception("Regenerating a report failed")
            async with self:
                self.regenerating = False
            yield toast_error("The report could not be regenerated. Please try again.")
            return
        async with self:
            self.regen_stage, self.regen_progress = "Done", 100
            await self._fetch(report_id, open_it=False)
            self.regenerating = False
        yield toast_success("Report regenerated")

    @rx.event
    async def retry_email(self):
        row = await asyncio.to_thread(retry_delivery, self.report_id, self._user_id)
        if row is None:
            return toast_info("This email is not failed any more.")
        await self._fetch(self.report_id, open_it=False)
        return toast_success("Email queued again")

    @rx.event
    async def delete(self):
        try:
            message = await asyncio.to_thread(delete_report, self._user_id, self.report_id)
        except ReportNotFound:
            self.not_found = True
            return toast_error(NOT_FOUND)
        self.unread_reports = await asyncio.to_thread(unread_count, self._user_id)
        return [toast_success(message), rx.redirect(routes.REPORTS)]


# Views ---------------------------------------------------------------------------------------------
def meta_item(label: str, value, **props) -> rx.Component:
    return rx.vstack(
        rx.text(label, size="1", color_scheme="gray"),
        rx.text(value, size="2", weight="medium"),
        spacing="0",
        min_width="8em",
        **props,
    )


def metadata() -> rx.Component:
    state = ReportDetailState
    return rx.card(
        rx.vstack(
            rx.grid(
                meta_item("Dates", state.date_range),
                rx.hover_card.root(
                    rx.hover_card.trigger(meta_item("Repositories", state.repos_label,
                                                    cursor="help", id="report-repos")),
                    rx.hover_card.content(rx.vstack(
                        rx.foreach(state.repos, lambda repo: rx.text(repo, size="2")),
                        spacing="1")),
                ),
                meta_item("Activity", state.events_label, id="report-events"),
                meta_item("Analyst", state.analyst, id="report-analyst"),
                meta_item("Cost", state.cost),
                meta_item("Latency", state.latency),
                meta_item("Prompt", state.prompt_version),
                meta_item("Generated", state.generated),
                columns=rx.breakpoints(initial="2", sm="3", md="4"),
                spacing="4",
                width="100%",
            ),
            rx.separator(size="4"),
            coverage_meter(state.coverage_percent, state.coverage_label, state.coverage_level),
            rx.cond(state.breakdown.length() > 0,
                    rx.hstack(rx.foreach(state.breakdown,
                                         lambda line: rx.text(line, size="1",
                                                              color_scheme="gray")),
                              spacing="4", wrap="wrap")),
            spacing="3",
            width="100%",
        ),
        width="100%",
        id="report-metadata",
    )


def regenerate_button(**props) -> rx.Component:
    busy = ReportDetailState.regenerating
    return rx.button(rx.icon("refresh-cw", size=16), rx.cond(busy, "Regenerating…", "Regenerate"),
                     loading=busy, disabled=busy, on_click=ReportDetailState.regenerate, **props)


def regenerate_progress() -> rx.Component:
    state = ReportDetailState
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.icon("loader-circle", size=16, class_name="spin"),
                rx.text(state.regen_stage, size="2", id="regenerate-stage"),
                rx.spacer(),
                rx.text(state.regen_progress.to_string() + "%", size="2", color_scheme="gray"),
                align="center",
                width="100%",
            ),
            rx.progress(value=state.regen_progress, max=100, width="100%"),
            spacing="2",
            width="100%",
        ),
        width="100%",
        id="regenerate-progress",
    )


def alerts() -> rx.Component:
    state = ReportDetailState
    return rx.vstack(
        rx.cond(
            state.stale,
            rx.callout.root(
                rx.hstack(
                    rx.callout.icon(rx.icon("clock-alert")),
                    rx.callout.text("New activity since generation: this report may be out "
                                    "of date."),
                    rx.spacer(),
                    regenerate_button(size="1", variant="soft", color_scheme="amber"),
                    align="center", width="100%", wrap="wrap",
                ),
                color_scheme="amber", width="100%", id="stale-banner",
            ),
        ),
        rx.cond(
            state.diagnostic_label != "",
            rx.callout.root(
                rx.callout.icon(rx.icon("stethoscope")),
                rx.callout.text(rx.text(state.diagnostic_label, weight="bold"), " ",
                                state.diagnostic_message),
                color_scheme="orange", width="100%", id="diagnostics",
            ),
        ),
        rx.cond(
            state.below_threshold,
            rx.callout.root(
                rx.hstack(
                    rx.callout.icon(rx.icon("shield-alert")),
                    rx.callout.text("Below trust threshold: this report cites less than 70% "
                                    "of the activity it covers."),
                    rx.spacer(),
                    rx.button("Sync now", size="1", variant="soft", color_scheme="red",
                              on_click=SyncStatusState.sync_all,
                              loading=SyncStatusState.requesting.contains("all")),
                    regenerate_button(size="1", variant="soft", color_scheme="red"),
                    align="center", width="100%", wrap="wrap",
                ),
                color_scheme="red", width="100%", id="trust-alert",
            ),
        ),
        rx.cond(state.partial,
                rx.callout("In progress: this report covers the day so far.", icon="hourglass",
                           color_scheme="blue", width="100%")),
        spacing="3",
        width="100%",
    )


def email_line() -> rx.Component:
    state = ReportDetailState
    return rx.cond(
        state.email_text != "",
        rx.card(
            rx.hstack(
                rx.icon("mail", size=16),
                rx.text(state.email_text, size="2"),
                rx.spacer(),
                rx.cond(state.email_can_retry,
                        rx.button("Retry", size="1", variant="soft", color_scheme="red",
                                  on_click=ReportDetailState.retry_email)),
                align="center",
                width="100%",
            ),
            width="100%",
            id="email-status",
        ),
    )


def delete_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.trigger(rx.button(rx.icon("trash-2", size=16), "Delete",
                                          variant="soft", color_scheme="red")),
        rx.alert_dialog.content(
            rx.alert_dialog.title("Delete this report?"),
            rx.alert_dialog.description(
                "It disappears from your reports; scheduled runs will not write it again."),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                rx.alert_dialog.action(rx.button("Delete", color_scheme="red",
                                                 on_click=ReportDetailState.delete)),
                justify="end",
                spacing="3",
                padding_top="1em",
            ),
        ),
    )


def toolbar() -> rx.Component:
    state = ReportDetailState
    return rx.hstack(
        rx.el.a(rx.button(rx.icon("download", size=16), "Download markdown", variant="outline"),
                href=state.download_url, id="download-markdown"),
        regenerate_button(variant="soft"),
        delete_dialog(),
        spacing="2",
        wrap="wrap",
    )


def navigation() -> rx.Component:
    state = ReportDetailState
    return rx.hstack(
        rx.link("← Back to Reports", href=routes.REPORTS, id="report-back", size="2"),
        rx.spacer(),
        rx.cond(state.older_url != "",
                rx.link("← Older", href=state.older_url, id="report-older", size="2")),
        rx.cond(state.newer_url != "",
                rx.link("Newer →", href=state.newer_url, id="report-newer", size="2")),
        spacing="4",
        align="center",
        width="100%",
    )


def report_body() -> rx.Component:
    state = ReportDetailState
    return rx.vstack(
        navigation(),
        rx.hstack(
            rx.badge(state.kind_label, variant="soft", size="2"),
            rx.text(state.date_label, color_scheme="gray", size="2"),
            align="center",
            spacing="2",
        ),
        rx.heading(state.title, as_="h1", size="8"),
        rx.text(state.description, color_scheme="gray"),
        toolbar(),
        rx.cond(state.regenerating, regenerate_progress()),
        alerts(),
        metadata(),
        rx.card(report_html(state.body_html, class_name="report-markdown"), width="100%",
                id="report-body"),
        sources_section(state.sources),
        email_line(),
        rx.text(KEY_HINT, size="1", color_scheme="gray", align="center", width="100%",
                id="key-hint"),
        spacing="4",
        width="100%",
    )


def not_found_view() -> rx.Component:
    return rx.vstack(
        rx.heading(NOT_FOUND, as_="h1", size="8"),
        rx.text("It does not exist, was deleted, or is not yours.", color_scheme="gray"),
        rx.link("← Back to Reports", href=routes.REPORTS),
        spacing="3",
    )


@page(routes.REPORT_DETAIL, "Report", load=ReportDetailState.load)
def report_detail_page() -> rx.Component:
    state = ReportDetailState
    return (
        rx.cond(
            state.not_found,
            not_found_view(),
            rx.cond(
                state.error != "",
                error_alert(state.error, ReportDetailState.load),
                rx.cond(state.loading,
                        rx.vstack(skeleton_block("3em"), skeleton_block("10em"),
                                  skeleton_block("20em"), spacing="4", width="100%"),
                        report_body()),
            ),
        )
    )
