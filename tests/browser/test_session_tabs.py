"""Two tabs of one signed-in browser: "Sign out everywhere" in one, and the other's next click
lands on sign-in (every Reflex event re-checks the session, docs/SECURITY.md)."""

from __future__ import annotations

import re
import pytest
from playwright.sync_api import expect
from sqlmodel import select

from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import AuthSession, User
from gitpulse_app.experience.auth.sessions import start_session
from gitpulse_app.experience.routes import SESSION_COOKIE

pytestmark = pytest.mark.browser


def test_sign_out_everywhere_sends_the_other_tab_to_sign_in(page, live_app, live_db):
    with session_scope() as session:
        user = User(gh_id=1_900_000_001, gh_login="twotabs", signed_up_at=utcnow(),
                    onboarding_completed_at=utcnow(), timezone="UTC",
                    daily_reports_enabled=False, weekly_reports_enabled=False)
        session.add(user)
        session.flush()
        user_id = user.id
        token = start_session(session, user.id, "playwright")
    page.context.add_cookies([{"name": SESSION_COOKIE, "value": token,
                               "url": live_app.frontend_url}])

    reports = page
    reports.goto("/reports")
    expect(reports.get_by_role("heading", level=1)).to_have_text("Reports")
    settings = page.context.new_page()
    settings.goto("/settings")
    expect(settings.get_by_role("heading", level=1)).to_have_text("Settings")

    settings.get_by_role("button", name="Sign out everywhere").click()
    settings.get_by_role("alertdialog").get_by_role("button", name="Sign out everywhere").click()
    settings.wait_for_url(re.compile(r"/$|/\?"))
    with session_scope() as session:
        assert not session.exec(select(AuthSession).where(AuthSession.user_id == user_id)).all()

    # The reports tab still shows the page; its next action only redirects.
    expect(reports.get_by_role("heading", level=1)).to_have_text("Reports")
    reports.get_by_role("radio", name="Weekly").click()
    reports.wait_for_url(re.compile(r"/\?next=/reports$"))
    expect(reports.get_by_role("link", name="Try the demo")).to_be_visible()
