"""The fake HTTP server must behave like a real one, over real sockets."""

from __future__ import annotations

import http.client
import re
import threading
import time

import httpx
import pytest

from tests.support.fake_http import FakeHTTPServer, FakeResponse


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
