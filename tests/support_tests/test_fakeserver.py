"""The test doubles must behave like the services they stand in for, over real sockets."""

from __future__ import annotations

import http.client
import re
import smtplib
import ssl
import threading
import time
from email.message import EmailMessage

import httpx
import pytest

from tests.support.fake_github import FakeGitHub
from tests.support.fakeserver import FakeHTTPServer, FakeResponse, FakeSMTPServer

# --------------------------------------------------------------------------------------------
# FakeHTTPServer
# --------------------------------------------------------------------------------------------


def test_scripted_route_answers_with_json_and_records_the_request(fake_http):
    fake_http.add("POST", "/v1/embeddings", FakeResponse(201, json={"ok": True}, headers={"X-Id": "7"}))

    response = httpx.post(
        f"{fake_http.url}/v1/embeddings?model=voyage-3&tag=a&tag=b",
        json={"input": ["hello"]},
        headers={"Authorization": "Bearer k"},
    )

    assert response.status_code == 201
    assert response.json() == {"ok": True}
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["x-id"] == "7"
    [request] = fake_http.requests
    assert request.method == "POST"
    assert request.path == "/v1/embeddings"
    assert request.query == {"model": ["voyage-3"], "tag": ["a", "b"]}
    assert request.param("tag") == "a"
    assert request.headers["authorization"] == "Bearer k"
    assert request.headers["AUTHORIZATION"] == "Bearer k"
    assert request.json() == {"input": ["hello"]}
    assert request.matched


def test_unmatched_request_gets_github_style_404_and_is_recorded(fake_http):
    response = httpx.get(f"{fake_http.url}/nowhere")

    assert response.status_code == 404
    assert response.json() == {"message": "Not Found"}
    assert [r.path for r in fake_http.unmatched] == ["/nowhere"]


def test_response_list_is_used_in_order_and_the_last_repeats(fake_http):
    fake_http.add(
        "GET",
        "/flaky",
        [FakeResponse(502, body="bad gateway"), FakeResponse(503), FakeResponse(200, json=[1])],
    )

    statuses = [httpx.get(f"{fake_http.url}/flaky").status_code for _ in range(5)]

    assert statuses == [502, 503, 200, 200, 200]


def test_responder_sees_the_request_and_regex_path_groups(fake_http):
    def echo(request):
        return FakeResponse(200, json={"owner": request.path_params["owner"], "body": request.text})

    fake_http.add("PUT", re.compile(r"/repos/(?P<owner>[^/]+)/[^/]+"), echo)

    response = httpx.put(f"{fake_http.url}/repos/octo/cat", content=b"payload")

    assert response.json() == {"owner": "octo", "body": "payload"}
    assert httpx.put(f"{fake_http.url}/repos/octo/cat/extra").status_code == 404


def test_query_match_selects_the_route_and_newest_route_wins(fake_http):
    fake_http.add("GET", "/items", FakeResponse(200, json="any"))
    fake_http.add("GET", "/items?page=2", FakeResponse(200, json="second"))
    fake_http.add("GET", "/items", FakeResponse(200, json="state"), query={"state": "all"})

    assert httpx.get(f"{fake_http.url}/items?page=2&per_page=5").json() == "second"
    assert httpx.get(f"{fake_http.url}/items?state=all&page=2").json() == "state"
    assert httpx.get(f"{fake_http.url}/items?page=3").json() == "any"

    fake_http.add("GET", "/items", FakeResponse(200, json="override"))
    assert httpx.get(f"{fake_http.url}/items?page=2").json() == "override"


def test_head_is_answered_by_the_get_route_without_a_body(fake_http):
    fake_http.add("GET", "/healthz", FakeResponse(200, json={"status": "ok"}))

    connection = http.client.HTTPConnection("127.0.0.1", fake_http.port, timeout=5)
    connection.request("HEAD", "/healthz")
    response = connection.getresponse()

    assert response.status == 200
    assert response.getheader("Content-Length") == str(len(b'{"status": "ok"}'))
    assert response.read() == b""
    connection.close()


def test_any_method_can_be_scripted_and_star_matches_every_method(fake_http):
    fake_http.add("PROPFIND", "/dav", FakeResponse(207, body="<multistatus/>"))
    fake_http.add("*", "/anything", FakeResponse(204))

    with httpx.Client(base_url=fake_http.url) as client:
        assert client.request("PROPFIND", "/dav").status_code == 207
        assert client.patch("/anything", json={}).status_code == 204
        assert client.delete("/anything").status_code == 204
        assert client.request("OPTIONS", "/anything").status_code == 204


def test_connections_are_kept_alive_between_requests(fake_http):
    fake_http.add("GET", "/a", FakeResponse(200, json=1))

    with httpx.Client(base_url=fake_http.url) as client:
        for _ in range(3):
            assert client.get("/a").status_code == 200

    assert len({request.client for request in fake_http.requests}) == 1


