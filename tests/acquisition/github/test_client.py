"""GitHubClient against a fake GitHub on 127.0.0.1."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Any

import pytest

from gitpulse_app.acquisition.github import (
    GitHubClient,
    GitHubError,
    NotModified,
    RateLimited,
    RateLimitInfo,
    StaticTokenSource,
    UnreadableResponse,
)
from gitpulse_app.acquisition.github.client import TIMEOUT
from gitpulse_app.core.config import VERSION
from tests.support.fake_http import FakeResponse

TOKEN = "ghs_installation_token_1234"


def run(scenario: Any) -> Any:
    return asyncio.run(scenario)


async def get(base_url: str, path: str, sleeps: Any, clock: Any, **options: Any) -> Any:
    async with GitHubClient(
        StaticTokenSource(TOKEN), base_url=base_url, sleep=sleeps, now=clock, **options
    ) as client:
        return await client.get_json(path)


async def all_pages(client: GitHubClient, path: str, **options: Any) -> list[Any]:
    return [page async for page in client.paginate(path, **options)]


def budget_headers(remaining: int, limit: int, reset: dt.datetime | int) -> dict[str, str]:
    epoch = reset if isinstance(reset, int) else int(reset.timestamp())
    return {
        "x-ratelimit-remaining": str(remaining),
        "x-ratelimit-limit": str(limit),
        "x-ratelimit-reset": str(epoch),
    }


# Headers and base URL ----------------------------------------------------------------------------
def test_every_call_carries_the_api_headers_and_the_bearer_token(
    fake_github, configure, sleeps, clock
):
    configure(GITHUB_API_URL=fake_github.url + "/")
    fake_github.load_fixture("get-repository")

    async def scenario() -> Any:
        async with GitHubClient(StaticTokenSource(TOKEN), sleep=sleeps, now=clock) as client:
            assert client.base_url == fake_github.url
            return await client.get_json("/repos/octokit-fixture-org/hello-world")

    response = run(scenario())

    assert response.data["full_name"] == "octokit-fixture-org/hello-world"
    (request,) = fake_github.requests
    assert request.path == "/repos/octokit-fixture-org/hello-world"
    assert request.headers["Accept"] == "application/vnd.github+json"
    assert request.headers["X-GitHub-Api-Version"] == "2022-11-28"
    assert request.headers["User-Agent"] == f"gitpulse/{VERSION}"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_timeouts_are_ten_seconds_to_connect_and_thirty_to_read():
    assert TIMEOUT.connect == 10.0
    assert TIMEOUT.read == 30.0


def test_an_explicit_base_url_loses_its_trailing_slash(fake_github, sleeps, clock):
    fake_github.add_json("/meta", {"ok": True})

    response = run(get(fake_github.url + "/", "meta", sleeps, clock))

    assert response.data == {"ok": True}
    assert [r.target for r in fake_github.requests] == ["/meta"]


# Pagination --------------------------------------------------------------------------------------
def test_pagination_follows_next_links_over_three_full_pages_and_stops_without_next(
    fake_github, sleeps, clock
):
    issues = [{"number": n} for n in range(1, 301)]
    fake_github.add_paginated("/repos/o/r/issues", issues)

    async def scenario() -> list[Any]:
        async with GitHubClient(
            StaticTokenSource(TOKEN), base_url=fake_github.url, sleep=sleeps, now=clock
        ) as client:
            return await all_pages(client, "/repos/o/r/issues", params={"state": "all"})

    pages = run(scenario())

    assert [len(page.items) for page in pages] == [100, 100, 100]
    assert [item["number"] for page in pages for item in page.items] == list(range(1, 301))
    assert [page.page_number for page in pages] == [1, 2, 3]
    assert [page.last_page for page in pages] == [3, 3, 3]
    assert pages[-1].next_url is None
    requests = fake_github.requests_to("/repos/o/r/issues")
    assert len(requests) == 3  # a full last page is not taken as "maybe more"
    assert all(request.param("per_page") == "100" for request in requests)
    assert all(request.param("state") == "all" for request in requests)


def test_pagination_sends_the_recorded_next_links_verbatim(fake_github, sleeps, clock):
    fake_github.load_fixture("paginate-issues")

    async def scenario() -> list[Any]:
        async with GitHubClient(
            StaticTokenSource(TOKEN), base_url=fake_github.url, sleep=sleeps, now=clock
        ) as client:
            return await all_pages(
                client, "/repos/octokit-fixture-org/paginate-issues/issues", params={"per_page": 3}
            )

    pages = run(scenario())

    assert [len(page.items) for page in pages] == [3, 3, 3, 3, 1]
    assert [request.target for request in fake_github.requests[1:]] == [
        f"/repositories/1000/issues?per_page=3&page={n}" for n in (2, 3, 4, 5)
    ]
    assert fake_github.unmatched == []


def test_a_saved_next_url_resumes_pagination(fake_github, sleeps, clock):
    fake_github.add_paginated("/installation/repositories", [{"id": n} for n in range(150)],
                              key="repositories")

    async def scenario() -> Any:
        async with GitHubClient(
            StaticTokenSource(TOKEN), base_url=fake_github.url, sleep=sleeps, now=clock
        ) as client:
            first = [page async for page in client.paginate("/installation/repositories")][0]
            return first, await client.get_page(first.next_url)

    first, resumed = run(scenario())

    assert len(first.items) == 100 and first.total_count == 150
    assert [item["id"] for item in resumed.items] == list(range(100, 150))
    assert resumed.page_number == 2 and resumed.next_url is None


def test_a_next_link_to_another_host_is_refused(fake_github, fake_http, sleeps, clock):
    foreign = f"{fake_http.url}/repos/o/r/pulls?per_page=100&page=2"
    fake_github.add(
        "GET", "/repos/o/r/pulls",
        FakeResponse(200, json=[{"number": 1}], headers={"Link": f'<{foreign}>; rel="next"'}),
    )
    fake_http.add("GET", "/repos/o/r/pulls", FakeResponse(200, json=[{"number": 2}]))
    seen: list[Any] = []

    async def scenario() -> None:
        async with GitHubClient(
            StaticTokenSource(TOKEN), base_url=fake_github.url, sleep=sleeps, now=clock
        ) as client:
            async for page in client.paginate("/repos/o/r/pulls"):
                seen.extend(page.items)

    with pytest.raises(GitHubError, match="(?i)refusing to follow pagination to another host"):
        run(scenario())

    assert seen == [{"number": 1}]
    assert fake_http.requests == []


# ETags -------------------------------------------------------------------------------------------
def test_a_matching_etag_raises_not_modified_and_spends_no_budget(fake_github, sleeps, clock):
    fake_github.add_json("/repos/o/r", {"id": 7})

    async def scenario() -> Any:
        async with GitHubClient(
            StaticTokenSource(TOKEN), base_url=fake_github.url, sleep=sleeps, now=clock
        ) as client:
            first = await client.get_json("/repos/o/r")
            budget_after_first = fake_github.rate_limit.remaining
            with pytest.raises(NotModified) as raised:
                await client.get_json("/repos/o/r", etag=first.etag)
            return first, budget_after_first, raised.value

    first, budget_after_first, not_modified = run(scenario())

    assert first.etag
    assert not_modified.etag == first.etag
    assert fake_github.requests[1].headers["If-None-Match"] == first.etag
    assert fake_github.rate_limit.remaining == budget_after_first
    assert sleeps.waits == []


# Rate limits -------------------------------------------------------------------------------------
def test_a_429_with_a_reset_an_hour_away_blocks_until_that_reset(fake_github, sleeps, clock):
    reset = int(time.time()) + 3600
    fake_github.add_json("/repos/o/r", {"id": 7})
    fake_github.set_rate_limit(remaining=0, reset=reset, status=429)

    with pytest.raises(RateLimited) as raised:
        run(get(fake_github.url, "/repos/o/r", sleeps, clock))

    assert raised.value.reset == dt.datetime.fromtimestamp(reset, dt.UTC)
    assert raised.value.remaining == 0 and raised.value.limit == 5000
    assert sleeps.waits == []
    assert len(fake_github.requests) == 1


def test_retry_after_is_waited_when_there_is_no_reset(fake_http, sleeps, clock):
    fake_http.add("GET", "/repos/o/r", [
        FakeResponse(429, json={"message": "Too many requests"}, headers={"Retry-After": "7"}),
        FakeResponse(200, json={"id": 7}),
    ])

    response = run(get(fake_http.url, "/repos/o/r", sleeps, clock))

    assert response.data == {"id": 7}
    assert sleeps.waits == [7.0]


def test_a_retry_after_over_a_minute_blocks_instead_of_sleeping(fake_http, sleeps, clock):
    fake_http.add("GET", "/repos/o/r", FakeResponse(
        403, json={"message": "You have exceeded a secondary rate limit."},
        headers={"Retry-After": "120"},
    ))

    with pytest.raises(RateLimited) as raised:
        run(get(fake_http.url, "/repos/o/r", sleeps, clock))

    assert raised.value.reset == clock() + dt.timedelta(seconds=120)
    assert sleeps.waits == []
    assert len(fake_http.requests) == 1


def test_a_403_secondary_rate_limit_is_a_rate_limit_and_retried(fake_github, sleeps, clock):
    message = "You have exceeded a secondary rate limit. Please wait a few minutes."
    fake_github.add("GET", "/repos/o/r", [
        FakeResponse(403, json={"message": message}),
        FakeResponse(200, json={"id": 7}),
    ])

    response = run(get(fake_github.url, "/repos/o/r", sleeps, clock))

    assert response.data == {"id": 7}
    # Budget is left, so the primary reset says nothing about this limit: wait a minute.
    assert sleeps.waits == [60.0]


def test_a_403_with_a_spent_budget_is_a_rate_limit(fake_github, sleeps, clock):
    reset = clock() + dt.timedelta(seconds=20)
    fake_github.add("GET", "/repos/o/r", [
        FakeResponse(403, json={"message": "Forbidden"}, headers=budget_headers(0, 5000, reset)),
        FakeResponse(200, json={"id": 7}),
    ])

    response = run(get(fake_github.url, "/repos/o/r", sleeps, clock))

    assert response.data == {"id": 7}
    assert sleeps.waits == [20.0]


def test_a_plain_403_is_an_error_and_not_retried(fake_github, sleeps, clock):
    fake_github.add_json(
        "/repos/o/r", {"message": "Resource not accessible by integration"}, status=403
    )

    with pytest.raises(GitHubError) as raised:
        run(get(fake_github.url, "/repos/o/r", sleeps, clock))

    assert not isinstance(raised.value, RateLimited)
    assert raised.value.status == 403
    assert str(raised.value) == "GitHub API error (403): Resource not accessible by integration"
    assert len(fake_github.requests) == 1
    assert sleeps.waits == []


def test_github_enterprise_zero_budget_never_blocks(fake_github, sleeps, clock):
    disabled = {"x-ratelimit-remaining": "0", "x-ratelimit-limit": "0",
                "x-ratelimit-reset": str(int(time.time()) + 3600)}
    fake_github.add("GET", "/repos/o/r", FakeResponse(200, json={"id": 7}, headers=disabled))
    fake_github.add("GET", "/repos/o/r/hooks", FakeResponse(
        403, json={"message": "Must have admin rights to Repository."}, headers=disabled
    ))
    recorded: list[RateLimitInfo] = []

    async def scenario() -> GitHubClient:
        async with GitHubClient(
            StaticTokenSource(TOKEN), base_url=fake_github.url, sleep=sleeps, now=clock,
            on_rate_limit=recorded.append,
        ) as client:
            for _ in range(3):
                assert (await client.get_json("/repos/o/r")).data == {"id": 7}
            with pytest.raises(GitHubError) as raised:
                await client.get_json("/repos/o/r/hooks")
            assert not isinstance(raised.value, RateLimited)
            return client

    client = run(scenario())

    assert sleeps.waits == []
    assert client.low_budget_reset is None
    assert len(recorded) == 4 and all(info.disabled for info in recorded)


def test_responses_without_rate_limit_headers_never_block(fake_http, sleeps, clock):
    fake_http.add("GET", "/repos/o/r", FakeResponse(200, json={"id": 7}))

    async def scenario() -> GitHubClient:
        async with GitHubClient(
            StaticTokenSource(TOKEN), base_url=fake_http.url, sleep=sleeps, now=clock
        ) as client:
            for _ in range(3):
                await client.get_json("/repos/o/r")
            return client

    client = run(scenario())

    assert client.rate_limit is None and client.low_budget_reset is None
    assert sleeps.waits == [] and len(fake_http.requests) == 3


def test_the_budget_is_recorded_after_every_response(fake_github, sleeps, clock):
    fake_github.add_json("/repos/o/r", {"id": 7})
    fake_github.set_rate_limit(remaining=4000, limit=5000, reset=int(time.time()) + 600)
    recorded: list[RateLimitInfo] = []

    async def scenario() -> None:
        async with GitHubClient(
            StaticTokenSource(TOKEN), base_url=fake_github.url, sleep=sleeps, now=clock,
            on_rate_limit=recorded.append,
        ) as client:
            await client.get_json("/repos/o/r")
            await client.get_json("/repos/o/r")

    run(scenario())

    assert [(info.remaining, info.limit) for info in recorded] == [(3999, 5000), (3998, 5000)]
    assert recorded[0].reset == dt.datetime.fromtimestamp(fake_github.rate_limit.reset, dt.UTC)


def test_a_low_budget_pauses_the_next_call_as_for_a_rate_limit(fake_github, sleeps, clock):
    reset = int(time.time()) + 3600
    fake_github.add_json("/repos/o/r", {"id": 7})
    fake_github.set_rate_limit(remaining=60, reset=reset)

    async def scenario() -> Any:
        async with GitHubClient(
            StaticTokenSource(TOKEN), base_url=fake_github.url, sleep=sleeps, now=clock
        ) as client:
            first = await client.get_json("/repos/o/r")
            with pytest.raises(RateLimited) as raised:
                await client.get_json("/repos/o/r")
            return first, raised.value

    first, blocked = run(scenario())

    assert first.data == {"id": 7}  # the response already paid for is kept
    assert blocked.reset == dt.datetime.fromtimestamp(reset, dt.UTC)
    assert len(fake_github.requests) == 1


def test_webhook_work_may_spend_the_reserve(fake_github, sleeps, clock):
    fake_github.add_json("/repos/o/r", {"id": 7})
    fake_github.set_rate_limit(remaining=60, reset=int(time.time()) + 3600)

    async def scenario() -> None:
        async with GitHubClient(
            StaticTokenSource(TOKEN), base_url=fake_github.url, sleep=sleeps, now=clock,
            keep_in_reserve=0,
        ) as client:
            await client.get_json("/repos/o/r")
            await client.get_json("/repos/o/r")

    run(scenario())

    assert len(fake_github.requests) == 2 and sleeps.waits == []


def test_a_low_budget_resetting_within_a_minute_is_slept(fake_github, sleeps, clock):
    reset = clock() + dt.timedelta(seconds=30)
    fake_github.add("GET", "/repos/o/r", FakeResponse(
        200, json={"id": 7}, headers=budget_headers(10, 5000, reset)
    ))

    async def scenario() -> None:
        async with GitHubClient(
            StaticTokenSource(TOKEN), base_url=fake_github.url, sleep=sleeps, now=clock
        ) as client:
            await client.get_json("/repos/o/r")
            await client.get_json("/repos/o/r")

    run(scenario())

    assert sleeps.waits == [30.0]
    assert len(fake_github.requests) == 2


def test_a_reset_in_the_past_never_sleeps_a_negative_time(fake_github, sleeps, clock):
    past = clock() - dt.timedelta(minutes=5)
    fake_github.add("GET", "/repos/o/r", [
        FakeResponse(403, json={"message": "API rate limit exceeded"},
                     headers=budget_headers(0, 5000, past)),
        FakeResponse(200, json={"id": 7}, headers=budget_headers(5, 5000, past)),
        FakeResponse(200, json={"id": 7}, headers=budget_headers(4, 5000, past)),
    ])

    async def scenario() -> None:
        async with GitHubClient(
            StaticTokenSource(TOKEN), base_url=fake_github.url, sleep=sleeps, now=clock
        ) as client:
            await client.get_json("/repos/o/r")
            await client.get_json("/repos/o/r")

    run(scenario())

    assert sleeps.waits == [0.0]
    assert len(fake_github.requests) == 3


# Retries -----------------------------------------------------------------------------------------
def test_a_502_then_200_succeeds_after_one_second(fake_github, sleeps, clock):
    fake_github.add("GET", "/repos/o/r", [
        FakeResponse(502, body="<html>Bad Gateway</html>"),
        FakeResponse(200, json={"id": 7}),
    ])

    response = run(get(fake_github.url, "/repos/o/r", sleeps, clock))

    assert response.data == {"id": 7}
    assert sleeps.waits == [1.0]


def test_server_errors_are_retried_three_times_with_backoff_then_raised(fake_github, sleeps, clock):
    fake_github.add_json("/repos/o/r", {"message": "Server Error"}, status=500)

    with pytest.raises(GitHubError) as raised:
        run(get(fake_github.url, "/repos/o/r", sleeps, clock))

    assert str(raised.value) == "GitHub API error (500): Server Error"
    assert sleeps.waits == [1.0, 2.0, 4.0]
    assert len(fake_github.requests) == 4


def test_a_client_without_retry_delays_fails_at_once_and_never_sleeps(fake_github, sleeps, clock):
    fake_github.add_json("/repos/o/r", {"message": "Server Error"}, status=500)

    with pytest.raises(GitHubError):
        run(get(fake_github.url, "/repos/o/r", sleeps, clock, retry_delays_s=()))

    assert sleeps.waits == []
    assert len(fake_github.requests) == 1


def test_a_client_that_sleeps_no_rate_limit_wait_raises_rate_limited_at_once(
        fake_http, sleeps, clock):
    fake_http.add("GET", "/repos/o/r", FakeResponse(
        429, json={"message": "Too many requests"}, headers={"Retry-After": "7"}))

    with pytest.raises(RateLimited):
        run(get(fake_http.url, "/repos/o/r", sleeps, clock, max_slept_wait_s=0.0))

    assert sleeps.waits == []
    assert len(fake_http.requests) == 1


def test_a_dropped_connection_is_retried(fake_http, sleeps, clock):
    fake_http.add("GET", "/repos/o/r", [
        FakeResponse(disconnect=True), FakeResponse(200, json={"id": 7})
    ])

    response = run(get(fake_http.url, "/repos/o/r", sleeps, clock))

    assert response.data == {"id": 7}
    assert sleeps.waits == [1.0]


@pytest.mark.parametrize("status", [404, 422])
def test_client_errors_are_not_retried(fake_github, sleeps, clock, status):
    fake_github.add_json("/repos/o/r", {"message": "Nope"}, status=status)

    with pytest.raises(GitHubError) as raised:
        run(get(fake_github.url, "/repos/o/r", sleeps, clock))

    assert raised.value.status == status
    assert len(fake_github.requests) == 1
    assert sleeps.waits == []


def test_a_recorded_422_is_reported_with_its_message(fake_github, sleeps, clock):
    fake_github.load_fixture("errors")

    async def scenario() -> None:
        async with GitHubClient(
            StaticTokenSource(TOKEN), base_url=fake_github.url, sleep=sleeps, now=clock
        ) as client:
            await client.post_json("/repos/octokit-fixture-org/errors/labels", {"name": "x"})

    with pytest.raises(GitHubError, match=r"^GitHub API error \(422\): Validation Failed$"):
        run(scenario())
    assert len(fake_github.requests) == 1


def test_an_error_without_a_message_names_the_reason(fake_http, sleeps, clock):
    fake_http.add("GET", "/repos/o/r", FakeResponse(404, body=""))

    with pytest.raises(GitHubError, match=r"^GitHub API error \(404\): Not Found$"):
        run(get(fake_http.url, "/repos/o/r", sleeps, clock))


def test_an_html_200_body_is_retried_then_reported_unreadable(fake_github, sleeps, clock):
    fake_github.add("GET", "/repos/o/r", FakeResponse(
        200, body="<html><body>Unicorn!</body></html>", headers={"Content-Type": "text/html"}
    ))

    with pytest.raises(UnreadableResponse) as raised:
        run(get(fake_github.url, "/repos/o/r", sleeps, clock))

    assert str(raised.value) == "GitHub returned an unreadable response (status 200)"
    assert sleeps.waits == [1.0, 2.0, 4.0]
    assert len(fake_github.requests) == 4


def test_truncated_json_is_retried(fake_github, sleeps, clock):
    fake_github.add("GET", "/repos/o/r", [
        FakeResponse(
            200, body='{"id": 7, "name": "r', headers={"Content-Type": "application/json"}
        ),
        FakeResponse(200, json={"id": 7}),
    ])

    response = run(get(fake_github.url, "/repos/o/r", sleeps, clock))

    assert response.data == {"id": 7}
    assert sleeps.waits == [1.0]


def test_a_401_with_a_static_token_is_not_retried(fake_github, sleeps, clock):
    fake_github.add_json("/user", {"message": "Bad credentials"}, status=401)

    with pytest.raises(GitHubError, match=r"\(401\): Bad credentials"):
        run(get(fake_github.url, "/user", sleeps, clock))
    assert len(fake_github.requests) == 1


# Only GITHUB_API_URL's host ----------------------------------------------------------------------
def test_a_full_url_on_another_host_is_never_called(fake_github, fake_http, sleeps, clock):
    fake_http.add("GET", "/repos/o/r", FakeResponse(200, json={"id": 7}))

    with pytest.raises(GitHubError, match="(?i)refusing to call another host"):
        run(get(fake_github.url, f"{fake_http.url}/repos/o/r", sleeps, clock))

    assert fake_http.requests == [] and fake_github.requests == []


def test_a_redirect_is_followed_on_the_api_host_but_never_to_another(
    fake_github, fake_http, sleeps, clock
):
    fake_github.add("GET", "/repos/old/name", FakeResponse(
        301, json={"message": "Moved Permanently"},
        headers={"Location": f"{fake_github.url}/repositories/42"},
    ))
    fake_github.add_json("/repositories/42", {"id": 42})
    fake_github.add("GET", "/repos/o/elsewhere", FakeResponse(
        301, headers={"Location": f"{fake_http.url}/repositories/43"}
    ))

    moved = run(get(fake_github.url, "/repos/old/name", sleeps, clock))
    with pytest.raises(GitHubError, match="(?i)refusing"):
        run(get(fake_github.url, "/repos/o/elsewhere", sleeps, clock))

    assert moved.data == {"id": 42}
    assert fake_http.requests == []
