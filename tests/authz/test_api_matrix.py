"""Every API route exercised as the other user, and signed out (docs/VISIBILITY.md).

Objects a user cannot see answer exactly like missing ones (404), so existence never leaks. The
route table below must name every mounted route: a new route without a row fails the test.
"""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
import sqlalchemy as sa

from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import AuthSession, WebhookEvent
from gitpulse_app.experience import routes
from gitpulse_app.experience.auth.sessions import token_hash
from gitpulse_app.experience.http.app import api_routes
from tests.authz.conftest import signed_in

# Route path → the test(s) below that exercise it as the other user / signed out.
ROUTE_MATRIX = {
    routes.API_REPORT_MARKDOWN_ROUTE: "test_report_markdown_matrix",
    routes.API_TIMELINE_CSV: "test_csv_export_matrix",
    routes.API_HEALTH: "test_health_carries_no_user_data",
    routes.API_WEBHOOKS: "test_a_session_cookie_is_no_webhook_credential",
    routes.AUTH_LOGOUT: "test_logout_ends_only_the_callers_session",
    routes.AUTH_LOGIN: "test_public_auth_routes_create_no_session",
    routes.AUTH_CALLBACK: "test_public_auth_routes_create_no_session",
    routes.AUTH_DEMO: "test_public_auth_routes_create_no_session",
}


def test_every_route_is_in_the_matrix():
    mounted = {route.path for route in api_routes()}
    assert mounted - set(ROUTE_MATRIX) == set(), "a new API route needs an authorization test"
    assert set(ROUTE_MATRIX) - mounted == set()
    for test_name in set(ROUTE_MATRIX.values()):
        assert callable(globals().get(test_name)), test_name


def _md(report_id: int) -> str:
    return routes.API_REPORT_MARKDOWN.format(report_id=report_id)


def test_report_markdown_matrix(client, pair):
    a, b = pair.a, pair.b

    own = signed_in(client, a).get(_md(a.report_id))
    as_b = signed_in(client, b).get(_md(a.report_id))
    missing = signed_in(client, b).get(_md(a.report_id + 10_000))
    signed_out = signed_in(client, None).get(_md(a.report_id))
    client.cookies.set(routes.SESSION_COOKIE, "forged-token")
    forged = client.get(_md(a.report_id))
    # The stored hash is not a credential either.
    client.cookies.set(routes.SESSION_COOKIE, token_hash(a.session_token))
    as_hash = client.get(_md(a.report_id))
    client.cookies.clear()

    assert own.status_code == 200 and a.fact_url in own.text
    for refused in (as_b, missing):
        assert refused.status_code == 404
        assert refused.json() == {"error": "Report not found"}
    assert as_b.content == missing.content  # existence never leaks
    for anonymous in (signed_out, forged, as_hash):
        assert anonymous.status_code == 401
        assert anonymous.json() == {"error": "Not signed in"}


def test_csv_export_matrix(client, pair):
    a, b = pair.a, pair.b
    path = routes.API_TIMELINE_CSV
    window = {"start": "2025-12-01", "end": "2025-12-05"}

    own = signed_in(client, a).get(path, params={**window, "repo": a.repo_full_name})
    as_b = signed_in(client, b).get(path, params={**window, "repo": a.repo_full_name})
    as_b_upper = signed_in(client, b).get(path, params={**window,
                                                        "repo": a.repo_full_name.upper()})
    missing = signed_in(client, b).get(path, params={**window, "repo": "nobody/nothing"})
    b_all = signed_in(client, b).get(path, params=window)
    signed_out = signed_in(client, None).get(path, params={"repo": a.repo_full_name})

    assert own.status_code == 200 and a.fact_url in own.text
    for refused in (as_b, as_b_upper, missing):
        assert refused.status_code == 404
        assert refused.json() == {"error": "Repository not found"}
    assert b_all.status_code == 200
    assert b.fact_url in b_all.text
    for secret in (a.fact_url, a.fact_title, a.repo_full_name, a.login):
        assert secret not in b_all.text
    assert signed_out.status_code == 401 and signed_out.json() == {"error": "Not signed in"}


