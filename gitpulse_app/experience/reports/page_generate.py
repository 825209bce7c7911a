"""The "Generate report" modal of /reports: kind, local dates,
just me / people / one repository, an optional focus query, and the run's live stage progress.

The run is a background event: it queues the `report_regenerations` row, runs the pipeline in a
thread and reads the row every second, so the stage label and bar move while the report is written.
It ends on the new report's page.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

import reflex as rx

from gitpulse_app.experience import routes
from gitpulse_app.experience.components.feedback import toast_error
from gitpulse_app.experience.reports.service import (
    GenerateInputError,
    GenerateRequest,
    prepare_generation,
    run_generation,
)
from gitpulse_app.experience.reports.views_detail import generate_options, stage_view
from gitpulse_app.experience.state import SessionState
from gitpulse_app.intelligence.reports.models import ReportError

log = logging.getLogger(__name__)

POLL_S = 1.0
FAILED = "The report could not be generated. Please try again."
SCOPES = {"me": "Just me", "people": "People", "repo": "A repository"}


class GenerateState(SessionState):
    open: bool = False
    kind: str = "daily"
    start_date: str = ""
    end_date: str = ""
    scope: str = "me"
    logins: str = ""
    repo: str = ""
    query: str = ""
    error: str = ""
    generating: bool = False
    stage: str = ""
    progress: int = 0
    repo_options: list[str] = []
    people_options: list[str] = []

    @rx.event
    async def open_modal(self):
        if self._user_id is None:
            await self._resolve()
        if self._user_id is None:
            return None
        options = await asyncio.to_thread(generate_options, self._user_id)
        self.repo_options, self.people_options = options.repos, options.people
        self.start_date, self.end_date = options.first_day, options.last_day
        self.kind, self.scope, self.logins, self.repo, self.query = "daily", "me", "", "", ""
        self.error, self.stage, self.progress = "", "", 0
        self.open = True
        return None

    @rx.event
    def set_open(self, value: bool):
        if not self.generating:
            self.open = value

    @rx.event
    def set_kind(self, value: str | list[str]):
        if value not in ("daily", "weekly"):
            return
        self.kind = value
        if value == "weekly" and self.end_date:
            try:
                end = dt.date.fromisoformat(self.end_date)
            except ValueError:
                return
            self.start_date = (end - dt.timedelta(days=6)).isoformat()

    @rx.event
    def set_start_date(self, value: str):
        self.start_date = value

    @rx.event
    def set_end_date(self, value: str):
        self.end_date = value

    @rx.event
    def set_scope(self, value: str):
        self.scope = value
        if value == "repo" and not self.repo and self.repo_options:
            self.repo = self.repo_options[0]

    @rx.event
    def set_logins(self, value: str):
        self.logins = value

    @rx.event
    def set_repo(self, value: str):
        self.repo = value

    @rx.event
    def set_query(self, value: str):
        self.query = value

    @rx.event(background=True)
    async def generate(self):
        async with self:
            if self.generating:
                return
            user_id = self._user_id
            request = GenerateRequest(self.kind, self.start_date, self.end_date, self.scope,
                                      self.logins, self.repo, self.query)
            self.generating, self.error = True, ""
            self.stage, self.progress = "Waiting to start", 0
        if user_id is None:
            async with self:
                self.generating = False
            return
        try:
            prepared = await asyncio.to_thread(prepare_generation, user_id, request)
        except GenerateInputError as exc:
            async with self:
                self.generating, self.error, self.stage = False, str(exc), ""
            return
        run = asyncio.create_task(asyncio.to_thread(run_generation, user_id, prepared))
        while not run.done():
            await asyncio.wait({run}, timeout=POLL_S)
            view = await asyncio.to_thread(stage_view, user_id, prepared.regeneration_id)
            if view is not None:
                async with self:
                    self.stage, self.progress = view.label, view.progress
        try:
            report_id = run.result()
        except ReportError as exc:
            async with self:
                self.generating, self.error = False, str(exc)
            yield toast_error(str(exc))
            return
        except Exception:  # noqa: BLE001 - a toast; the row records the failed stage
            log.exception("Generating a report failed")
            async with self:
                self.generating, self.error = False, FAILED
            yield toast_error(FAILED)
            return
        async with self:
            self.stage, self.progress = "Done", 100
            self.generating, self.open = False, False
        yield rx.redirect(routes.report_url(report_id))


# Views ---------------------------------------------------------------------------------------------
def field(label: str, control: rx.Component, html_for: str = "") -> rx.Component:
    return rx.vstack(
        rx.text(label, size="2", weight="medium", as_="label", html_for=html_for),
        control,
        spacing="1",
        width="100%",
    )


def stage_progress() -> rx.Component:
    state = GenerateState
    return rx.vstack(
        rx.hstack(
            rx.icon("loader-circle", size=16, class_name="spin"),
            rx.text(state.stage, size="2", id="generate-stage"),
            rx.spacer(),
            rx.text(state.progress.to_string() + "%", size="2", color_scheme="gray"),
            align="center",
            width="100%",
        ),
        rx.progress(value=state.progress, max=100, width="100%"),
        spacing="2",
        width="100%",
        id="generate-progress",
    )


def scope_fields() -> rx.Component:
    state = GenerateState
    return rx.vstack(
        field("Whose work", rx.radio_group.root(
            rx.hstack(
                *[rx.text(rx.hstack(rx.radio_group.item(value=key), label, spacing="2",
                                    align="center"), as_="label", size="2")
                  for key, label in SCOPES.items()],
                spacing="4",
                wrap="wrap",
            ),
            value=state.scope,
            on_change=GenerateState.set_scope,
            id="generate-scope",
        )),
        rx.cond(
            state.scope == "people",
            field("GitHub logins", rx.vstack(
                rx.input(value=state.logins, on_change=GenerateState.set_logins,
                         placeholder="alice, bob", list="generate-people", id="generate-logins",
                         width="100%"),
                rx.el.datalist(rx.foreach(state.people_options,
                                          lambda login: rx.el.option(value=login)),
                               id="generate-people"),
                width="100%",
            ), "generate-logins"),
        ),
        rx.cond(
            state.scope == "repo",
            field("Repository", rx.select(state.repo_options, value=state.repo,
                                          on_change=GenerateState.set_repo,
                                          placeholder="Choose a repository",
                                          id="generate-repo")),
        ),
        spacing="3",
        width="100%",
    )


def generate_modal() -> rx.Component:
    state = GenerateState
    busy = state.generating
    return rx.dialog.root(
        rx.dialog.trigger(rx.button(rx.icon("sparkles", size=16), "Generate report",
                                    on_click=GenerateState.open_modal, id="open-generate")),
        rx.dialog.content(
            rx.dialog.title("Generate a report"),
            rx.dialog.description(
                "Write a cited report for any dates, for you, for people or for a repository.",
                size="2"),
            rx.vstack(
                field("Kind", rx.segmented_control.root(
                    rx.segmented_control.item("Daily", value="daily"),
                    rx.segmented_control.item("Weekly", value="weekly"),
                    value=state.kind, on_change=GenerateState.set_kind, id="generate-kind")),
                rx.hstack(
                    field("From", rx.input(type="date", value=state.start_date,
                                           on_change=GenerateState.set_start_date,
                                           id="generate-start"), "generate-start"),
                    field("To", rx.input(type="date", value=state.end_date,
                                         on_change=GenerateState.set_end_date,
                                         id="generate-end"), "generate-end"),
                    spacing="3",
                    width="100%",
                ),
                scope_fields(),
                field("Focus (optional)", rx.input(
                    value=state.query, on_change=GenerateState.set_query, id="generate-query",
                    placeholder="e.g. authentication, performance", width="100%"),
                    "generate-query"),
                rx.cond(state.error != "",
                        rx.callout(state.error, icon="triangle-alert", color_scheme="red",
                                   size="1", width="100%", id="generate-error")),
                rx.cond(busy, stage_progress()),
                rx.hstack(
                    rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray",
                                              disabled=busy)),
                    rx.button(rx.cond(busy, "Generating…", "Generate"), loading=busy,
                              disabled=busy, on_click=GenerateState.generate,
                              id="generate-submit"),
                    justify="end",
                    width="100%",
                ),
                spacing="4",
                padding_top="1em",
                width="100%",
            ),
            max_width="32em",
        ),
        open=state.open,
        on_open_change=GenerateState.set_open,
    )
