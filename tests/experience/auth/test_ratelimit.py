"""`/auth/*` allows 60 requests a minute per client IP (docs/SECURITY.md)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest
import redis
from starlette.testclient import TestClient

from gitpulse_app.experience.auth.ratelimit import (
    REDIS_KEY_PREFIX,
    AuthRateLimit,
    RedisWindows,
    client_ip,
)
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


def test_behind_a_trusted_proxy_the_last_forwarded_entry_is_the_client(engine, configure):
    configure(GITPULSE_TRUSTED_PROXIES="10.0.0.5, 127.0.0.1")
    app = create_api(with_workers=False)
    with TestClient(app, client=("127.0.0.1", 5000), follow_redirects=False) as proxied:
        for _ in range(60):
            proxied.get("/auth/demo", headers={"X-Forwarded-For": "6.6.6.6, 203.0.113.9"})
        refused = proxied.get("/auth/demo", headers={"X-Forwarded-For": "1.1.1.1, 203.0.113.9"})
        other = proxied.get("/auth/demo", headers={"X-Forwarded-For": "203.0.113.9, 198.51.100.1"})

    assert refused.status_code == 429  # a spoofed first entry does not buy a new window
    assert other.status_code != 429


def test_forwarded_headers_are_believed_only_from_trusted_proxies(configure):
    scope = {"type": "http", "client": ("203.0.113.9", 1234),
             "headers": [(b"x-forwarded-for", b"6.6.6.6, 198.51.100.1, 10.0.0.5")]}
    trusted = frozenset({"127.0.0.1", "10.0.0.5"})
    assert client_ip(scope, trusted) == "203.0.113.9"  # a remote peer speaks for itself
    local = {**scope, "client": ("127.0.0.1", 1234)}
    assert client_ip(local) == "127.0.0.1"  # by default no proxy is trusted, not even loopback
    # Behind two trusted hops: the right-most entry that is not one of our proxies.
    assert client_ip(local, trusted) == "198.51.100.1"
    assert client_ip({**local, "headers": []}, trusted) == "127.0.0.1"
    settings = configure(GITPULSE_TRUSTED_PROXIES=" 127.0.0.1 ,10.0.0.5,, ")
    assert settings.trusted_proxies == trusted
    assert configure(GITPULSE_TRUSTED_PROXIES=None).trusted_proxies == frozenset()


def test_a_spoofed_forwarded_header_from_an_untrusted_peer_buys_no_new_window(engine):
    app = create_api(with_workers=False)
    with TestClient(app, client=("127.0.0.1", 5000), follow_redirects=False) as direct:
        for n in range(60):
            direct.get("/auth/demo", headers={"X-Forwarded-For": f"198.51.100.{n}"})
        refused = direct.get("/auth/demo", headers={"X-Forwarded-For": "203.0.113.77"})
    assert refused.status_code == 429


# Shared by every worker through Redis -------------------------------------------------------------
@pytest.fixture
def redis_url() -> Iterator[str]:
    url = os.environ.get("GITPULSE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    client = redis.Redis.from_url(url)
    for key in client.scan_iter(REDIS_KEY_PREFIX + "*"):
        client.delete(key)
    yield url
    for key in client.scan_iter(REDIS_KEY_PREFIX + "*"):
        client.delete(key)
    client.close()


@pytest.mark.redis
def test_two_workers_share_one_window_through_redis(engine, configure, redis_url):
    configure(REDIS_URL=redis_url)
    workers = [TestClient(create_api(with_workers=False), client=("203.0.113.50", 4000),
                          follow_redirects=False) for _ in range(2)]
    statuses = [workers[n % 2].get("/auth/demo").status_code for n in range(60)]
    assert 429 not in statuses
    refused = workers[0].get("/auth/demo")
    assert refused.status_code == 429 and 1 <= int(refused.headers["retry-after"]) <= 60
    assert workers[1].get("/auth/demo").status_code == 429  # the other worker knows it too
    other = TestClient(create_api(with_workers=False), client=("203.0.113.51", 4000),
                       follow_redirects=False)
    assert other.get("/auth/demo").status_code != 429
    ttl = redis.Redis.from_url(redis_url).pttl(REDIS_KEY_PREFIX + "203.0.113.50")
    assert 0 < ttl <= 60_000  # the window expires on its own


@pytest.mark.redis
def test_redis_windows_reopen_when_they_expire(redis_url):
    windows = RedisWindows(redis_url, limit=2, window_s=0.3)
    assert windows.hit("192.0.2.1") is None and windows.hit("192.0.2.1") is None
    assert windows.hit("192.0.2.1") == 1
    client = redis.Redis.from_url(redis_url)

    deadline = time.monotonic() + 5
    while client.exists(REDIS_KEY_PREFIX + "192.0.2.1") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert windows.hit("192.0.2.1") is None


def test_an_unreachable_redis_falls_back_to_counting_in_the_process():
    limiter = AuthRateLimit(app=None, redis_url="redis://127.0.0.1:1/0", limit=2)
    assert limiter.hit("192.0.2.9") is None and limiter.hit("192.0.2.9") is None
    assert limiter.hit("192.0.2.9") is not None