def test_chunked_request_bodies_are_decoded(fake_http):
    fake_http.add("POST", "/upload", FakeResponse(200))

    def parts():
        yield b"hello "
        yield b"world"

    httpx.post(f"{fake_http.url}/upload", content=parts())

    [request] = fake_http.requests
    assert request.headers["transfer-encoding"] == "chunked"
    assert request.body == b"hello world"


def test_delayed_response_makes_a_client_time_out(fake_http):
    fake_http.add("GET", "/slow", FakeResponse(200, json={}, delay=2))

    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{fake_http.url}/slow", timeout=0.2)
    assert time.monotonic() - started < 1.5


def test_stop_does_not_wait_for_a_scripted_delay():
    server = FakeHTTPServer().start()
    server.add("GET", "/slow", FakeResponse(200, delay=30))
    thread = threading.Thread(target=lambda: _swallow(lambda: httpx.get(f"{server.url}/slow", timeout=60)))
    thread.start()
    server.wait_for_requests(1)

    started = time.monotonic()
    server.stop()
    thread.join(timeout=5)

    assert time.monotonic() - started < 3
    assert not thread.is_alive()


def _swallow(call):
    try:
        call()
    except httpx.HTTPError:
        pass


def test_disconnect_response_drops_the_connection(fake_http):
    fake_http.add("GET", "/drop", [FakeResponse(disconnect=True), FakeResponse(200, json="back")])

    with httpx.Client(base_url=fake_http.url) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            client.get("/drop")
        assert client.get("/drop").json() == "back"


def test_a_failing_responder_answers_500_and_is_reported():
    with FakeHTTPServer() as server:
        server.add("GET", "/bug", lambda request: 1 / 0)

        response = httpx.get(f"{server.url}/bug")

        assert response.status_code == 500
        assert "ZeroDivisionError" in response.json()["message"]
        assert isinstance(server.errors[0], ZeroDivisionError)


def test_requests_to_filters_by_prefix_and_method_and_reset_forgets(fake_http):
    fake_http.add("*", re.compile(r"/.*"), FakeResponse(200))
    with httpx.Client(base_url=fake_http.url) as client:
        client.get("/repos/a/issues")
        client.post("/repos/a/labels")
        client.get("/users/x")

    assert [r.path for r in fake_http.requests_to("/repos")] == ["/repos/a/issues", "/repos/a/labels"]
    assert [r.path for r in fake_http.requests_to("/repos", method="post")] == ["/repos/a/labels"]

    fake_http.clear_requests()
    assert fake_http.requests == []
    assert httpx.get(f"{fake_http.url}/still-routed").status_code == 200

    fake_http.reset()
    assert fake_http.requests == []
    assert httpx.get(f"{fake_http.url}/still-routed").status_code == 404


def test_concurrent_requests_are_all_recorded_and_the_script_is_shared(fake_http):
    script = [FakeResponse(200, json=n) for n in range(20)]
    route = fake_http.add("GET", "/n", script)
    results: list[int] = []
    lock = threading.Lock()

    def worker():
        with httpx.Client(base_url=fake_http.url) as client:
            for _ in range(5):
                value = client.get("/n").json()
                with lock:
                    results.append(value)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == list(range(20))
    assert route.calls == 20
    assert len(fake_http.requests) == 20


def test_wait_for_requests_returns_once_background_work_arrived(fake_http):
    fake_http.add("POST", "/hook", FakeResponse(200))
    threading.Timer(0.1, lambda: httpx.post(f"{fake_http.url}/hook")).start()

    [request] = fake_http.wait_for_requests(1, "/hook", timeout=5)

    assert request.method == "POST"
    with pytest.raises(TimeoutError):
        fake_http.wait_for_requests(2, "/hook", timeout=0.1)


def test_factory_gives_each_outside_service_its_own_server(fake_http_factory):
    openai, voyage = fake_http_factory("openai"), fake_http_factory("voyage")

    assert openai.url != voyage.url
    assert openai.url.startswith("http://127.0.0.1:")


# --------------------------------------------------------------------------------------------
# FakeGitHub
# --------------------------------------------------------------------------------------------


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
    reset = int(time.time()) + 60
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

    fake_github.set_rate_limit(reset=time.time() - 1)  # the window has passed
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


# --------------------------------------------------------------------------------------------
# FakeSMTPServer
# --------------------------------------------------------------------------------------------


def _message(to: str = "dev@example.com") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "GitPulse <reports@localhost>"
    message["To"] = to
    message["Subject"] = "Weekly report"
    message.set_content("Plain body\n.leading dot line\n")
    message.add_alternative("<p>HTML body</p>", subtype="html")
    return message


