"""`/auth/*` allows 60 requests a minute per client IP (SPEC §11 Rate limit)."""

from __future__ import annotations

from starlette.testclient import TestClient

from gitpulse_app.experience.auth.ratelimit import AuthRateLimit, client_ip
from gitpulse_app.experience.http.app import create_api


def test_the_61st_auth_request_in_a_minute_gets_429_with_retry_after(client):
    statuses = [client.get("/auth/github/login").status_code for _ in range(60)]
    assert 429 not in statuses

    response = client.get("/auth/demo")

    assert response.status_code == 429
    assert response.json() == {"error": "Too many requests"}
    assert 1 <= int(response.headers["retry-after"]) <= 60


def test_other_paths_are_not_limited(client):
    for _ in range(61):
        client.get("/auth/github/login")

    assert client.get("/api/health").status_code == 200


def test_the_window_reopens_after_a_minute():
    now = [1000.0]
    limiter = AuthRateLimit(app=None, clock=lambda: now[0])
    assert all(limiter.hit("203.0.113.9") is None for _ in range(60))
    assert limiter.hit("203.0.113.9") == 60
    now[0] += 45
    assert limiter.hit("203.0.113.9") == 15
    assert limiter.hit("198.51.100.1") is None  # another client has its own window
    now[0] += 15
    assert limiter.hit("203.0.113.9") is None


def test_behind_a_local_proxy_the_last_forwarded_entry_is_the_client(engine):
    app = create_api(with_workers=False)
    with TestClient(app, client=("127.0.0.1", 5000), follow_redirects=False) as proxied:
        for _ in range(60):
            proxied.get("/auth/demo", headers={"X-Forwarded-For": "6.6.6.6, 203.0.113.9"})
        refused = proxied.get("/auth/demo", headers={"X-Forwarded-For": "1.1.1.1, 203.0.113.9"})
        other = proxied.get("/auth/demo", headers={"X-Forwarded-For": "203.0.113.9, 198.51.100.1"})

    assert refused.status_code == 429  # a spoofed first entry does not buy a new window
    assert other.status_code != 429


def test_forwarded_headers_from_a_remote_peer_are_ignored():
    scope = {"type": "http", "client": ("203.0.113.9", 1234),
             "headers": [(b"x-forwarded-for", b"198.51.100.1")]}
    assert client_ip(scope) == "203.0.113.9"
    local = {**scope, "client": ("127.0.0.1", 1234)}
    assert client_ip(local) == "198.51.100.1"
