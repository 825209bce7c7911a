"""`/reports` — your reports, newest first: 20 cards at a time with infinite scroll, a kind
filter, Delete with confirmation, "Generate report" (the modal), "Backfill 7 Days" and "Sync now"."""

from __future__ import annotations

import asyncio
import logging

import reflex as rx

from gitpulse_app.experience import routes
from gitpulse_app.experience.components.empty import (
    empty_state,
    error_alert,
    skeleton_rows,
)
from gitpulse_app.experience.components.feedback import toast_error, toast_info, toast_success
from gitpulse_app.experience.components.report_card import report_card
from gitpulse_app.experience.page import page
from gitpulse_app.experience.reports.page_generate import generate_modal
from gitpulse_app.experience.reports.service import sync_then_backfill
from gitpulse_app.experience.reports.views import (
    KIND_FILTERS,
    ReportCardView,
    backfill_message,
    list_reports,
)
from gitpulse_app.experience.sources.banner import SyncStatusState, progress_card
from gitpulse_app.experience.state import SessionState
from gitpulse_app.intelligence.delivery import unread_count
from gitpulse_app.intelligence.reports.models import ReportNotFound
from gitpulse_app.intelligence.reports.service import delete_report

log = logging.getLogger(__name__)

LOAD_ERROR = "Your reports could not be loaded. Please try again."
EMPTY_TEXT = "Reports are generated automatically at midnight your local time."
FILTER_LABELS = {"all": "All", "daily": "Daily", "weekly": "Weekly", "custom": "Custom"}
# Clicks "Load more" when the end of the list scrolls into view (infinite scroll).
INFINITE_SCROLL_JS = """
(function attach(tries) {
  const sentinel = document.getElementById('reports-sentinel');
  if (!sentinel) { if (tries > 0) setTimeout(() => attach(tries - 1), 100); return; }
  if (sentinel.dataset.observed) return;
  sentinel.dataset.observed = '1';
  new IntersectionObserver((entries) => {
    if (!entries.some((entry) => entry.isIntersecting)) return;
    const button = document.getElementById('reports-load-more');
    if (button && !button.disabled) button.click();
  }, {rootMargin: '600px'}).observe(sentinel);
})(50);
"""


class ReportsState(SessionState):
    loading: bool = True
    loading_more: bool = False
    error: str = ""
    cards: list[ReportCardView] = []
    next_cursor: str = ""
    kind_filter: str = "all"
    backfilling: bool = False

    async def _first_page(self) -> None:
        self.error = ""
        try:
            page = await asyncio.to_thread(list_reports, self._user_id, self.kind_filter)
        except Exception:  # noqa: BLE001 - shown inline with Retry
            log.exception("Loading reports failed")
            self.error, self.loading = LOAD_ERROR, False
            return
        self.cards = page.cards
        self.next_cursor = page.next_cursor or ""
        self.loading = False

    @rx.event
    async def load(self):
        self.loading = True
        await self._first_page()
        return rx.call_script(INFINITE_SCROLL_JS)

    @rx.event
    async def set_kind_filter(self, value: str | list[str]):
        if not isinstance(value, str) or value not in KIND_FILTERS:
            return None
        self.kind_filter, self.loading = value, True
        await self._first_page()
        return rx.call_script(INFINITE_SCROLL_JS)

    @rx.event
    async def load_more(self):
        if not self.next_cursor or self.loading_more:
            return
        self.loading_more = True
        yield
        try:
            page = await asyncio.to_thread(list_reports, self._user_id, self.kind_filter,
                                           self.next_cursor)
        except Exception:  # noqa: BLE001 - a toast; the cards so far stay
            log.exception("Loading more reports failed")
            self.loading_more = False
            yield toast_error(LOAD_ERROR)
            return
        known = {card.report_id for card in self.cards}
        self.cards = [*self.cards, *(card for card in page.cards if card.report_id not in known)]
        self.next_cursor = page.next_cursor or ""
        self.loading_more = False

    @rx.event
    async def delete(self, report_id: int):
        user_id = self._user_id
        try:
            message = await asyncio.to_thread(delete_report, user_id, report_id)
        except ReportNotFound:
            return toast_error("Report not found")
        self.cards = [card for card in self.cards if card.report_id != report_id]
        self.unread_reports = await asyncio.to_thread(unread_count, user_id)
        return toast_success(message)

    @rx.event(background=True)
    async def backfill(self):
        """Generate the missing daily reports of the last 7 days, after a sync."""
        async with self:
            if self.backfilling:
                return
            user_id = self._user_id
            self.backfilling = True
        try:
            result = await asyncio.to_thread(sync_then_backfill, user_id)
        except Exception:  # noqa: BLE001 - a toast
            log.exception("Backfill failed")
            async with self:
                self.backfilling = False
            yield toast_error("Backfill failed. Please try again.")
            return
        ok, message = backfill_message(result)
        async with self:
            self.backfilling = False
            self.loading = True
            await self._first_page()
            self.unread_reports = await asyncio.to_thread(unread_count, user_id)
        yield toast_success(message) if ok else toast_info(message)


