"""A report written from a hostile model answer, as the report page shows it (headless Chromium).

The report is generated in this process against the live app's database, with the model served by
a fake OpenAI-compatible server on 127.0.0.1 (reached through `OPENAI_BASE_URL`); the page then
shows it. Only anchors to cited facts and no image may reach `#report-body`.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from playwright.sync_api import expect

from gitpulse_app.core.clock import utcnow
from gitpulse_app.intelligence.reports.models import SECTION_TITLES
from gitpulse_app.intelligence.reports.service import generate_report
from tests.browser.test_pages import Workspace, db, heading  # noqa: F401 (db is a fixture)
from tests.intelligence.reports.conftest import completion, urls_in_prompt

pytestmark = pytest.mark.browser

EVIL = "https://evil.example"


def hostile(request):
    first, second = sorted(urls_in_prompt(request))
    bullets = [
        f"Shipped [search [beta] flag]({EVIL}/nested) in [PR one]({first})",
        f"Fixed login ([PR two]({second} 'merged')) ![pixel]({EVIL}/p.gif) "
        f"[![badge]({EVIL}/b.svg)]({first})",
        f"Also [docs]({EVIL}/t 'x') <{EVIL}/auto> www.evil.com [ref][r] "
        f"<a href=\"{EVIL}/a\">raw</a> <img src=\"{EVIL}/i.gif\"> ([PR two]({second}))\n\n"
        f"[r]: {EVIL}/ref",
    ]
    titles = SECTION_TITLES["daily"]
    return completion(json.dumps({"sections": [
        {"title": titles[0], "bullets": bullets, "citations": [first, f"{EVIL}/c"]}]}))


def test_a_report_from_a_hostile_answer_links_only_cited_facts(page, live_app, db,  # noqa: F811
                                                                fake_http_factory, configure):
    me = Workspace(page, live_app)
    me.link("api")
    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    start, end = today - dt.timedelta(days=1), today
    me.facts("api", "pr_merged", 2, start=start + dt.timedelta(hours=10))
    server = fake_http_factory("fake-openai")
    server.add("POST", "/v1/chat/completions", hostile)
    configure(OPENAI_API_KEY="sk-test-browser", OPENAI_BASE_URL=f"{server.url}/v1",
              GITPULSE_LLM_MODEL="gpt-4.1-mini")
    report = generate_report(me.user_id, "daily", start, end, origin="manual",
                             sleep=lambda seconds: None).report
    assert report.provider == "openai" and len(report.citations) == 2

    page.goto(f"/reports/{report.id}")

    expect(heading(page)).to_have_text(report.title)
    body = page.locator("#report-body")
    expect(body).to_contain_text("Shipped search [beta] flag in PR one")
    expect(body).to_contain_text('<a href="">raw</a> <img src="">')
    hrefs = body.locator("a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert hrefs and set(hrefs) == set(report.citations)
    expect(body.locator("img, image, picture, source, iframe, object")).to_have_count(0)
    expect(body.get_by_role("link", name="PR one")).to_have_attribute("target", "_blank")
    markup = body.inner_html()
    assert "evil" not in markup
    assert not re.search(r"<[a-z][^>]*\s(?:src|srcset)=", markup)
