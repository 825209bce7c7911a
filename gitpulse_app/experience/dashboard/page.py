"""`/dashboard` — your week at a glance: the sync banner, KPI cards this week vs the
same time last week, a 14-day stacked activity chart, yesterday's TL;DR and the latest reports."""

from __future__ import annotations

import asyncio
import logging

import reflex as rx

from gitpulse_app.core.clock import utcnow
from gitpulse_app.experience import routes
from gitpulse_app.experience.components.charts import stacked_activity_chart
from gitpulse_app.experience.components.empty import (
    empty_state,
    error_alert,
    skeleton_block,
    skeleton_grid,
)
from gitpulse_app.experience.components.kpi import KpiCard, kpi_cards, kpi_grid
from gitpulse_app.experience.components.rich_text import report_html
from gitpulse_app.experience.dashboard.views import (
    ReportItem,
    activity_total,
    bullets_html,
    report_item,
)
from gitpulse_app.experience.page import page
from gitpulse_app.experience.sources.banner import SyncStatusState, sync_banner
from gitpulse_app.experience.state import SessionState
from gitpulse_app.intelligence.analytics import DASHBOARD_KPIS, dashboard_data

log = logging.getLogger(__name__)

TLDR_BULLETS = 3
LOAD_ERROR = "The dashboard could not be loaded. Please try again."


class DashboardState(SessionState):
    loading: bool = True
    error: str = ""
    kpis: list[KpiCard] = []
    activity: list[dict[str, int | str]] = []
    activity_total: int = 0
    week_label: str = ""
    tldr_title: str = ""
    tldr_section: str = ""
    tldr_url: str = ""
    tldr_bullets: list[str] = []
    tldr_short_html: str = ""
    tldr_full_html: str = ""
    tldr_expanded: bool = False
    reports: list[ReportItem] = []

    @rx.var
    def tldr_html(self) -> str:
        return self.tldr_full_html if self.tldr_expanded else self.tldr_short_html

    @rx.var
    def tldr_more(self) -> bool:
        return len(self.tldr_bullets) > TLDR_BULLETS

    @rx.event
    async def load(self):
        self.error = ""
        user_id = self._user_id
        try:
            data = await asyncio.to_thread(dashboard_data, user_id, utcnow())
        except Exception:  # noqa: BLE001 - shown inline with Retry
            log.exception("Loading the dashboard failed")
            self.error, self.loading = LOAD_ERROR, False
            return None
        if data is None:
            return rx.redirect(routes.signed_out_redirect(routes.DASHBOARD))
        self.kpis = kpi_cards(data.kpis)
        self.activity = data.activity
        self.activity_total = activity_total(data.activity)
        self.week_label = data.week_label
        tldr = data.tldr
        self.tldr_title = tldr.title if tldr else ""
        self.tldr_section = tldr.section_title if tldr else ""
        self.tldr_url = routes.report_url(tldr.report_id) if tldr else ""
        self.tldr_bullets = tldr.bullets if tldr else []
        # The same sanitised rendering as the report page: only the report's citations link.
        self.tldr_short_html, self.tldr_full_html = (
            (bullets_html(tldr.bullets[:TLDR_BULLETS], tldr.citations),
             bullets_html(tldr.bullets, tldr.citations)) if tldr else ("", ""))
        self.tldr_expanded = False
        self.reports = [report_item(card) for card in data.reports]
        self.loading = False
        return None

    @rx.event
    def toggle_tldr(self):
        self.tldr_expanded = not self.tldr_expanded


def _section(title: str, *children: rx.Component, **props) -> rx.Component:
    return rx.card(
        rx.vstack(rx.heading(title, as_="h2", size="4"), *children, spacing="3", width="100%"),
        width="100%",
        **props,
    )


def tldr_card() -> rx.Component:
    state = DashboardState
    return _section(
        "Yesterday TL;DR",
        rx.cond(
            state.tldr_bullets.length() > 0,
            rx.vstack(
                rx.link(state.tldr_title, href=state.tldr_url, weight="medium", size="2"),
                rx.text(state.tldr_section, size="1", color_scheme="gray"),
                report_html(state.tldr_html, class_name="tldr-bullets"),
                rx.cond(state.tldr_more, rx.button(
                    rx.cond(state.tldr_expanded, "Collapse", "Expand"),
                    variant="ghost", size="1", on_click=DashboardState.toggle_tldr)),
                spacing="2",
                width="100%",
            ),
            empty_state("file-text", "No daily reports yet",
                        "Reports are generated automatically at midnight your local time."),
        ),
        id="tldr",
    )


def report_row(item: ReportItem) -> rx.Component:
    return rx.link(
        rx.hstack(
            rx.badge(item.kind, variant="soft"),
            rx.vstack(
                rx.text(item.title, weight="medium", size="2"),
                rx.text(item.date, size="1", color_scheme="gray"),
                spacing="0",
            ),
            rx.spacer(),
            rx.text(item.citations, size="1", color_scheme="gray"),
            rx.cond(item.unread, rx.box(width="0.5em", height="0.5em", border_radius="50%",
                                        background=rx.color("accent", 9), title="Unread")),
            align="center",
            width="100%",
            spacing="3",
        ),
        href=item.url,
        underline="none",
        color="inherit",
        width="100%",
        class_name="report-row",
        custom_attrs={"data-citations": item.citation_count},
    )


def latest_reports_card() -> rx.Component:
    state = DashboardState
    return _section(
        "Latest reports",
        rx.cond(
            state.reports.length() > 0,
            rx.vstack(rx.foreach(state.reports, report_row), spacing="3", width="100%"),
            empty_state("inbox", "No reports yet",
                        "Reports are generated automatically at midnight your local time."),
        ),
        rx.link("All reports →", href=routes.REPORTS, size="2"),
        id="latest-reports",
    )


def activity_card() -> rx.Component:
    state = DashboardState
    return _section(
        "Activity — last 14 days",
        stacked_activity_chart(state.activity),
        rx.cond(state.activity_total == 0,
                rx.text("No activity of yours in the last 14 days.", size="2",
                        color_scheme="gray")),
        id="activity",
    )


def dashboard_body() -> rx.Component:
    state = DashboardState
    return rx.vstack(
        rx.text(state.week_label, size="2", color_scheme="gray"),
        kpi_grid(state.kpis, len(DASHBOARD_KPIS)),
        activity_card(),
        rx.grid(tldr_card(), latest_reports_card(),
                columns=rx.breakpoints(initial="1", md="2"), spacing="4", width="100%"),
        spacing="4",
        width="100%",
    )


# The banner's status first, then the page's own data (the banner state sits beside this one).
LOADS = [SyncStatusState.refresh_status, DashboardState.load]


@page(routes.DASHBOARD, "Dashboard", load=LOADS)
def dashboard() -> rx.Component:
    state = DashboardState
    return (
        rx.vstack(
            rx.heading("Dashboard", as_="h1", size="8"),
            sync_banner(),
            rx.cond(
                state.error != "",
                error_alert(state.error, LOADS),
                rx.cond(
                    state.loading,
                    rx.vstack(skeleton_grid(len(DASHBOARD_KPIS)), skeleton_block("16em"),
                              spacing="4", width="100%"),
                    dashboard_body(),
                ),
            ),
            spacing="4",
            width="100%",
        )
    )