@pytest.mark.parametrize("who", ["a", "b", None])
def test_health_carries_no_user_data(client, pair, who):
    side = getattr(pair, who) if who else None
    for method, path in (("GET", "/api/health"), ("GET", "/api/health?deep=1"),
                         ("POST", "/api/health")):
        response = signed_in(client, side).request(method, path)
        assert response.status_code in (200, 503)
        for other in (pair.a, pair.b):
            for secret in (other.login, other.email, other.oauth_plain, other.oauth_enc,
                           other.pat_plain, other.pat_enc, other.session_token,
                           other.repo_full_name, other.fact_title):
                assert secret not in response.text


def test_a_session_cookie_is_no_webhook_credential(client, pair, configure):
    configure(GITHUB_WEBHOOK_SECRET="authz-webhook-secret")
    body = json.dumps({"installation": {"id": pair.a.installation_gh_id}}).encode()
    headers = {"x-github-event": "ping", "x-github-delivery": "authz-delivery-1",
               "content-type": "application/json"}
    with session_scope() as session:
        before = session.scalar(sa.select(sa.func.count()).select_from(WebhookEvent))

    unsigned = signed_in(client, pair.b).post(routes.API_WEBHOOKS, content=body, headers={
        **headers, "x-hub-signature-256": "sha256=" + "0" * 64})
    wrong_key = hmac.new(pair.b.session_token.encode(), body, hashlib.sha256).hexdigest()
    keyed_by_session = signed_in(client, pair.b).post(routes.API_WEBHOOKS, content=body, headers={
        **headers, "x-hub-signature-256": f"sha256={wrong_key}"})

    for response in (unsigned, keyed_by_session):
        assert response.status_code == 401
        assert response.json() == {"error": "Invalid signature"}
    with session_scope() as session:
        after = session.scalar(sa.select(sa.func.count()).select_from(WebhookEvent))
    assert after == before


def _session_rows(user_id: int) -> int:
    with session_scope() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(AuthSession)
                              .where(AuthSession.user_id == user_id))


def test_logout_ends_only_the_callers_session(client, pair):
    a_before = _session_rows(pair.a.user_id)

    response = signed_in(client, pair.b).post(routes.AUTH_LOGOUT, follow_redirects=False)

    assert response.status_code == 303
    assert _session_rows(pair.b.user_id) == 0
    assert _session_rows(pair.a.user_id) == a_before
    still = signed_in(client, pair.a).get(_md(pair.a.report_id))
    assert still.status_code == 200
    gone = signed_in(client, pair.b).get(_md(pair.b.report_id))
    assert gone.status_code == 401


def test_public_auth_routes_create_no_session(client, pair, configure):
    configure(GITPULSE_DEMO="0")
    sessions_before = {pair.a.user_id: _session_rows(pair.a.user_id),
                       pair.b.user_id: _session_rows(pair.b.user_id)}

    demo = signed_in(client, pair.b).get(routes.AUTH_DEMO, follow_redirects=False)
    login = signed_in(client, pair.b).get(routes.AUTH_LOGIN, follow_redirects=False)
    forged_callback = signed_in(client, pair.b).get(
        routes.AUTH_CALLBACK, params={"code": "stolen", "state": "forged"},
        follow_redirects=False)

    assert demo.status_code == 404  # demo mode off
    assert login.status_code in (302, 503)  # OAuth unconfigured → 503
    assert forged_callback.status_code in (302, 303, 307)
    assert "error" in forged_callback.headers["location"]
    for response in (demo, login, forged_callback):
        assert routes.SESSION_COOKIE not in response.cookies
        for secret in (pair.a.login, pair.a.email, pair.a.session_token, pair.a.oauth_plain):
            assert secret not in response.text
            assert secret not in response.headers.get("location", "")
    assert {uid: _session_rows(uid) for uid in sessions_before} == sessions_before
