"""Every Reflex event re-checks the session (experience/auth/guard.py, docs/SECURITY.md).

Events run through the real app's event processor (tests/support/reflex_events.py). An open tab
whose session ended (sign-out, sign-out everywhere, expiry, the user's deletion) is sent to
`/?next=<path>` by its next event, and the handler does nothing.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from reflex.utils.format import format_event_handler
from sqlmodel import Session, select

from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import AuthSession, Report, User
from gitpulse_app.experience import routes
from gitpulse_app.experience.auth.sessions import (
    SESSION_LIFETIME,
    end_session,
    live_session_user,
    sign_out_everywhere,
    start_session,
    token_hash,
)
from gitpulse_app.experience.auth.guard import guarded_state
from gitpulse_app.experience.landing.page import LandingState
from gitpulse_app.experience.landing.page_not_found import NotFoundState
from gitpulse_app.experience.reports.page_list import ReportsState
from gitpulse_app.experience.settings.page import SettingsState
from gitpulse_app.experience.state import SessionState
from gitpulse_app.intelligence.scheduler.retention import cleanup
from tests.authz.test_state_handlers import enumerate_handlers, state_classes
from tests.intelligence.delivery.conftest import make_report
from tests.support.reflex_events import event_driver, redirects, sent_text, signed_in_user

PUBLIC = {"SessionState.load_visitor", "LandingState.load", "NotFoundState.load"}


@pytest.fixture
def owner(session: Session):
    user_id, token = signed_in_user(session, "guarded")
    report = make_report(session, session.get(User, user_id))
    return user_id, report.id, token


def report_alive(report_id: int) -> bool:
    with session_scope() as db:
        return db.get(Report, report_id).deleted_at is None


async def reports_tab(driver, token: str):
    tab = driver.tab(token).at(routes.REPORTS, "/reports/")
    updates = await tab.send(ReportsState.load)
    assert not redirects(updates)
    assert "Daily report" in sent_text(updates)  # the signed-in page really loaded
    return tab


def end_by(how: str, user_id: int, token: str) -> None:
    if how == "sign-out":
        assert end_session(token)
    elif how == "everywhere":
        assert sign_out_everywhere(user_id) == 2
    elif how == "expiry":
        with session_scope() as db:
            row = db.exec(select(AuthSession).where(
                AuthSession.token_hash == token_hash(token))).one()
            row.expires_at = utcnow() - dt.timedelta(seconds=1)
            db.add(row)
    else:  # retention deletes the session once it has expired
        later = utcnow() + SESSION_LIFETIME + dt.timedelta(days=1)
        assert cleanup(later).sessions == 2


@pytest.mark.parametrize("how", ["sign-out", "everywhere", "expiry", "retention"])
def test_the_next_event_after_the_session_ends_only_redirects(engine, owner, how):
    user_id, report_id, token = owner
    with session_scope() as db:  # a second tab's session, for "everywhere"
        start_session(db, user_id, "other tab")

    async def scenario():
        async with event_driver() as driver:
            tab = await reports_tab(driver, token)
            end_by(how, user_id, token)
            updates = await tab.send(ReportsState.delete, report_id=report_id)
            assert redirects(updates) == ["/?next=/reports"]
            assert "Report deleted" not in sent_text(updates)
            visitor = await tab.state(SessionState)
            assert visitor._user_id is None and not visitor.signed_in
            # A background handler is refused the same way, before it starts.
            updates = await tab.send(ReportsState.backfill)
            assert redirects(updates) == ["/?next=/reports"]

    asyncio.run(scenario())
    assert report_alive(report_id)


def test_a_live_session_runs_the_handler(engine, owner):
    user_id, report_id, token = owner

    async def scenario():
        async with event_driver() as driver:
            tab = await reports_tab(driver, token)
            updates = await tab.send(ReportsState.delete, report_id=report_id)
            assert not redirects(updates)
            assert (await tab.state(SessionState))._user_id == user_id

    asyncio.run(scenario())
    assert not report_alive(report_id)


def test_sign_out_everywhere_sends_the_other_tab_to_sign_in(engine, owner):
    user_id, report_id, token = owner

    async def scenario():
        async with event_driver() as driver:
            here = driver.tab(token).at(routes.SETTINGS)
            assert not redirects(await here.send(SettingsState.load))
            there = await reports_tab(driver, token)
            assert redirects(await here.send(SettingsState.sign_out_all)) == [routes.LANDING]
            assert redirects(await there.send(ReportsState.set_kind_filter, value="daily")) == [
                "/?next=/reports"]

    asyncio.run(scenario())
    assert live_session_user(token) is None


def test_public_pages_run_without_a_session(engine):
    async def scenario():
        async with event_driver() as driver:
            tab = driver.tab("no-such-session").at(routes.LANDING, "/?next=/timeline")
            updates = await tab.send(LandingState.load)
            assert not redirects(updates)
            assert "next=/timeline" in (await tab.state(LandingState)).demo_url
            missing = driver.tab(None).at("/404", "/nowhere")
            assert not redirects(await missing.send(NotFoundState.load))

    asyncio.run(scenario())


def test_every_handler_is_guarded_unless_declared_public():
    """Handlers added later are guarded by default: only the declared public ones are not."""
    public = set()
    for cls in state_classes():
        for name, handler in cls.event_handlers.items():
            if guarded_state(format_event_handler(handler)) is None:
                public.add(f"{cls.__name__}.{name}")
    inherited = {f"{cls.__name__}.load_visitor" for cls in state_classes()
                 if "load_visitor" in cls.event_handlers}
    assert public == PUBLIC | inherited
    assert len(enumerate_handlers()) > 40


def test_the_event_check_is_one_read(engine, owner):
    user_id, _report, token = owner
    with session_scope() as db:
        seen = db.exec(select(AuthSession.last_seen_at)).one()
    assert live_session_user(token) == user_id
    assert live_session_user("forged") is None and live_session_user(None) is None
    with session_scope() as db:
        assert db.exec(select(AuthSession.last_seen_at)).one() == seen  # nothing written


def test_a_tab_filled_for_another_user_starts_over(engine, owner, session):
    _user, _report, token = owner
    other_id, other_token = signed_in_user(session, "next-user", email="next@example.org")

    async def scenario():
        async with event_driver() as driver:
            tab = await reports_tab(driver, token)
            assert (await tab.state(ReportsState)).cards  # the first user's reports
            tab.cookie = other_token  # signed out, then someone else signed in, same tab
            updates = await tab.send(ReportsState.load_more)
            assert not redirects(updates) and "Daily report" not in sent_text(updates)
            reports = await tab.state(ReportsState)
            assert reports.cards == [] and reports.next_cursor == ""
            visitor = await tab.state(SessionState)
            assert (visitor._user_id, visitor._owner_id) == (other_id, other_id)

    asyncio.run(scenario())
