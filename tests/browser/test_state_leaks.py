"""No secret and no other user's data in the Reflex state sent to a signed-in browser.

User A signs in and opens every page; every websocket frame the browser receives is recorded and
searched for A's session token and its hash, A's encrypted OAuth token and PAT, their plain values,
and user B's login and email.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random

import pytest
from playwright.sync_api import expect

from gitpulse_app.core.crypto import encrypt_token
from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import Installation, Report, User, UserInstallation
from gitpulse_app.experience.auth.sessions import start_session, token_hash
from gitpulse_app.experience.routes import SESSION_COOKIE
from gitpulse_app.normalization.models import ActorRef, Metrics, NormalizedFact, RepoRef
from gitpulse_app.normalization.store import ingest_facts

pytestmark = pytest.mark.browser

LIVE_SECRET = "browser-test-secret"  # GITPULSE_SECRET_KEY of the live app (tests/support/browser.py)
_serial = itertools.count(random.randrange(1, 10**6) * 1000 + 500)


def _person(session, name: str, serial: int) -> dict:
    login = f"{name}leak{serial}"
    oauth_plain, pat_plain = f"gho_{name}LeakOauth{serial}", f"ghp_{name}LeakPat{serial}"
    user = User(gh_id=1_500_000_000 + serial, gh_login=login,
                email=f"{login}@{name}-mail.example", signed_up_at=utcnow(),
                onboarding_completed_at=utcnow(), timezone="UTC",
                daily_reports_enabled=False, weekly_reports_enabled=False,
                oauth_access_token_enc=encrypt_token(oauth_plain, LIVE_SECRET))
    session.add(user)
    session.flush()
    org = f"{name}leakorg{serial}"
    app_source = Installation(kind="app", gh_installation_id=2_500_000_000 + serial,
                              account_login=org, repositories=[f"{org}/svc"],
                              repository_ids=[3_500_000_000 + serial],  # `_facts`' repository
                              last_synced_at=utcnow(), last_reconciled_at=utcnow())
    pat_enc = encrypt_token(pat_plain, LIVE_SECRET)
    pat_source = Installation(kind="pat", account_login=login, repositories=[],
                              token_enc=pat_enc, token_hint=pat_plain[-4:],
                              created_by_user_id=user.id, last_synced_at=utcnow(),
                              last_reconciled_at=utcnow())
    session.add(app_source)
    session.add(pat_source)
    session.flush()
    for source in (app_source, pat_source):
        session.add(UserInstallation(user_id=user.id, installation_id=source.id, role="owner"))
    return {"id": user.id, "gh_id": user.gh_id, "login": login, "email": user.email,
            "org": org, "repo": f"{org}/svc", "repo_gh_id": 3_500_000_000 + serial,
            "oauth_plain": oauth_plain,
            "oauth_enc": user.oauth_access_token_enc, "pat_plain": pat_plain,
            "pat_enc": pat_enc}


def _facts(person: dict, serial: int) -> None:
    ref = RepoRef(gh_id=person["repo_gh_id"], full_name=person["repo"], owner=person["org"],
                  name="svc", raw={"html_url": f"https://github.com/{person['repo']}"})
    ingest_facts([NormalizedFact(
        type="pr_merged", repo=ref, actor=ActorRef(gh_id=person["gh_id"], login=person["login"]),
        ts=utcnow() - dt.timedelta(hours=n + 1),
        source_url=f"https://github.com/{person['repo']}/pull/{serial + n}",
        metrics=Metrics(4, 1, 1), metadata={"number": serial + n, "title": f"Change {n}"})
        for n in range(3)], observed_via="webhook")


def _report(user_id: int) -> int:
    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    with session_scope() as session:
        row = Report(user_id=user_id, kind="daily", schedule_type="daily", origin="scheduled",
                     start_date=today - dt.timedelta(days=1), end_date=today, timezone="UTC",
                     title="Daily Standup - Leak check", description="Auto-generated",
                     sections=[{"title": "Work Completed", "bullets": ["Shipped"],
                                "citations": []}],
                     markdown="", html="", prompt_version="py-v1", provider="local",
                     model="local-extractive-v1", cache_key="e" * 64, event_count=1,
                     citation_count=0)
        session.add(row)
        session.flush()
        return row.id


def _channel(person: dict, serial: int) -> dict:
    from gitpulse_app.core.models import DeliveryChannel

    url = f"https://hooks.example.com/services/T{serial}/B{serial}/channelLeakPath{serial}"
    secret = f"channelLeakSecret{serial}xxxxxxxx"
    with session_scope() as session:
        row = DeliveryChannel(user_id=person["id"], kind="webhook", name=f"leakchan{serial}",
                              report_kinds=["daily"], url_enc=encrypt_token(url, LIVE_SECRET),
                              url_hint="…/" + url[-4:],
                              secret_enc=encrypt_token(secret, LIVE_SECRET))
        session.add(row)
        session.flush()
        return {"url": url, "url_enc": row.url_enc, "secret": secret, "name": row.name}


def test_websocket_state_carries_no_secret_or_other_users_data(page, live_app, live_db):
    serial = next(_serial)
    with session_scope() as session:
        a = _person(session, "alpha", serial)
        b = _person(session, "bravo", serial + 1)
        a_token = start_session(session, a["id"], "playwright")
        b_token = start_session(session, b["id"], "playwright")
    _facts(a, serial)
    _facts(b, serial + 10)
    report_id = _report(a["id"])
    a_channel, b_channel = _channel(a, serial), _channel(b, serial + 1)

    forbidden = {
        "A's session token": a_token,
        "A's session token hash": token_hash(a_token),
        "A's encrypted OAuth token": a["oauth_enc"],
        "A's encrypted PAT": a["pat_enc"],
        "A's plain OAuth token": a["oauth_plain"],
        "A's plain PAT": a["pat_plain"],
        "B's session token": b_token,
        "B's login": b["login"],
        "B's email": b["email"],
        "B's encrypted OAuth token": b["oauth_enc"],
        "B's plain PAT": b["pat_plain"],
        # Channels (docs/CHANNELS.md): only `…/last4` of a URL ever leaves the server.
        "A's channel URL": a_channel["url"],
        "A's encrypted channel URL": a_channel["url_enc"],
        "A's webhook secret": a_channel["secret"],
        "B's channel name": b_channel["name"],
    }

    frames: list[str] = []

    def on_websocket(ws) -> None:
        def record(payload) -> None:
            frames.append(payload.decode("utf-8", "replace") if isinstance(payload, bytes)
                          else str(payload))
        ws.on("framereceived", record)

    page.on("websocket", on_websocket)
    page.context.add_cookies([{"name": SESSION_COOKIE, "value": a_token,
                               "url": live_app.frontend_url}])

    pages = {
        "/dashboard": "Dashboard",
        "/repos": "Repositories",
        f"/repos/{a['repo']}": a["repo"],
        "/timeline": "Timeline",
        "/reports": "Reports",
        f"/reports/{report_id}": "Daily Standup - Leak check",
        "/settings": "Settings",
    }
    for path, title in pages.items():
        page.goto(path)
        expect(page.locator("h1").first).to_have_text(title, timeout=30_000)
        page.wait_for_timeout(800)  # let the on_load deltas arrive
    # Onboarding (finished users are sent on) and /ops (not an operator) still load state.
    for path in ("/onboarding", "/ops", f"/repos/{b['repo']}", "/reports/99999999"):
        page.goto(path)
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(800)

    received = "\n".join(frames)
    assert a["login"] in received, "no state frames were captured"  # the shell shows A's login
    assert a_channel["name"] in received and "…/" + a_channel["url"][-4:] in received, \
        "the Channels card never loaded"
    for what, secret in forbidden.items():
        assert secret not in received, f"{what} was sent over the websocket"
