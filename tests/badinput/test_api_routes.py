"""Schema-free fuzz of every route of `create_api`: never a 500, nothing stored half-way.

Random methods, paths under /api and /auth, query strings, headers (signatures right and wrong,
session cookies live and forged) and bodies (bytes, any JSON, mutated GitHub payloads, deep
nesting) go to the real app, on a migrated in-memory SQLite database and on PostgreSQL. After each request the row count
of every table is compared with before: only an accepted delivery (one envelope, stored whole, equal
to what was sent), a sign-out and a demo sign-in may change anything. GitHub OAuth and the GitHub API
point at a closed local port; each example comes from its own client address, so the `/auth/*` rate
limit only answers 429 when a forged `X-Forwarded-For` repeats.
"""

from __future__ import annotations

import json
import socket
import string
from collections import Counter
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, SQLModel
from starlette.testclient import TestClient

from gitpulse_app.acquisition.webhooks.signature import sign
from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import WebhookEvent
from gitpulse_app.experience.auth.sessions import start_session
from gitpulse_app.experience.http.app import create_api
from gitpulse_app.experience.routes import SESSION_COOKIE
from tests.intelligence.delivery.conftest import make_owner, make_report
from tests.support.payloads import all_webhook_fixtures, load_webhook

SECRET = "fuzz-webhook-secret"
WEBHOOK = "/api/webhooks/github"
LIVE_SESSION, SIGNED = "<live session>", "<signed>"

PRINTABLE = st.text(st.sampled_from(string.printable.strip() + " "), max_size=40)
SEGMENT = st.text(st.characters(blacklist_categories=["Cs"]), max_size=12).map(
    lambda text: quote(text, safe=""))
ROUTES = {  # path → its methods
    "/api/health": ["GET", "HEAD", "POST"], WEBHOOK: ["POST"], "/auth/github/login": ["GET"],
    "/auth/github/callback": ["GET"], "/auth/logout": ["POST"], "/auth/demo": ["GET"],
    "/api/export/timeline.csv": ["GET"], "/api/reports/REPORT.md": ["GET"],
}
ODD_PATHS = ["/api/reports/0.md", "/api/reports/-1.md", "/api/reports/99999999999999999999.md",
             "/api/reports/abc.md", "/api/webhooks/github/", "/api", "/auth", "/auth/"]
RANDOM_PATHS = st.sampled_from(ODD_PATHS) | st.builds(
    lambda root, segments: root + "/".join(segments),
    st.sampled_from(["/api/", "/auth/", "/api/reports/", "/auth/github/", "/api/webhooks/"]),
    st.lists(SEGMENT, max_size=3))
METHODS = st.sampled_from(["GET", "POST", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS"]) | st.text(
    st.sampled_from(string.ascii_uppercase), min_size=1, max_size=8)
VALUES = st.sampled_from([
    "", "1", "0", "-1", "2025-12-05", "2025-12-05T10:00:00Z", "9999-12-31", "0001-01-01",
    "2025-13-45", "acme/app", "https://evil.example/", "//evil.example", "/dashboard",
    "javascript:alert(1)", "/\\evil.example", "access_denied", "x" * 3000,
]) | st.text(max_size=30)
QUERIES = st.dictionaries(
    st.sampled_from(["deep", "next", "code", "state", "error", "error_description", "start",
                     "end", "repo", "installation_id", "setup_action"]) | PRINTABLE,
    VALUES, max_size=4)
EVENTS = st.sampled_from(["ping", "push", "pull_request", "issues", "installation", "release",
                          "", " ", "../../etc"]) | PRINTABLE
DELIVERY_IDS = st.uuids().map(str) | st.sampled_from(["", "x" * 101, "a b", "ok-1"]) | PRINTABLE
SIGNATURES = st.sampled_from([SIGNED, SIGNED, "sha256=", "sha256=" + "0" * 64, "sha1=abc",
                              "sha256=zz", "sha256=" + "a" * 63]) | PRINTABLE
COOKIES = st.sampled_from([LIVE_SESSION, f"{SESSION_COOKIE}=forged",
                           f"{SESSION_COOKIE}=", "junk"]) | PRINTABLE
HEADERS = st.fixed_dictionaries({}, optional={
    "X-GitHub-Event": EVENTS, "X-GitHub-Delivery": DELIVERY_IDS, "X-Hub-Signature-256": SIGNATURES,
    "Content-Type": st.sampled_from(["application/json", "text/plain", "application/x-www-form"
                                     "-urlencoded", "multipart/form-data; boundary=x"]),
    "Cookie": COOKIES, "X-Forwarded-For": st.sampled_from(["1.2.3.4", "", "a, b", "::1"]),
    "User-Agent": PRINTABLE, "Accept": PRINTABLE,
})
TRICKY = st.sampled_from(["\u0000", "\ud800", "\U0001F600", "'; DROP TABLE events; --", "x" * 5000,
                          "<script>alert(1)</script>"])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20) | TRICKY,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["action", "installation", "id", "repository", "sender", "number",
                         "pull_request", "commits"]) | st.text(max_size=8), inner, max_size=5),
    max_leaves=25)
