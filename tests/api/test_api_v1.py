"""`/api/v1` over real HTTP: token lifecycle, scopes, errors, rate limit and the OpenAPI document."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from sqlmodel import select

from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import ApiToken
from gitpulse_app.experience.auth.api_tokens import create_token, revoke_token
from gitpulse_app.experience.auth.sessions import token_hash
from gitpulse_app.experience.http.api_v1 import ENDPOINTS, PREFIX, REQUESTS_PER_MINUTE
from tests.api.conftest import World, bearer


def test_a_created_token_works_and_acts_as_its_user(http: httpx.Client, world: World):
    alice = world.alice
    response = http.get(f"{PREFIX}/me", headers=bearer(alice.read_token))
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == alice.side.user_id and body["login"] == alice.side.login
    assert body["token"]["scope"] == "read" and body["visible_repositories"] == 2
    with session_scope() as session:
        row = session.exec(select(ApiToken).where(
            ApiToken.token_hash == token_hash(alice.read_token))).one()
        assert row.last_used_at is not None
        # Only the digest and a short display prefix are stored, never the secret.
        assert alice.read_token not in (row.token_hash, row.prefix)
        assert alice.read_token.startswith(row.prefix) and len(row.prefix) < 12


@pytest.mark.parametrize("header", [
    None, "Bearer", "Bearer gp_unknownunknownunknownunknownunknownunkn", "Basic Zm9vOmJhcg==",
])
def test_missing_or_unknown_tokens_get_401(http: httpx.Client, world: World, header):
    headers = {"Authorization": header} if header else {}
    response = http.get(f"{PREFIX}/facts", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"error": "Invalid token"}


def test_the_stored_hash_is_no_credential(http: httpx.Client, world: World):
    digest = token_hash(world.alice.read_token)
    assert http.get(f"{PREFIX}/me", headers=bearer(digest)).status_code == 401


def test_revoked_and_expired_tokens_get_401(http: httpx.Client, world: World):
    user_id = world.alice.side.user_id
    revoked = create_token(user_id, "soon revoked", "write")
    assert http.get(f"{PREFIX}/me", headers=bearer(revoked.token)).status_code == 200
    revoke_token(revoked.id, user_id)
    assert http.get(f"{PREFIX}/me", headers=bearer(revoked.token)).json() == {
        "error": "Invalid token"}

    expired = create_token(user_id, "short", "read", expires_days=1,
                           now=utcnow() - dt.timedelta(days=2))
    response = http.get(f"{PREFIX}/reports", headers=bearer(expired.token))
    assert response.status_code == 401 and response.json() == {"error": "Invalid token"}


def test_a_read_token_cannot_generate_a_report(http: httpx.Client, world: World):
    alice = world.alice
    refused = http.post(f"{PREFIX}/reports", headers=bearer(alice.read_token),
                        json={"kind": "daily", "start": "2025-12-04", "end": "2025-12-04"})
    assert refused.status_code == 403
    assert refused.json() == {"error": "Token scope does not allow this"}

    made = http.post(f"{PREFIX}/reports", headers=bearer(alice.write_token),
                     json={"kind": "daily", "start": "2025-12-04", "end": "2025-12-04"})
    assert made.status_code == 200, made.text
    report = made.json()
    assert report["kind"] == "daily" and alice.side.fact_url in report["citations"]
    assert report["window"]["start"] == "2025-12-04T00:00:00Z"
    # The same rules and cache as the UI: asking again returns the same report.
    again = http.post(f"{PREFIX}/reports", headers=bearer(alice.write_token),
                      json={"kind": "daily", "start": "2025-12-04", "end": "2025-12-04"})
    assert again.json()["id"] == report["id"]


def test_reports_list_and_detail(http: httpx.Client, world: World):
    alice = world.alice
    listed = http.get(f"{PREFIX}/reports", headers=bearer(alice.read_token)).json()
    assert [r["id"] for r in listed["reports"]] == [alice.side.report_id]
    detail = http.get(f"{PREFIX}/reports/{alice.side.report_id}",
                      headers=bearer(alice.read_token)).json()
    assert {"title", "kind", "window", "markdown", "sections", "citations", "coverage"} <= set(
        detail)
    assert alice.side.fact_url in detail["citations"] and detail["sections"]
    assert detail["coverage"]["score"] == 1.0


def test_facts_pages_with_an_opaque_cursor(http: httpx.Client, world: World):
    alice = world.alice
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = http.get(f"{PREFIX}/facts", params=params, headers=bearer(alice.read_token)).json()
        seen += [fact["url"] for fact in page["facts"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert set(seen) == alice.private_urls and len(seen) == len(set(seen))

    march = http.get(f"{PREFIX}/facts", headers=bearer(alice.read_token), params={
        "start": "2025-03-01", "end": "2025-03-31", "repo": alice.side.repo_full_name}).json()
    assert [fact["url"] for fact in march["facts"]] == [alice.march_url]
    merged = http.get(f"{PREFIX}/facts", headers=bearer(alice.read_token),
                      params=[("type", "pr_merged"), ("type", "commit")]).json()
    assert {fact["type"] for fact in merged["facts"]} == {"pr_merged"}
    commits = http.get(f"{PREFIX}/facts", headers=bearer(alice.read_token),
                       params={"type": "commit"}).json()
    assert commits["facts"] == []


@pytest.mark.parametrize("path, params, field", [
    ("/facts", {"limit": "501"}, "limit"),
    ("/facts", {"limit": "many"}, "limit"),
    ("/facts", {"start": "March"}, "start"),
    ("/facts", {"start": "2025-04-02", "end": "2025-04-01"}, "end"),
    ("/facts", {"cursor": "not-a-cursor"}, "cursor"),
    ("/facts", {"type": "pr_merged,telepathy"}, "type"),
    ("/search", {}, "q"),
    ("/search", {"q": "ledger", "limit": "0"}, "limit"),
    ("/reports", {"kind": "monthly"}, "kind"),
])
def test_bad_parameters_get_422_naming_the_field(http: httpx.Client, world: World, path, params,
                                                 field):
    response = http.get(f"{PREFIX}{path}", params=params, headers=bearer(world.alice.read_token))
    assert response.status_code == 422
    assert response.json()["field"] == field and response.json()["error"]


def test_bad_bodies_get_422(http: httpx.Client, world: World):
    token = bearer(world.alice.write_token)
    not_json = http.post(f"{PREFIX}/ask", headers=token, content=b"{nope")
    assert not_json.status_code == 422 and not_json.json()["field"] == "body"
    empty = http.post(f"{PREFIX}/ask", headers=token, json={"question": "  "})
    assert empty.status_code == 422 and empty.json()["field"] == "question"
    kind = http.post(f"{PREFIX}/reports", headers=token, json={"kind": "hourly"})
    assert kind.status_code == 422 and kind.json()["field"] == "kind"


def test_search_finds_visible_facts(http: httpx.Client, world: World):
    alice = world.alice
    found = http.get(f"{PREFIX}/search", params={"q": "quasar ledger migration"},
                     headers=bearer(alice.read_token)).json()
    assert found["results"] and found["results"][0]["url"] == alice.side.fact_url
    assert set(found["sources"]) <= alice.private_urls


def test_the_rate_limit_is_per_token_with_retry_after(http: httpx.Client, world: World):
    busy, calm = world.alice.read_token, world.alice.write_token
    codes = [http.get(f"{PREFIX}/me", headers=bearer(busy)).status_code
             for _ in range(REQUESTS_PER_MINUTE + 1)]
    assert codes[:REQUESTS_PER_MINUTE] == [200] * REQUESTS_PER_MINUTE
    limited = http.get(f"{PREFIX}/me", headers=bearer(busy))
    assert limited.status_code == 429 and 1 <= int(limited.headers["Retry-After"]) <= 60
    assert limited.json() == {"error": "Too many requests"}
    assert http.get(f"{PREFIX}/me", headers=bearer(calm)).status_code == 200


def test_the_openapi_document_matches_the_routes(http: httpx.Client, live, world: World):
    document = http.get(f"{PREFIX}/openapi.json").json()
    documented = {(method.upper(), path) for path, ops in document["paths"].items()
                  for method in ops}
    table = {(endpoint.method, PREFIX + endpoint.path) for endpoint in ENDPOINTS}
    assert documented == table
    # Every documented route answers (401 without a token), none is a 404 or 405.
    for method, path in documented:
        response = http.request(method, path.replace("{report_id}", "1"))
        assert response.status_code == 401, (method, path)
    # And an undocumented one is a JSON 404.
    stray = http.get(f"{PREFIX}/nothing-here", headers=bearer(world.alice.read_token))
    assert stray.status_code == 404 and stray.json() == {"error": "Not found"}
    assert document["paths"][f"{PREFIX}/reports"]["post"]["x-required-scope"] == "write"
