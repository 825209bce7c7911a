"""`/timeline` — every fact you can see, newest first: keyset pages of 50 with infinite
scroll, filters (repository, person, types, local dates), a semantic search box whose ranked hits
show score bars ("Clear" returns), and "Export CSV" for the current range and repository."""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlencode

import reflex as rx

from gitpulse_app.core.config import get_settings
from gitpulse_app.experience import routes
from gitpulse_app.experience.components.empty import empty_state, error_alert, skeleton_rows
from gitpulse_app.experience.components.feedback import toast_error
from gitpulse_app.experience.state import SessionState
from gitpulse_app.experience.page import page
from gitpulse_app.intelligence.analytics import TYPE_LABELS
from gitpulse_app.intelligence.embeddings import SearchError
from gitpulse_app.experience.timeline.views import (
    ALL,
    PersonOption,
    TimelineItem,
    filter_options,
    parse_date,
    timeline_item,
)
from gitpulse_app.intelligence.timeline import (
    TimelineFilters,
    load_timeline_page,
    search_timeline,
    user_zone,
)

log = logging.getLogger(__name__)

LOAD_ERROR = "The timeline could not be loaded. Please try again."
SEARCH_ERROR = "Search failed. Please try again."
TYPE_ICONS = {
    "pr_opened": "git-pull-request",
    "pr_merged": "git-merge",
    "pr_closed": "git-pull-request-closed",
    "review_submitted": "message-square-check",
    "review_comment": "message-square-code",
    "issue_opened": "circle-dot",
    "issue_closed": "circle-check",
    "issue_comment": "message-circle",
    "commit": "git-commit-horizontal",
    "release": "tag",
}
# Clicks "Load more" when the end of the list scrolls into view (infinite scroll). The observer
# is attached once per sentinel element, which React re-creates after a navigation.
INFINITE_SCROLL_JS = """
(function attach(tries) {
  const sentinel = document.getElementById('timeline-sentinel');
  if (!sentinel) { if (tries > 0) setTimeout(() => attach(tries - 1), 100); return; }
  if (sentinel.dataset.observed) return;
  sentinel.dataset.observed = '1';
  new IntersectionObserver((entries) => {
    if (!entries.some((entry) => entry.isIntersecting)) return;
    const button = document.getElementById('timeline-load-more');
    if (button && !button.disabled) button.click();
  }, {rootMargin: '600px'}).observe(sentinel);
})(50);
"""


