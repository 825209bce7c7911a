"""The fake GitHub must behave like api.github.com where GitPulse depends on it."""

from __future__ import annotations


import httpx

from tests.support.fake_github import FakeGitHub
from tests.support.fake_http import FakeResponse


def test_recorded_pagination_is_replayed_with_links_pointing_at_the_fake(fake_github):
    fake_github.load_fixture("paginate-issues")

    url = f"{fake_github.url}/repos/octokit-fixture-org/paginate-issues/issues?per_page=3"
    numbers = []
    with httpx.Client() as client:
        while url:
            response = client.get(url)
            assert response.status_code == 200
            numbers.extend(issue["number"] for issue in response.json())
            assert "api.github.com" not in response.headers.get("link", "")
            url = response.links.get("next", {}).get("url")

    assert numbers == list(range(13, 0, -1))
    assert [r.target for r in fake_github.requests[1:]] == [
        f"/repositories/1000/issues?per_page=3&page={page}" for page in range(2, 6)
    ]


def test_recorded_bodies_point_at_the_fake_and_errors_keep_their_status(fake_github):
    fake_github.load_fixture("get-repository")
    fake_github.load_fixture("errors.json")

    repo = httpx.get(f"{fake_github.url}/repos/octokit-fixture-org/hello-world")
    error = httpx.post(
        f"{fake_github.url}/repos/octokit-fixture-org/errors/labels",
        json={"name": "foo", "color": "invalid"},
    )

    assert repo.json()["url"] == f"{fake_github.url}/repos/octokit-fixture-org/hello-world"
    assert repo.json()["owner"]["url"].startswith(fake_github.url)
    assert repo.headers["content-type"] == "application/json; charset=utf-8"
    assert repo.headers.get("connection") != "close"
    assert error.status_code == 422
    assert error.json()["message"] == "Validation Failed"
    assert "get-root" in FakeGitHub.fixture_names()


def test_search_fixture_matches_the_decoded_query(fake_github):
    fake_github.load_fixture("search-issues")

    response = httpx.get(
        f"{fake_github.url}/search/issues",
        params={"q": "sesame repo:octokit-fixture-org/search-issues"},
    )

    assert response.json()["total_count"] == 2


def test_add_paginated_honours_page_and_per_page_with_github_link_headers(fake_github):
    fake_github.add_paginated("/repos/o/r/pulls", list(range(250)))
    base = f"{fake_github.url}/repos/o/r/pulls"

    first = httpx.get(base, params={"state": "all"})
    middle = httpx.get(base, params={"state": "all", "page": 2})
    last = httpx.get(base, params={"state": "all", "page": 3})

    assert first.json() == list(range(100))
    assert first.headers["link"] == (
        f'<{base}?state=all&page=2>; rel="next", <{base}?state=all&page=3>; rel="last"'
    )
    assert middle.headers["link"] == (
        f'<{base}?state=all&page=1>; rel="prev", <{base}?state=all&page=3>; rel="next", '
        f'<{base}?state=all&page=3>; rel="last", <{base}?state=all&page=1>; rel="first"'
    )
    assert last.json() == list(range(200, 250))
    assert set(last.links) == {"prev", "first"}

    small = httpx.get(base, params={"per_page": 50, "page": 5})
    assert small.json() == list(range(200, 250))
    assert small.links["prev"]["url"] == f"{base}?per_page=50&page=4"
    assert len(httpx.get(base, params={"per_page": 500}).json()) == 100


def test_add_paginated_wraps_lists_and_empty_lists_have_no_link(fake_github):
    repos = [{"id": n} for n in range(3)]
    fake_github.add_paginated("/installation/repositories", repos, per_page=2, key="repositories")
    fake_github.add_paginated("/repos/o/r/issues", [])

    page = httpx.get(f"{fake_github.url}/installation/repositories").json()
    empty = httpx.get(f"{fake_github.url}/repos/o/r/issues")

    assert page == {"total_count": 3, "repositories": [{"id": 0}, {"id": 1}]}
    assert empty.json() == []
    assert "link" not in empty.headers


def test_etag_turns_a_repeated_conditional_request_into_a_free_304(fake_github):
    fake_github.add_json("/repos/o/r", {"id": 1, "name": "r"})
    url = f"{fake_github.url}/repos/o/r"

    first = httpx.get(url)
    etag = first.headers["etag"]
    unchanged = httpx.get(url, headers={"If-None-Match": etag})
    weak = httpx.get(url, headers={"If-None-Match": f'"other", W/{etag}'})

    assert first.status_code == 200
    assert unchanged.status_code == 304
    assert unchanged.content == b""
    assert unchanged.headers["etag"] == etag
    assert weak.status_code == 304
    assert unchanged.headers["x-ratelimit-remaining"] == first.headers["x-ratelimit-remaining"]

    fake_github.add_json("/repos/o/r", {"id": 1, "name": "renamed"})
    changed = httpx.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert changed.json()["name"] == "renamed"


def test_rate_limit_budget_counts_down_refuses_and_refills(fake_github):
    fake_github.add_json("/user", {"login": "octocat"})
    github_now = [1_764_950_400.0]  # 2025-12-05T16:00:00Z on GitHub's clock
    fake_github.clock = lambda: github_now[0]
    reset = int(github_now[0]) + 60
    fake_github.set_rate_limit(remaining=2, limit=5000, reset=reset)
    url = f"{fake_github.url}/user"

    one, two, refused = httpx.get(url), httpx.get(url), httpx.get(url)

    assert one.headers["x-ratelimit-remaining"] == "1"
    assert two.headers["x-ratelimit-remaining"] == "0"
    assert two.headers["x-ratelimit-reset"] == str(reset)
    assert two.headers["x-ratelimit-limit"] == "5000"
    assert refused.status_code == 403
    assert "rate limit" in refused.json()["message"]
    assert refused.headers["x-ratelimit-remaining"] == "0"

    github_now[0] = reset + 1  # the window has passed
    again = httpx.get(url)
    assert again.status_code == 200
    assert again.headers["x-ratelimit-remaining"] == "4999"


def test_rate_limit_endpoint_reports_the_budget_without_spending_it(fake_github):
    fake_github.set_rate_limit(remaining=42, status=429)

    body = httpx.get(f"{fake_github.url}/rate_limit").json()
    httpx.get(f"{fake_github.url}/rate_limit")

    assert body["resources"]["core"]["remaining"] == 42
    assert body["rate"]["remaining"] == 42
    assert fake_github.rate_limit.remaining == 42


def test_a_scripted_rate_limit_header_is_kept(fake_github):
    fake_github.add("GET", "/user", FakeResponse(200, json={}, headers={"X-RateLimit-Remaining": "3"}))

    assert httpx.get(f"{fake_github.url}/user").headers["x-ratelimit-remaining"] == "3"