FIXTURES = sorted(all_webhook_fixtures())


@st.composite
def mutated_fixture(draw: st.DrawFn) -> bytes:
    """A recorded GitHub payload with some keys deleted or replaced by arbitrary JSON."""
    event, name = draw(st.sampled_from(FIXTURES))
    payload: Any = load_webhook(event, name)
    for _ in range(draw(st.integers(0, 4))):
        node = payload
        while isinstance(node, dict) and node and draw(st.booleans()):
            key = draw(st.sampled_from(sorted(node)))
            if not isinstance(node[key], dict):
                break
            node = node[key]
        if isinstance(node, dict) and node:
            key = draw(st.sampled_from(sorted(node)))
            if draw(st.booleans()):
                del node[key]
            else:
                node[key] = draw(JSON)
    return json.dumps(payload).encode()


BODIES = (st.binary(max_size=300) | JSON.map(lambda value: json.dumps(value).encode())
          | mutated_fixture() | st.sampled_from([
              b"", b"{", b"[" * 20_000 + b"]" * 20_000, b'{"a":' * 5000 + b"1" + b"}" * 5000,
              b'{"zen": NaN}', b'{"n": 1e308, "m": -1e-400}', b"\xff\xfe", b'{"x": "' + b"y" * 300_000 + b'"}',
          ]))


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, str, dict[str, str], dict[str, str], bytes]:
    """(method, path, query, headers, body): mostly a real route with one of its methods (and for
    the receiver its three headers), sometimes any method on any path."""
    if draw(st.integers(0, 3)):
        path = draw(st.sampled_from(sorted(ROUTES)))
        method = draw(st.sampled_from(ROUTES[path]) if draw(st.integers(0, 9)) else METHODS)
    else:
        path, method = draw(RANDOM_PATHS), draw(METHODS)
    headers = draw(HEADERS)
    if path == WEBHOOK and draw(st.integers(0, 4)):
        headers.setdefault("X-GitHub-Event", draw(EVENTS))
        headers.setdefault("X-GitHub-Delivery", draw(DELIVERY_IDS))
        headers.setdefault("X-Hub-Signature-256", SIGNED)
    return method, path, draw(QUERIES), headers, draw(BODIES)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def row_counts() -> dict[str, int]:
    with session_scope() as session:
        return {table.name: session.execute(sa.select(sa.func.count()).select_from(table))
                .scalar_one() for table in SQLModel.metadata.sorted_tables}


def live_session_token(user_id: int) -> str:
    with session_scope() as session:
        return start_session(session, user_id, "fuzz")


def may_change(method: str, path: str, status: int) -> dict[str, tuple[int, int]]:
    """Tables (with the allowed change in row count) this answer may have written."""
    if method == "POST" and path == WEBHOOK and status == 200:
        return {"webhook_events": (0, 1)}
    if path == "/auth/logout" and status < 400:
        return {"auth_sessions": (-1, 0)}
    if path == "/auth/demo" and status < 400:
        return {"auth_sessions": (0, 1), "users": (0, 1)}
    return {}


def check_envelope(delivery_id: str, event: str, body: bytes) -> None:
    """An accepted delivery's envelope holds exactly what was sent, ready to process."""
    with session_scope() as session:
        (envelope,) = session.scalars(
            sa.select(WebhookEvent).where(WebhookEvent.delivery_id == delivery_id)).all()
        assert (envelope.event, envelope.status, envelope.attempts) == (event, "pending", 0)
        sent = json.loads(body)
        assert json.dumps(envelope.payload, sort_keys=True) == json.dumps(sent, sort_keys=True)


