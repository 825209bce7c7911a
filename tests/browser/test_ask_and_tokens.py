"""Settings → API tokens and the /ask page in headless Chromium, against the running Reflex app.

The token made in the browser then works on the same backend's `/api/v1` and `/mcp` (the Reflex
lifespan runs the MCP session manager), and stops working the moment it is revoked.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from playwright.sync_api import expect

from gitpulse_app.core.clock import utcnow
from tests.api.conftest import bearer, mcp_client
from tests.browser.test_pages import Workspace, db, heading  # noqa: F401 — fixtures

pytestmark = pytest.mark.browser


def test_a_token_made_in_settings_works_on_the_api_and_mcp_until_revoked(page, live_app, db):
    Workspace(page, live_app)
    page.goto("/settings")
    expect(heading(page)).to_have_text("Settings")
    page.locator("#api-token-name").fill("browser assistant")
    page.locator("#create-api-token").click()
    secret = page.locator("#new-api-token")
    expect(secret).to_be_visible()
    token = secret.inner_text()
    assert token.startswith("gp_") and len(token) == 43

    me = httpx.get(f"{live_app.backend_url}/api/v1/me", headers=bearer(token), timeout=30)
    assert me.status_code == 200 and me.json()["token"]["scope"] == "read"

    async def tools():
        async with mcp_client(live_app.backend_url, token) as client:
            return {tool.name for tool in (await client.list_tools()).tools}

    # Playwright's sync API owns this thread's event loop; the MCP client runs in another thread.
    with ThreadPoolExecutor(1) as pool:
        assert "ask" in pool.submit(asyncio.run, tools()).result()

    # Shown once: a reload (even without pressing Done) never shows it again.
    page.reload()
    expect(page.get_by_text("browser assistant")).to_be_visible()
    expect(page.locator("#new-api-token")).to_have_count(0)
    assert token not in page.content()
    page.get_by_role("button", name="Revoke").click()
    expect(page.get_by_text("revoked", exact=True)).to_be_visible()
    again = httpx.get(f"{live_app.backend_url}/api/v1/me", headers=bearer(token), timeout=30)
    assert again.status_code == 401


def test_ask_streams_a_cited_answer_with_its_sources(page, live_app, db):
    workspace = Workspace(page, live_app)
    workspace.link("ledger")
    workspace.facts("ledger", "pr_merged", 3, start=utcnow() - dt.timedelta(hours=2),
                    titles=["Quasar ledger migration", "Nebula cache rollout", "Docs typo"])
    page.goto("/timeline")
    page.locator("#ask-link").click()
    expect(heading(page)).to_have_text("Ask")
    page.locator("#ask-input").fill("What happened with the quasar ledger migration?")
    page.locator("#ask-submit").click()
    answer = page.locator("#ask-answer")
    expect(answer).to_contain_text("Quasar ledger migration")
    links = answer.locator("a[href^='https://github.com/']")
    expect(links.first).to_be_visible()
    sources = page.locator("#ask-sources .ask-source")
    expect(sources.first).to_be_visible()
    cited = {links.nth(i).get_attribute("href") for i in range(links.count())}
    listed = {sources.nth(i).locator("a").get_attribute("href") for i in range(sources.count())}
    assert cited == listed and all(url.startswith(f"https://github.com/{workspace.org}/")
                                   for url in cited)
