"""Every UI page, in one list: each view carries its route, title, guard and frame (`@page`)."""

from __future__ import annotations

from gitpulse_app.experience.ask.page import ask_page
from gitpulse_app.experience.dashboard.page import dashboard
from gitpulse_app.experience.ops.page import ops
from gitpulse_app.experience.page import PageSpec, spec_of
from gitpulse_app.experience.landing.page import landing
from gitpulse_app.experience.landing.page_not_found import not_found
from gitpulse_app.experience.onboarding.page import onboarding
from gitpulse_app.experience.settings.page import settings
from gitpulse_app.experience.reports.page_detail import report_detail_page
from gitpulse_app.experience.reports.page_list import reports
from gitpulse_app.experience.repos.page import repo_detail
from gitpulse_app.experience.sources.page import repos
from gitpulse_app.experience.timeline.page import timeline

PAGES: list[PageSpec] = [spec_of(view) for view in (
    landing, onboarding, dashboard, repos, repo_detail, timeline, reports, report_detail_page,
    settings, ops, ask_page,
    # Reflex serves its "404" page at every path no other page matches.
    not_found,
)]