def test_smtp_records_envelope_and_parsed_message_after_auth_plain(fake_smtp):
    with smtplib.SMTP(fake_smtp.host, fake_smtp.port, timeout=5) as client:
        client.login("gitpulse", "smtp-password")
        client.send_message(_message(), to_addrs=["dev@example.com", "lead@example.com"])

    [recorded] = fake_smtp.messages
    assert recorded.mail_from == "reports@localhost"
    assert recorded.rcpt_tos == ["dev@example.com", "lead@example.com"]
    assert recorded.subject == "Weekly report"
    assert recorded.text == "Plain body\n.leading dot line\n"
    assert recorded.html.strip() == "<p>HTML body</p>"
    assert recorded.auth_user == "gitpulse"
    assert b"Subject: Weekly report" in recorded.data
    assert fake_smtp.auth_attempts[0].mechanism == "PLAIN"
    assert fake_smtp.url == f"smtp://gitpulse:smtp-password@127.0.0.1:{fake_smtp.port}"


def test_smtp_auth_login_and_wrong_password(fake_smtp):
    with smtplib.SMTP(fake_smtp.host, fake_smtp.port, timeout=5) as client:
        client.ehlo()
        client.user, client.password = "gitpulse", "nope"
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            client.auth("LOGIN", client.auth_login)
        assert refused.value.smtp_code == 535
        client.user, client.password = "gitpulse", "smtp-password"
        code, _ = client.auth("LOGIN", client.auth_login)
        assert code == 235

    assert [(a.mechanism, a.succeeded) for a in fake_smtp.auth_attempts] == [
        ("LOGIN", False),
        ("LOGIN", True),
    ]


def test_smtp_requires_auth_when_configured(fake_smtp):
    fake_smtp.require_auth = True

    with smtplib.SMTP(fake_smtp.host, fake_smtp.port, timeout=5) as client:
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            client.send_message(_message())

    assert refused.value.smtp_code == 530
    assert fake_smtp.messages == []


def test_smtp_fails_the_next_n_data_commands_with_the_scripted_code(fake_smtp):
    fake_smtp.fail_next_data(2, code=451)

    with smtplib.SMTP(fake_smtp.host, fake_smtp.port, timeout=5) as client:
        for _ in range(2):
            with pytest.raises(smtplib.SMTPDataError) as failed:
                client.send_message(_message())
            assert failed.value.smtp_code == 451
        client.send_message(_message())

    assert len(fake_smtp.messages) == 1


def test_smtp_rejects_a_scripted_recipient(fake_smtp):
    fake_smtp.reject_recipient("gone@example.com")

    with smtplib.SMTP(fake_smtp.host, fake_smtp.port, timeout=5) as client:
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            client.send_message(_message("gone@example.com"))


def test_smtp_can_refuse_connections_and_accept_again(fake_smtp):
    fake_smtp.refuse_connections(554)
    with pytest.raises(smtplib.SMTPConnectError) as refused:
        smtplib.SMTP(fake_smtp.host, fake_smtp.port, timeout=5)
    assert refused.value.smtp_code == 554

    fake_smtp.refuse_connections(None)
    with pytest.raises(smtplib.SMTPServerDisconnected):
        smtplib.SMTP(fake_smtp.host, fake_smtp.port, timeout=5)

    fake_smtp.accept_connections()
    with smtplib.SMTP(fake_smtp.host, fake_smtp.port, timeout=5) as client:
        assert client.noop()[0] == 250


def test_smtp_starttls_offers_auth_only_after_tls(fake_smtp_factory):
    server = fake_smtp_factory(username="u", password="p", require_auth=True, tls="starttls")
    context = ssl.create_default_context(cafile=server.ca_file)

    with smtplib.SMTP(server.host, server.port, timeout=5) as client:
        client.ehlo()
        assert client.has_extn("starttls") and not client.has_extn("auth")
        client.starttls(context=context)
        client.login("u", "p")
        client.send_message(_message())

    assert server.messages[0].tls
    assert server.url == f"smtp://u:p@127.0.0.1:{server.port}?starttls=1"


def test_smtps_speaks_tls_from_the_first_byte(fake_smtp_factory):
    server = fake_smtp_factory(tls="implicit")
    context = ssl.create_default_context(cafile=server.ca_file)

    with smtplib.SMTP_SSL(server.host, server.port, timeout=5, context=context) as client:
        client.send_message(_message())

    assert server.wait_for_messages(1)[0].tls
    assert server.url.startswith("smtps://127.0.0.1:")


def test_stopped_smtp_server_refuses_tcp_connections():
    server = FakeSMTPServer().start()
    port = server.port
    server.stop()

    with pytest.raises(ConnectionRefusedError):
        smtplib.SMTP("127.0.0.1", port, timeout=5)