def test_no_request_to_any_route_answers_500_or_stores_anything_half_way(
    any_engine, configure, record_counts
):
    closed = f"http://127.0.0.1:{closed_port()}"
    configure(GITHUB_WEBHOOK_SECRET=SECRET, GITHUB_CLIENT_ID="fuzz-client",
              GITHUB_CLIENT_SECRET="fuzz-client-secret", GITHUB_URL=closed, GITHUB_API_URL=closed,
              GITPULSE_DEMO="1")
    with Session(any_engine, expire_on_commit=False) as session:
        owner = make_owner(session, login="fuzzer")
        report_id = make_report(session, owner).id
        other = make_report(session, make_owner(session, login="someone")).id
    app = create_api(with_workers=False)
    statuses: Counter[int] = Counter()
    clients = iter(range(1, 10**6))

    @settings(max_examples=700, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                     HealthCheck.data_too_large])
    @given(request=requests(), report=st.sampled_from([report_id, other]),
           with_state=st.booleans())
    def property_holds(request: tuple[str, str, dict[str, str], dict[str, str], bytes],
                       report: int, with_state: bool) -> None:
        method, path, query, headers, body = request
        number = next(clients)
        client = TestClient(app, client=(f"10.{number // 65536}.{number // 256 % 256}."
                                         f"{number % 256}", 40000))
        path = path.replace("REPORT", str(report))
        if headers.get("X-Hub-Signature-256") == SIGNED:
            headers["X-Hub-Signature-256"] = sign(body, SECRET)
        if headers.get("Cookie") == LIVE_SESSION:
            headers["Cookie"] = f"{SESSION_COOKIE}={live_session_token(owner.id)}"
        if with_state and unquote(path) == "/auth/github/callback":
            login = client.get("/auth/github/login", follow_redirects=False)
            assert login.status_code == 302, login.text
            query["state"] = parse_qs(urlsplit(login.headers["location"]).query)["state"][0]
        before = row_counts()
        response = client.request(method, f"{path}?{urlencode(query)}" if query else path,
                                  content=body, headers=headers, follow_redirects=False)
        after = row_counts()
        statuses[response.status_code] += 1
        assert response.status_code < 500 or response.status_code == 503, (
            method, path, response.status_code, response.text[:300])
        allowed = may_change(method, unquote(path), response.status_code)
        for table, count in after.items():
            low, high = allowed.get(table, (0, 0))
            assert low <= count - before[table] <= high, (table, method, path, response.status_code)
        if after["webhook_events"] > before["webhook_events"]:
            check_envelope(headers["X-GitHub-Delivery"], headers["X-GitHub-Event"], body)

    property_holds()
    record_counts(inputs_tried=sum(statuses.values()), statuses=dict(sorted(statuses.items())),
                  answered_500=statuses[500], stored_half_way=0)



# JSON numbers PostgreSQL's json type cannot hold (1e400 → inf) are invalid JSON, not a 500 -----------
@pytest.mark.postgres
def test_a_signed_delivery_with_a_number_json_cannot_hold_is_refused_not_500(pg_engine,
                                                                              configure):
    configure(GITHUB_WEBHOOK_SECRET=SECRET)
    body = b'{"zen": 1e400}'
    headers = {"X-GitHub-Event": "ping", "X-GitHub-Delivery": "too-big-a-number",
               "X-Hub-Signature-256": sign(body, SECRET), "Content-Type": "application/json"}
    with TestClient(create_api(with_workers=False)) as client:
        response = client.post(WEBHOOK, content=body, headers=headers)
    assert response.status_code == 400, response.text
    assert response.json() == {"error": "Invalid JSON payload"}


# A report id no row can have is "not found", on either database -------------------------------------
@pytest.mark.parametrize("report_id", ["99999999999999999999", "2147483648", "0"])
def test_an_out_of_range_report_id_is_404_not_500(any_engine, report_id):
    with Session(any_engine, expire_on_commit=False) as session:
        owner = make_owner(session, login="ranger")
        make_report(session, owner)
        token = start_session(session, owner.id, "range")
        session.commit()
    client = TestClient(create_api(with_workers=False))
    client.cookies.set(SESSION_COOKIE, token)
    answer = client.get(f"/api/reports/{report_id}.md")
    assert (answer.status_code, answer.json()) == (404, {"error": "Report not found"})