# Views ---------------------------------------------------------------------------------------------
def actions() -> rx.Component:
    state = ReportsState
    syncing = SyncStatusState.requesting.contains("all")
    return rx.hstack(
        generate_modal(),
        rx.button(rx.icon("history", size=16),
                  rx.cond(state.backfilling, "Backfilling…", "Backfill 7 Days"),
                  variant="soft", loading=state.backfilling, disabled=state.backfilling,
                  on_click=ReportsState.backfill, id="backfill"),
        rx.button(rx.icon("refresh-cw", size=16), rx.cond(syncing, "Syncing…", "Sync now"),
                  variant="soft", loading=syncing, disabled=syncing,
                  on_click=SyncStatusState.sync_all, id="sync-now"),
        spacing="2",
        wrap="wrap",
    )


def kind_filter() -> rx.Component:
    return rx.segmented_control.root(
        *[rx.segmented_control.item(label, value=key) for key, label in FILTER_LABELS.items()],
        value=ReportsState.kind_filter,
        on_change=ReportsState.set_kind_filter,
        id="kind-filter",
    )


def empty_reports() -> rx.Component:
    state = ReportsState
    banner = SyncStatusState
    return rx.card(
        rx.cond(
            banner.warning_kind == "missing_installation",
            empty_state("inbox", "No reports yet", banner.warning,
                        rx.link(rx.button("Connect a source", variant="soft"),
                                href=routes.REPOS)),
            rx.cond(
                state.kind_filter == "all",
                empty_state("inbox", "No reports yet", EMPTY_TEXT),
                empty_state("filter-x", "No reports of this kind"),
            ),
        ),
        width="100%",
    )


def report_list() -> rx.Component:
    state = ReportsState
    return rx.cond(
        state.cards.length() > 0,
        rx.vstack(
            rx.foreach(state.cards, lambda card: report_card(card, ReportsState.delete)),
            rx.box(id="reports-sentinel", height="1px", width="100%"),
            rx.cond(
                state.next_cursor != "",
                rx.center(rx.button(rx.cond(state.loading_more, "Loading…", "Load more"),
                                    variant="soft", loading=state.loading_more,
                                    disabled=state.loading_more, id="reports-load-more",
                                    on_click=ReportsState.load_more),
                          width="100%", padding_top="1em"),
            ),
            spacing="3",
            width="100%",
            id="report-list",
        ),
        empty_reports(),
    )


# The banner's status first (the empty list says what is missing), then the list; the banner
# state sits beside this one.
LOADS = [SyncStatusState.refresh_status, ReportsState.load]


@page(routes.REPORTS, "Reports", load=LOADS)
def reports() -> rx.Component:
    state = ReportsState
    return (
        rx.vstack(
            rx.hstack(
                rx.heading("Reports", as_="h1", size="8"),
                rx.spacer(),
                actions(),
                align="center",
                width="100%",
                wrap="wrap",
                spacing="3",
            ),
            rx.foreach(SyncStatusState.active_cards, progress_card),
            kind_filter(),
            rx.cond(
                state.error != "",
                error_alert(state.error, LOADS),
                rx.cond(state.loading, skeleton_rows(6), report_list()),
            ),
            spacing="4",
            width="100%",
        )
    )
