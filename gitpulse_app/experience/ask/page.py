"""`/ask` — a question over the user's visible facts, answered with citations (docs/API.md "Ask").

The answer streams in: first the sources the question retrieved, then the answer's bullets one by
one as they are validated. Every bullet links the facts it rests on; the sources list below them
numbers the cited facts. Model and GitHub text is rendered as markdown with raw HTML off.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import reflex as rx

from gitpulse_app.experience import routes
from gitpulse_app.experience.components.feedback import toast_error
from gitpulse_app.experience.components.rich_text import report_html
from gitpulse_app.experience.page import page
from gitpulse_app.experience.state import SessionState
from gitpulse_app.intelligence.ask import AskError, answer, retrieve
from gitpulse_app.intelligence.formatting import format_short_date
from gitpulse_app.intelligence.reports.render import render_html

log = logging.getLogger(__name__)

SEARCHING = "Searching your activity…"
WRITING = "Writing a cited answer…"
FAILED = "The question could not be answered. Please try again."
EXAMPLES = ("What did I ship last month?", "What happened on the auth refactor?")


@dataclass
class AskSourceRow:
    number: int = 0
    url: str = ""
    repo: str = ""
    label: str = ""
    when: str = ""


class AskState(SessionState):
    question: str = ""
    asking: bool = False
    status: str = ""
    bullets: list[str] = []
    sources: list[AskSourceRow] = []
    provider: str = ""
    asked: bool = False

    @rx.event
    def set_question(self, value: str):
        self.question = value

    @rx.event
    def use_example(self, value: str):
        self.question = value
        return AskState.ask

    @rx.event(background=True)
    async def ask(self):
        async with self:
            if self.asking or not self.question.strip():
                return
            user_id, question = self._user_id, self.question
            self.asking, self.asked, self.status = True, True, SEARCHING
            self.bullets, self.sources, self.provider = [], [], ""
        if user_id is None:
            return
        try:
            retrieval = await asyncio.to_thread(retrieve, user_id, question)
            async with self:
                self.sources = [AskSourceRow(n, f.source_url, f.repo, f.canonical_text[:160],
                                             format_short_date(f.ts, retrieval.zone))
                                for n, f in enumerate(retrieval.facts, start=1)]
                self.status = WRITING
            result = await asyncio.to_thread(answer, retrieval)
        except AskError as exc:
            async with self:
                self.asking, self.status = False, ""
            yield toast_error(str(exc))
            return
        except Exception:  # noqa: BLE001 — a toast without internals
            log.exception("Ask failed")
            async with self:
                self.asking, self.status = False, ""
            yield toast_error(FAILED)
            return
        cited = {source.url: source for source in result.sources}
        async with self:
            self.sources = [AskSourceRow(s.number, s.url, s.repo, s.text[:160],
                                         next((row.when for row in self.sources
                                               if row.url == s.url), ""))
                            for s in cited.values()]
            self.provider = result.provider
        for bullet in result.bullets or [result.markdown]:
            # The page shows sanitised HTML with links only to the answer's citations.
            shown = render_html(bullet if bullet.startswith("- ") else f"- {bullet}",
                                result.citations)
            async with self:  # each bullet reaches the page as soon as it is set
                self.bullets = [*self.bullets, shown]
        async with self:
            self.asking, self.status = False, ""


def _source(row: AskSourceRow) -> rx.Component:
    return rx.hstack(
        rx.badge(row.number, variant="soft"),
        rx.vstack(
            rx.link(row.label, href=row.url, is_external=True, size="2"),
            rx.text(row.repo, " · ", row.when, size="1", color_scheme="gray"),
            spacing="0",
        ),
        align="start",
        spacing="2",
        class_name="ask-source",
    )


def ask_box() -> rx.Component:
    """The question box and the streamed, cited answer."""
    state = AskState
    return rx.vstack(
        rx.form(
            rx.hstack(
                rx.input(placeholder="Ask about your team's work, e.g. “What did I ship last "
                                     "month?”", value=state.question,
                         on_change=AskState.set_question, name="question", id="ask-input",
                         max_length=1000, width="100%", size="3"),
                rx.button(rx.icon("sparkles", size=16), "Ask", type="submit", size="3",
                          loading=state.asking, disabled=state.asking, id="ask-submit"),
                width="100%",
            ),
            on_submit=lambda _form: AskState.ask,
            reset_on_submit=False,
            width="100%",
        ),
        rx.cond(~state.asked, rx.hstack(
            *[rx.button(example, variant="soft", size="1", color_scheme="gray",
                        on_click=AskState.use_example(example)) for example in EXAMPLES],
            wrap="wrap")),
        rx.cond(state.status != "", rx.text(state.status, size="2", color_scheme="gray",
                                            id="ask-status")),
        rx.cond(state.bullets.length() > 0, rx.card(
            rx.vstack(
                rx.foreach(state.bullets, lambda bullet: report_html(bullet)),
                rx.cond(state.provider == "local",
                        rx.text("Answered from the most relevant facts (no model configured "
                                "or it was unavailable).", size="1", color_scheme="gray")),
                spacing="1",
                id="ask-answer",
            ),
            width="100%",
        )),
        rx.cond(state.sources.length() > 0, rx.vstack(
            rx.heading("Sources (", state.sources.length(), ")", as_="h2", size="3"),
            rx.foreach(state.sources, _source),
            spacing="2",
            id="ask-sources",
        )),
        spacing="3",
        width="100%",
    )


@page(routes.ASK, "Ask")
def ask_page() -> rx.Component:
    return rx.vstack(rx.heading("Ask", as_="h1", size="8"), ask_box(), spacing="4",
                     width="100%", max_width="48em")