class TimelineState(SessionState):
    loading: bool = True
    loading_more: bool = False
    error: str = ""
    rows: list[TimelineItem] = []
    next_cursor: str = ""
    repo_filter: str = ALL
    person_filter: str = ALL
    type_filter: list[str] = []
    start_date: str = ""
    end_date: str = ""
    repo_options: list[str] = []
    people_options: list[PersonOption] = []
    search_text: str = ""
    search_query: str = ""
    searching: bool = False
    _zone: str | None = None

    @rx.var
    def search_active(self) -> bool:
        return self.search_query != ""

    @rx.var
    def export_url(self) -> str:
        params = {}
        if self.start_date:
            params["start"] = self.start_date
        if self.end_date:
            params["end"] = self.end_date
        if self.repo_filter != ALL:
            params["repo"] = self.repo_filter
        query = f"?{urlencode(params)}" if params else ""
        return f"{get_settings().api_url}{routes.API_TIMELINE_CSV}{query}"

    def _filters(self) -> TimelineFilters:
        return TimelineFilters(
            repo=None if self.repo_filter == ALL else self.repo_filter,
            actor_id=None if self.person_filter == ALL else int(self.person_filter),
            types=tuple(self.type_filter),
            start_date=parse_date(self.start_date),
            end_date=parse_date(self.end_date),
        )

    async def _first_page(self) -> None:
        self.error = ""
        try:
            page = await asyncio.to_thread(load_timeline_page, self._user_id, self._filters(),
                                           self._zone)
        except Exception:  # noqa: BLE001 - shown inline with Retry
            log.exception("Loading the timeline failed")
            self.error, self.loading = LOAD_ERROR, False
            return
        self.rows = [timeline_item(row, self._zone) for row in page.rows]
        self.next_cursor = page.next_cursor or ""
        self.loading = False

    @rx.event
    async def load(self):
        user_id = self._user_id
        self.loading, self.search_query, self.search_text = True, "", ""
        try:
            self._zone, options = await asyncio.gather(
                asyncio.to_thread(user_zone, user_id), asyncio.to_thread(filter_options, user_id))
        except Exception:  # noqa: BLE001 - shown inline with Retry
            log.exception("Loading the timeline filters failed")
            self.error, self.loading = LOAD_ERROR, False
            return None
        self.repo_options = options.repos
        self.people_options = [PersonOption(str(p.actor_id), p.label) for p in options.people]
        if self.repo_filter != ALL and self.repo_filter not in options.repos:
            self.repo_filter = ALL
        if self.person_filter != ALL and self.person_filter not in {
                option.value for option in self.people_options}:
            self.person_filter = ALL
        await self._first_page()
        return rx.call_script(INFINITE_SCROLL_JS)

    async def _refresh(self):
        """Re-run the current view (timeline or search) after a filter changed."""
        if self.search_query:
            return TimelineState.run_search
        self.loading = True
        await self._first_page()
        return rx.call_script(INFINITE_SCROLL_JS)

    @rx.event
    async def load_more(self):
        if not self.next_cursor or self.loading_more or self.search_query:
            return
        self.loading_more = True
        yield
        try:
            page = await asyncio.to_thread(load_timeline_page, self._user_id, self._filters(),
                                           self._zone, self.next_cursor)
        except Exception:  # noqa: BLE001 - a toast; the rows so far stay
            log.exception("Loading more of the timeline failed")
            self.loading_more = False
            yield toast_error(LOAD_ERROR)
            return
        self.rows = [*self.rows, *(timeline_item(row, self._zone) for row in page.rows)]
        self.next_cursor = page.next_cursor or ""
        self.loading_more = False

    @rx.event
    async def set_repo_filter(self, value: str):
        self.repo_filter = value
        return await self._refresh()

    @rx.event
    async def set_person_filter(self, value: str):
        self.person_filter = value
        return await self._refresh()

    @rx.event
    async def toggle_type(self, fact_type: str):
        chosen = set(self.type_filter)
        chosen.symmetric_difference_update({fact_type})
        self.type_filter = [t for t in TYPE_LABELS if t in chosen]
        return await self._refresh()

    @rx.event
    async def set_start_date(self, value: str):
        self.start_date = value
        return await self._refresh()

    @rx.event
    async def set_end_date(self, value: str):
        self.end_date = value
        return await self._refresh()

    @rx.event
    async def clear_filters(self):
        self.repo_filter, self.person_filter, self.type_filter = ALL, ALL, []
        self.start_date, self.end_date = "", ""
        return await self._refresh()

    @rx.event
    def set_search_text(self, value: str):
        self.search_text = value

    @rx.event
    def submit_search(self, _form: dict | None = None):
        text = self.search_text.strip()
        if not text:
            return TimelineState.clear_search
        self.search_query = text
        return TimelineState.run_search

    @rx.event(background=True, supersedes=True)
    async def run_search(self):
        async with self:
            self.searching, self.error = True, ""
            user_id, query, zone = self._user_id, self.search_query, self._zone
            filters = self._filters()
            person = next((p.label for p in self.people_options
                           if p.value == self.person_filter), None)
        try:
            hits = await asyncio.to_thread(search_timeline, user_id, query, filters, zone, person)
        except SearchError as exc:
            async with self:
                self.searching = False
            yield toast_error(str(exc))
            return
        except Exception:  # noqa: BLE001 - a toast; the list stays
            log.exception("Timeline search failed")
            async with self:
                self.searching = False
            yield toast_error(SEARCH_ERROR)
            return
        async with self:
            self.rows = [timeline_item(hit.row, zone, hit.score) for hit in hits]
            self.next_cursor = ""
            self.searching, self.loading = False, False

    @rx.event
    async def clear_search(self):
        self.search_text, self.search_query = "", ""
        self.loading = True
        await self._first_page()
        return rx.call_script(INFINITE_SCROLL_JS)


# Views ---------------------------------------------------------------------------------------------
def type_icon(fact_type) -> rx.Component:
    return rx.match(
        fact_type,
        *[(key, rx.icon(icon, size=18)) for key, icon in TYPE_ICONS.items()],
        rx.icon("activity", size=18),
    )


def timeline_row(item: TimelineItem) -> rx.Component:
    state = TimelineState
    return rx.hstack(
        rx.box(type_icon(item.type), color=rx.color("accent", 10), padding_top="2px"),
        rx.vstack(
            rx.hstack(
                rx.text(item.when, size="1", color_scheme="gray"),
                rx.badge(item.type_label, size="1", variant="soft"),
                rx.text(item.repo, size="1", weight="medium"),
                rx.text("@" + item.actor, size="1", color_scheme="gray"),
                spacing="2",
                align="center",
                wrap="wrap",
            ),
            rx.link(item.text, href=item.url, is_external=True, size="2", color="inherit",
                    class_name="fact-text"),
            rx.cond(
                state.search_active,
                rx.hstack(
                    rx.box(rx.box(width=item.score_percent.to_string() + "%", height="100%",
                                  background=rx.color("accent", 9), border_radius="3px"),
                           width="8em", height="0.4em", background=rx.color("gray", 4),
                           border_radius="3px"),
                    rx.text(item.score, size="1", color_scheme="gray"),
                    align="center",
                    class_name="score",
                ),
            ),
            spacing="1",
            width="100%",
            min_width="0",
        ),
        align="start",
        spacing="3",
        width="100%",
        padding_y="0.6em",
        border_bottom=f"1px solid {rx.color('gray', 4)}",
        class_name="timeline-row",
    )


