"""Every UI route (`routes`) with its page, title and on_load, and the 404 page."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import reflex as rx

from gitpulse_app.experience import routes
from gitpulse_app.experience.pages import not_found as not_found_page
from gitpulse_app.experience.pages.ask import AskState, ask_page
from gitpulse_app.experience.pages.dashboard import DashboardState, dashboard
from gitpulse_app.experience.pages.landing import LandingState, landing
from gitpulse_app.experience.pages.onboarding import OnboardingState, onboarding
from gitpulse_app.experience.pages.ops import OpsState, ops
from gitpulse_app.experience.pages.repo_detail import RepoDetailState, repo_detail
from gitpulse_app.experience.pages.report_detail import ReportDetailState, report_detail_page
from gitpulse_app.experience.pages.reports import ReportsState, reports
from gitpulse_app.experience.pages.repos import ReposState, repos
from gitpulse_app.experience.pages.settings import SettingsState, settings
from gitpulse_app.experience.pages.timeline import TimelineState, timeline


@dataclass(frozen=True)
class PageSpec:
    route: str
    title: str
    component: Callable[[], rx.Component]
    on_load: Any


PAGES: list[PageSpec] = [
    PageSpec(routes.LANDING, "GitPulse", landing, LandingState.load),
    PageSpec(routes.ONBOARDING, "Welcome to GitPulse", onboarding, OnboardingState.load),
    PageSpec(routes.DASHBOARD, "Dashboard", dashboard, DashboardState.load),
    PageSpec(routes.REPOS, "Repositories", repos, ReposState.load),
    PageSpec(routes.REPO_DETAIL, "Repository", repo_detail, RepoDetailState.load),
    PageSpec(routes.TIMELINE, "Timeline", timeline, TimelineState.load),
    PageSpec(routes.REPORTS, "Reports", reports, ReportsState.load),
    PageSpec(routes.REPORT_DETAIL, "Report", report_detail_page, ReportDetailState.load),
    PageSpec(routes.SETTINGS, "Settings", settings, SettingsState.load),
    PageSpec(routes.OPS, "Operations", ops, OpsState.load),
    PageSpec(routes.ASK, "Ask", ask_page, AskState.load),
    # Reflex serves its "404" page at every path no other page matches.
    PageSpec(not_found_page.ROUTE, not_found_page.TITLE, not_found_page.not_found,
             not_found_page.NotFoundState.load),
]
