"""`/repos/[owner]/[name]` — one repository's activity: header, 7/30/90/180/365-day
ranges ending at the instant the page loaded, KPI cards with trends, the event breakdown (rows
toggle the chart's types), a stacked daily chart by local date, and the top contributors."""

from __future__ import annotations

import asyncio
import datetime as dt
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
from gitpulse_app.experience.repos.views import (
    BreakdownRow,
    ContributorItem,
    full_name_from_path,
    load_repo,
)
from gitpulse_app.experience.state import SessionState
from gitpulse_app.experience.page import page
from gitpulse_app.intelligence.analytics import (
    DEFAULT_RANGE,
    RANGES,
    RepoAnalytics,
    stacked_points,
)
from gitpulse_app.intelligence.formatting import format_report_date, format_time
from gitpulse_app.intelligence.windows import resolve_zone

log = logging.getLogger(__name__)

LOAD_ERROR = "This repository could not be loaded. Please try again."
NOT_FOUND = "Repository not found"


class RepoDetailState(SessionState):
    loading: bool = True
    error: str = ""
    not_found: bool = False
    repo_full_name: str = ""
    description: str = ""
    language: str = ""
    stars: str = ""
    forks: str = ""
    html_url: str = ""
    range_days: str = str(DEFAULT_RANGE)
    snapshot: str = ""
    kpis: list[KpiCard] = []
    breakdown: list[BreakdownRow] = []
    total: int = 0
    chart: list[dict[str, int | str]] = []
    contributors: list[ContributorItem] = []
    _end: dt.datetime | None = None
    _zone: str | None = None
    _daily: dict[str, dict[str, int]] = {}
    _days: list[str] = []
    _hidden: list[str] = []

    @rx.var
    def heading(self) -> str:
        return self.repo_full_name or full_name_from_path(self.router.url.path)

    def _chart(self) -> None:
        days = [dt.date.fromisoformat(day) for day in self._days]
        counts = {dt.date.fromisoformat(day): value for day, value in self._daily.items()}
        self.chart = stacked_points(days, counts, set(self._hidden))
        self.breakdown = [
            BreakdownRow(row.type, row.label, row.count, row.per_day, row.share, row.bar,
                         row.type in self._hidden)
            for row in self.breakdown
        ]

    def _apply(self, analytics: RepoAnalytics) -> None:
        repo = analytics.repo
        self.repo_full_name = repo.full_name
        self.description = repo.description or ""
        self.language = repo.language or ""
        self.stars = f"{repo.stars:,}" if repo.stars is not None else ""
        self.forks = f"{repo.forks:,}" if repo.forks is not None else ""
        self.html_url = repo.html_url or ""
        self.kpis = kpi_cards(analytics.kpis)
        self.total = analytics.total
        self.breakdown = [
            BreakdownRow(row.type, row.label, f"{row.count:,}", f"{row.per_day:.1f}/day",
                         f"{row.share:.1f}% of all events", round(row.share), False)
            for row in analytics.breakdown
        ]
        self.contributors = [ContributorItem(c.login, c.avatar_url or "", f"{c.count:,} events")
                             for c in analytics.contributors]
        self._days = [day.isoformat() for day in analytics.days]
        self._daily = {day.isoformat(): counts for day, counts in analytics.daily.items()}
        self._hidden = []
        self._chart()

    async def _fetch(self) -> None:
        self.error = ""
        full_name = full_name_from_path(self.router.url.path)
        end = self._end or utcnow()
        try:
            analytics, zone = await asyncio.to_thread(load_repo, self._user_id, full_name,
                                                      int(self.range_days), end)
        except Exception:  # noqa: BLE001 - shown inline with Retry
            log.exception("Loading repository analytics failed")
            self.error, self.loading = LOAD_ERROR, False
            return
        self._zone = zone
        self.not_found = analytics is None
        if analytics is not None:
            self._apply(analytics)
        self.loading = False

    @rx.event
    async def load(self):
        self.loading, self.not_found, self.repo_full_name = True, False, ""
        self.range_days = str(DEFAULT_RANGE)
        # The window's end is frozen when the page loads.
        self._end = utcnow()
        await self._fetch()
        zone = resolve_zone(self._zone)
        self.snapshot = (f"Data snapshot: {format_report_date(self._end, zone)} "
                         f"{format_time(self._end, zone)} (refresh page for latest data)")
        return None

    @rx.event
    async def set_range(self, value: str | list[str]):
        if not isinstance(value, str) or value not in {str(days) for days in RANGES}:
            return
        self.range_days, self.loading = value, True
        yield
        await self._fetch()

    @rx.event
    def toggle_type(self, fact_type: str):
        hidden = set(self._hidden)
        hidden.symmetric_difference_update({fact_type})
        self._hidden = sorted(hidden)
        self._chart()