def type_chip(fact_type: str, label: str) -> rx.Component:
    selected = TimelineState.type_filter.contains(fact_type)
    return rx.badge(
        label,
        variant=rx.cond(selected, "solid", "outline"),
        color_scheme=rx.cond(selected, "indigo", "gray"),
        cursor="pointer",
        on_click=TimelineState.toggle_type(fact_type),
        role="checkbox",
        aria_checked=rx.cond(selected, "true", "false"),
        class_name="type-chip",
    )


def filters() -> rx.Component:
    state = TimelineState
    return rx.vstack(
        rx.hstack(
            rx.select.root(
                rx.select.trigger(placeholder="Repository", aria_label="Repository"),
                rx.select.content(
                    rx.select.item("All repositories", value=ALL),
                    rx.foreach(state.repo_options, lambda repo: rx.select.item(repo, value=repo)),
                ),
                value=state.repo_filter,
                on_change=TimelineState.set_repo_filter,
            ),
            rx.select.root(
                rx.select.trigger(placeholder="Person", aria_label="Person"),
                rx.select.content(
                    rx.select.item("Everyone", value=ALL),
                    rx.foreach(state.people_options,
                               lambda person: rx.select.item(person.label, value=person.value)),
                ),
                value=state.person_filter,
                on_change=TimelineState.set_person_filter,
            ),
            rx.hstack(
                rx.input(type="date", value=state.start_date, aria_label="From",
                         on_change=TimelineState.set_start_date, id="timeline-start"),
                rx.text("–", color_scheme="gray"),
                rx.input(type="date", value=state.end_date, aria_label="To",
                         on_change=TimelineState.set_end_date, id="timeline-end"),
                align="center",
                spacing="2",
            ),
            rx.button("Reset", variant="ghost", size="2", on_click=TimelineState.clear_filters),
            spacing="3",
            wrap="wrap",
            align="center",
        ),
        rx.hstack(*[type_chip(key, label) for key, label in TYPE_LABELS.items()],
                  spacing="2", wrap="wrap"),
        spacing="3",
        width="100%",
    )


def search_box() -> rx.Component:
    state = TimelineState
    return rx.form(
        rx.hstack(
            rx.input(
                rx.input.slot(rx.icon("search", size=16)),
                placeholder="Search your activity, e.g. \"auth bug\"",
                value=state.search_text,
                on_change=TimelineState.set_search_text,
                name="query",
                id="timeline-search",
                width="100%",
            ),
            rx.button(rx.cond(state.searching, "Searching…", "Search"), type="submit",
                      loading=state.searching),
            rx.cond(state.search_active,
                    rx.button("Clear", variant="soft", color_scheme="gray", type="button",
                              on_click=TimelineState.clear_search)),
            width="100%",
            spacing="2",
        ),
        on_submit=TimelineState.submit_search,
        reset_on_submit=False,
        width="100%",
    )


def timeline_list() -> rx.Component:
    state = TimelineState
    return rx.cond(
        state.rows.length() > 0,
        rx.vstack(
            rx.cond(state.search_active,
                    rx.text("Best matches for “", state.search_query, "”", size="2",
                            color_scheme="gray")),
            rx.foreach(state.rows, timeline_row),
            rx.box(id="timeline-sentinel", height="1px", width="100%"),
            rx.cond(
                state.next_cursor != "",
                rx.center(rx.button(rx.cond(state.loading_more, "Loading…", "Load more"),
                                    variant="soft", loading=state.loading_more,
                                    disabled=state.loading_more, id="timeline-load-more",
                                    on_click=TimelineState.load_more),
                          width="100%", padding_top="1em"),
            ),
            spacing="0",
            width="100%",
            id="timeline-list",
        ),
        rx.cond(state.search_active,
                empty_state("search-x", "No matching activity",
                            "Try other words, or clear the search."),
                empty_state("calendar-x", "No activity in this range")),
    )


@page(routes.TIMELINE, "Timeline", load=TimelineState.load)
def timeline() -> rx.Component:
    state = TimelineState
    return (
        rx.vstack(
            rx.hstack(
                rx.heading("Timeline", as_="h1", size="8"),
                rx.spacer(),
                rx.link(rx.button(rx.icon("sparkles", size=16), "Ask", variant="soft"),
                        href=routes.ASK, id="ask-link"),
                rx.link(rx.button(rx.icon("download", size=16), "Export CSV", variant="outline"),
                        href=state.export_url, is_external=True, id="export-csv"),
                align="center",
                width="100%",
            ),
            search_box(),
            filters(),
            rx.cond(
                state.error != "",
                error_alert(state.error, TimelineState.load),
                rx.cond(state.loading | state.searching, skeleton_rows(8), timeline_list()),
            ),
            spacing="4",
            width="100%",
        )
    )
