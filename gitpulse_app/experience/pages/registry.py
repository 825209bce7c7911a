"""Every UI route of CONTRACT §7 with its page, title and on_load."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import reflex as rx

from gitpulse_app.experience import routes
from gitpulse_app.experience.components.shell import app_shell, placeholder_page
from gitpulse_app.experience.pages.dashboard import DashboardState, dashboard
from gitpulse_app.experience.pages.landing import LandingState, landing
from gitpulse_app.experience.pages.repo_detail import RepoDetailState, repo_detail
from gitpulse_app.experience.pages.repos import ReposState, repos
from gitpulse_app.experience.pages.settings import SettingsState, settings
from gitpulse_app.experience.pages.timeline import TimelineState, timeline
from gitpulse_app.experience.state import SessionState


@dataclass(frozen=True)
class PageSpec:
    route: str
    title: str
    component: Callable[[], rx.Component]
    on_load: Any


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
    PageSpec(routes.DASHBOARD, "Dashboard", dashboard, DashboardState.load),
    PageSpec(routes.REPOS, "Repositories", repos, ReposState.load),
    PageSpec(routes.REPO_DETAIL, "Repository", repo_detail, RepoDetailState.load),
    PageSpec(routes.TIMELINE, "Timeline", timeline, TimelineState.load),
    PageSpec(routes.REPORTS, "Reports", placeholder_page(
        "Reports",
        "Your daily standups and weekly retros, each with citations and a coverage meter, arrive "
        "with reports (issue #6)."), PROTECTED),
    PageSpec(routes.REPORT_DETAIL, "Report", report_detail, PROTECTED),
    PageSpec(routes.SETTINGS, "Settings", settings, SettingsState.load),
    PageSpec(routes.OPS, "Operations", placeholder_page(
        "Operations",
        "Webhook deliveries, sync batches, scheduler history and queue depths for instance "
        "operators arrive with the web app (issue #9)."), PROTECTED),
]