# Views ---------------------------------------------------------------------------------------------
def header() -> rx.Component:
    state = RepoDetailState
    return rx.vstack(
        rx.cond(state.description != "", rx.text(state.description, color_scheme="gray")),
        rx.hstack(
            rx.cond(state.language != "", rx.badge(state.language, variant="soft")),
            rx.cond(state.stars != "", rx.hstack(rx.icon("star", size=14),
                                                 rx.text(state.stars, size="2"), spacing="1",
                                                 align="center")),
            rx.cond(state.forks != "", rx.hstack(rx.icon("git-fork", size=14),
                                                 rx.text(state.forks, size="2"), spacing="1",
                                                 align="center")),
            rx.cond(state.html_url != "", rx.link("View on GitHub →", href=state.html_url,
                                                  is_external=True, size="2")),
            spacing="4",
            align="center",
            wrap="wrap",
        ),
        spacing="2",
        width="100%",
    )


def range_picker() -> rx.Component:
    return rx.hstack(
        rx.segmented_control.root(
            *[rx.segmented_control.item(f"{days}d", value=str(days)) for days in RANGES],
            value=RepoDetailState.range_days,
            on_change=RepoDetailState.set_range,
            id="range-picker",
        ),
        rx.text(RepoDetailState.snapshot, size="1", color_scheme="gray"),
        align="center",
        spacing="3",
        wrap="wrap",
    )


def breakdown_row(row: BreakdownRow) -> rx.Component:
    return rx.box(
        rx.hstack(
            # Display only: the whole row is the toggle.
            rx.checkbox(checked=~row.hidden, pointer_events="none", tab_index=-1,
                        aria_hidden="true"),
            rx.text(row.label, weight="medium", size="2", min_width="9em"),
            rx.text(row.count, size="2", min_width="4em"),
            rx.text(row.per_day, size="1", color_scheme="gray", min_width="5em"),
            rx.box(rx.box(width=row.bar.to_string() + "%", height="100%",
                          background=rx.color("accent", 9), border_radius="3px"),
                   flex="1", height="0.5em", background=rx.color("gray", 4),
                   border_radius="3px", min_width="4em"),
            rx.text(row.share, size="1", color_scheme="gray", min_width="9em"),
            align="center",
            width="100%",
            spacing="3",
        ),
        on_click=RepoDetailState.toggle_type(row.type),
        cursor="pointer",
        opacity=rx.cond(row.hidden, "0.5", "1"),
        width="100%",
        class_name="breakdown-row",
    )


def contributor(item: ContributorItem) -> rx.Component:
    return rx.hstack(
        rx.avatar(src=item.avatar_url, fallback=item.login[:2], size="2"),
        rx.text(item.login, weight="medium", size="2"),
        rx.spacer(),
        rx.text(item.count, size="1", color_scheme="gray"),
        align="center",
        width="100%",
    )


def analytics_body() -> rx.Component:
    state = RepoDetailState
    return rx.cond(
        state.total == 0,
        rx.card(empty_state("chart-no-axes-column", "No events in this period"), width="100%"),
        rx.vstack(
            rx.card(
                rx.vstack(
                    rx.heading("Event Breakdown (" + state.total.to_string() + " total)",
                               as_="h2", size="4"),
                    rx.foreach(state.breakdown, breakdown_row),
                    spacing="2",
                    width="100%",
                ),
                width="100%",
            ),
            rx.card(
                rx.vstack(rx.heading("Daily activity", as_="h2", size="4"),
                          stacked_activity_chart(state.chart), width="100%"),
                width="100%",
            ),
            rx.card(
                rx.vstack(rx.heading("Contributors", as_="h2", size="4"),
                          rx.foreach(state.contributors, contributor), spacing="2",
                          width="100%"),
                width="100%",
            ),
            spacing="4",
            width="100%",
        ),
    )


@page(routes.REPO_DETAIL, "Repository", load=RepoDetailState.load)
def repo_detail() -> rx.Component:
    state = RepoDetailState
    return (
        rx.cond(
            state.not_found,
            rx.vstack(
                rx.heading(NOT_FOUND, as_="h1", size="8"),
                rx.text("It does not exist, or none of your sources can see it.",
                        color_scheme="gray"),
                rx.link("← Back to Repositories", href=routes.REPOS),
                spacing="3",
            ),
            rx.vstack(
                rx.heading(state.heading, as_="h1", size="8"),
                rx.cond(
                    state.error != "",
                    error_alert(state.error, RepoDetailState.load),
                    rx.vstack(
                        header(),
                        range_picker(),
                        rx.cond(
                            state.loading,
                            rx.vstack(skeleton_grid(4), skeleton_block("16em"), spacing="4",
                                      width="100%"),
                            rx.vstack(kpi_grid(state.kpis, 4), analytics_body(), spacing="4",
                                      width="100%"),
                        ),
                        spacing="4",
                        width="100%",
                    ),
                ),
                spacing="4",
                width="100%",
            ),
        )
    )
