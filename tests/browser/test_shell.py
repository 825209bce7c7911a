import re

import httpx
import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

HERO = "Standups and retros your team can trust"


def test_landing_page_explains_gitpulse(page):
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_have_text(HERO)
    expect(page.get_by_text("Citation-Backed")).to_be_visible()
    expect(page.get_by_role("link", name="Try the demo")).to_be_visible()
    expect(page.locator("#system-status")).to_contain_text(re.compile("System (Operational|Degraded)"))


def test_try_the_demo_passes_next_on(page):
    page.goto("/?next=/reports/5")
    link = page.get_by_role("link", name="Try the demo")
    expect(link).to_have_attribute("href", re.compile(r"/auth/demo\?next=/reports/5$"))


def test_signed_out_visit_to_a_protected_page_goes_to_landing_with_next(page):
    page.goto("/reports")
    page.wait_for_url(re.compile(r"/\?next=/reports$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(HERO)


def test_theme_toggle_offers_light_dark_and_system(page):
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_have_text(HERO)
    page.get_by_label("Theme").first.click()
    for label in ("Light", "Dark", "System"):
        expect(page.get_by_role("menuitem", name=label)).to_be_visible()
    page.get_by_role("menuitem", name="Dark").click()
    expect(page.locator("html")).to_have_class(re.compile(r"\bdark\b"))


def test_backend_serves_health_next_to_the_app(live_app):
    response = httpx.get(f"{live_app.backend_url}/api/health")
    assert response.status_code == 200 and response.json()["mode"] == "liveness"
