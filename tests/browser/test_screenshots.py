"""Screenshots for the README: the dashboard, the timeline, a report and settings, in the light and
the dark theme, taken from the live app seeded with the demo workspace.

A test run writes them to a temporary directory, so `make test` leaves the work tree as it found it;
`make screenshots` sets GITPULSE_SCREENSHOTS_DIR=docs/screenshots to refresh the README's copies."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import Report
from tests.browser.test_pages import db, heading  # noqa: F401 (db is a fixture)
from tests.browser.test_reports_pages import demo_user_id  # noqa: F401 (a fixture)

pytestmark = pytest.mark.browser

VIEWPORT = {"width": 1280, "height": 900}


def cited_report(user_id: int) -> tuple[int, str]:
    with session_scope() as session:
        report = session.scalars(sa.select(Report).where(
            Report.user_id == user_id, Report.deleted_at.is_(None), Report.citation_count > 0,
            Report.schedule_type == "daily").order_by(Report.end_date.desc())).first()
        return report.id, report.title


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_screenshots_of_the_main_pages(live_app, chromium_browser, demo_user_id,  # noqa: F811
                                       theme, tmp_path):
    refresh = os.environ.get("GITPULSE_SCREENSHOTS_DIR")
    screenshots = Path(refresh).resolve() if refresh else tmp_path
    context = chromium_browser.new_context(base_url=live_app.frontend_url, viewport=VIEWPORT,
                                           color_scheme=theme)
    context.add_init_script(f"window.localStorage.setItem('theme', '{theme}');")
    page = context.new_page()
    try:
        page.goto("/auth/demo")
        page.wait_for_url(re.compile(r"^https?://[^/]+/dashboard/?$"))
        report_id, title = cited_report(demo_user_id)
        shots = [
            ("dashboard", "/dashboard", "Dashboard", "#latest-reports .rt-Badge"),
            ("timeline", "/timeline", "Timeline", ".timeline-row"),
            ("report", f"/reports/{report_id}", title, "#sources .source-card"),
            ("settings", "/settings", "Settings", "#timezone"),
        ]
        screenshots.mkdir(parents=True, exist_ok=True)
        for name, path, text, ready in shots:
            page.goto(path)
            expect(heading(page)).to_have_text(text)
            expect(page.locator(ready).first).to_be_visible()
            expect(page.locator("html")).to_have_class(re.compile(rf"\b{theme}\b"))
            page.evaluate("() => document.fonts.ready")
            if refresh:
                page.wait_for_timeout(600)  # only for the README's copies: chart animations end
            target = screenshots / f"{name}-{theme}.png"
            page.screenshot(path=str(target))
            assert target.stat().st_size > 10_000
    finally:
        context.close()
