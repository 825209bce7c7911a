"""Every UI page, in one list: each view carries its route, title, guard and frame (`@page`)."""

from __future__ import annotations

from gitpulse_app.experience.page import PageSpec, spec_of
from gitpulse_app.experience.pages.ask import ask_page
from gitpulse_app.experience.pages.dashboard import dashboard
from gitpulse_app.experience.pages.landing import landing
from gitpulse_app.experience.pages.not_found import not_found
from gitpulse_app.experience.pages.onboarding import onboarding
from gitpulse_app.experience.pages.ops import ops
from gitpulse_app.experience.pages.repo_detail import repo_detail
from gitpulse_app.experience.pages.report_detail import report_detail_page
from gitpulse_app.experience.pages.reports import reports
from gitpulse_app.experience.pages.repos import repos
from gitpulse_app.experience.pages.settings import settings
from gitpulse_app.experience.pages.timeline import timeline

PAGES: list[PageSpec] = [spec_of(view) for view in (
    landing, onboarding, dashboard, repos, repo_detail, timeline, reports, report_detail_page,
    settings, ops, ask_page,
    # Reflex serves its "404" page at every path no other page matches.
    not_found,
)]
