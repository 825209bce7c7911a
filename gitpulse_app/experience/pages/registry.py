"""Every UI route of CONTRACT §7 with its page, title and on_load."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import reflex as rx

from gitpulse_app.experience import routes
from gitpulse_app.experience.components.shell import app_shell, placeholder_page
from gitpulse_app.experience.pages.landing import LandingState, landing
from gitpulse_app.experience.state import SessionState


@dataclass(frozen=True)
class PageSpec:
    route: str
    title: str
    component: Callable[[], rx.Component]
    on_load: Any


class RepoPageState(SessionState):
    @rx.var
    def full_name(self) -> str:
        # /repos/{owner}/{name}
        parts = [p for p in self.router.url.path.split("/") if p]
        return "/".join(parts[1:3]) if len(parts) >= 3 else ""


def repo_detail() -> rx.Component:
    return app_shell(
        rx.vstack(
            rx.heading(RepoPageState.full_name, as_="h1", size="8"),
            rx.callout("Repository analytics — activity charts, KPIs and the event breakdown for "
                       "this repository — arrive with the web app (issue #9).",
                       icon="construction", color_scheme="gray"),
            spacing="4",
        )
    )


def report_detail() -> rx.Component:
    return app_shell(
        rx.vstack(
            rx.heading("Report", as_="h1", size="8"),
            rx.callout("The cited report with its sources, coverage meter and email status arrives "
                       "with reports (issue #6) and the web app (issue #9).",
                       icon="construction", color_scheme="gray"),
            spacing="4",
        )
    )


PROTECTED = SessionState.require_user

PAGES: list[PageSpec] = [
    PageSpec(routes.LANDING, "GitPulse", landing, LandingState.load),
    PageSpec(routes.ONBOARDING, "Welcome to GitPulse", placeholder_page(
        "Welcome to GitPulse",
        "Onboarding — connect GitHub, pick your sources and your schedule — arrives with sign-in "
        "(issue #8) and the web app (issue #9)."), PROTECTED),
    PageSpec(routes.DASHBOARD, "Dashboard", placeholder_page(
        "Dashboard",
        "Your week at a glance — KPIs, a 14-day activity chart, yesterday's TL;DR and the latest "
        "reports — arrives with the web app (issue #9)."), PROTECTED),
    PageSpec(routes.REPOS, "Repositories", placeholder_page(
        "Repositories",
        "Your GitHub sources and their repositories, with sync status and tracking toggles, "
        "arrive with sync (issue #4) and the web app (issue #9)."), PROTECTED),
    PageSpec(routes.REPO_DETAIL, "Repository", repo_detail, PROTECTED),
    PageSpec(routes.TIMELINE, "Timeline", placeholder_page(
        "Timeline",
        "Every fact from your repositories, newest first, with semantic search and CSV export, "
        "arrives with search (issue #5) and the web app (issue #9)."), PROTECTED),
    PageSpec(routes.REPORTS, "Reports", placeholder_page(
        "Reports",
        "Your daily standups and weekly retros, each with citations and a coverage meter, arrive "
        "with reports (issue #6)."), PROTECTED),
    PageSpec(routes.REPORT_DETAIL, "Report", report_detail, PROTECTED),
    PageSpec(routes.SETTINGS, "Settings", placeholder_page(
        "Settings",
        "Your time zone, report schedule, email delivery and GitHub sources arrive with sign-in "
        "(issue #8) and the scheduler (issue #7)."), PROTECTED),
    PageSpec(routes.OPS, "Operations", placeholder_page(
        "Operations",
        "Webhook deliveries, sync batches, scheduler history and queue depths for instance "
        "operators arrive with the web app (issue #9)."), PROTECTED),
]
