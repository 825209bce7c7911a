"""A newcomer's path (issue #9 acceptance): open the app, "Try the demo", land on the dashboard,
open a report from it and read its citations — against the live app seeded with the real demo."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_pages import db, heading  # noqa: F401 (db is a fixture)
from tests.browser.test_reports_pages import demo_user_id  # noqa: F401 (a fixture)

pytestmark = pytest.mark.browser

HERO = "Standups and retros your team can trust"


def test_a_newcomer_tries_the_demo_and_reads_a_cited_report(page, demo_user_id):  # noqa: F811
    page.goto("/")
    expect(heading(page)).to_have_text(HERO)
    page.get_by_role("link", name="Try the demo").click()

    page.wait_for_url(re.compile(r"^https?://[^/]+/dashboard/?$"))
    expect(heading(page)).to_have_text("Dashboard")
    expect(page.locator(".kpi-card")).to_have_count(5)
    expect(page.locator("#tldr .tldr-bullets a").first).to_be_visible()  # the last work day, cited
    latest = page.locator("#latest-reports")
    # Chosen by the citation count the row carries, never by text that runs into its neighbours.
    cited = latest.locator("a.report-row[data-citations]:not([data-citations='0'])")
    expect(cited.first).to_be_visible()
    title = cited.first.locator("p").first.text_content()
    cited.first.click()

    page.wait_for_url(re.compile(r"/reports/\d+/?$"))
    expect(heading(page)).to_have_text(title)
    citations = page.locator('#report-body a[href^="https://github.com/acme/"]')
    expect(citations.first).to_be_visible()
    expect(citations.first).to_have_attribute("target", "_blank")
    expect(page.get_by_role("heading", name=re.compile(r"^Sources \(\d+\)$"))).to_be_visible()
    sources = page.locator("#sources .source-card")
    expect(sources.first).to_have_attribute("href", re.compile(r"^https://github\.com/acme/"))
    expect(page.locator("#coverage-meter")).to_contain_text("coverage")
