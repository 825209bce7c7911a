"""At most 60 requests a minute per client IP on `/auth/*` (docs/SECURITY.md).

A fixed window per IP: the first request opens a 60-second window, the 61st within it is refused
with 429 and `Retry-After` (seconds until the window closes). With `REDIS_URL` set the counts live
in Redis, so every backend worker shares one window per client; without it (one worker) they live
in the process. When Redis cannot be reached the process counts on its own until it can again.

The client is the TCP peer. `X-Forwarded-For` is believed only when the peer is one of
`GITPULSE_TRUSTED_PROXIES` (none by default): then the client is the right-most entry that is not
itself a trusted proxy, the one our own proxies appended; entries left of it are whatever the
client chose to send.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from gitpulse_app.core.config import get_settings

AUTH_PREFIX = "/auth/"
LIMIT = 60
WINDOW_S = 60.0
REDIS_KEY_PREFIX = "gitpulse:ratelimit:auth:"
REDIS_TIMEOUT_S = 0.5
_SWEEP_EVERY = 1024  # requests between sweeps of closed windows (bounds memory)

log = logging.getLogger(__name__)


def client_ip(scope: Scope, trusted_proxies: frozenset[str] = frozenset()) -> str:
    """The client of a request: the peer, or behind trusted proxies the forwarded client."""
    client = scope.get("client")
    peer = client[0] if client else "unknown"
    if peer not in trusted_proxies:
        return peer
    forwarded = Headers(scope=scope).get("x-forwarded-for") or ""
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    for hop in reversed(hops):
        if hop not in trusted_proxies:
            return hop
    return hops[0] if hops else peer


@dataclass
class _Window:
    opened_at: float
    count: int = 0


class LocalWindows:
    """Fixed windows counted in this process."""

    def __init__(self, limit: int, window_s: float, clock: Callable[[], float]) -> None:
        self.limit, self.window_s, self.clock = limit, window_s, clock
        self._windows: dict[str, _Window] = {}
        self._since_sweep = 0

    def hit(self, ip: str) -> int | None:
        """Count one request from `ip`; None when allowed, else the seconds to wait."""
        now = self.clock()
        self._sweep(now)
        window = self._windows.get(ip)
        if window is None or now - window.opened_at >= self.window_s:
            window = self._windows[ip] = _Window(opened_at=now)
        window.count += 1
        if window.count <= self.limit:
            return None
        return max(1, math.ceil(window.opened_at + self.window_s - now))

    def _sweep(self, now: float) -> None:
        self._since_sweep += 1
        if self._since_sweep < _SWEEP_EVERY:
            return
        self._since_sweep = 0
        closed = [ip for ip, w in self._windows.items() if now - w.opened_at >= self.window_s]
        for ip in closed:
            del self._windows[ip]


class RedisWindows:
    """Fixed windows in Redis, shared by every worker: a counter per IP that expires with its
    window (the first request creates it with the window's lifetime)."""

    def __init__(self, url: str, limit: int, window_s: float, prefix: str = REDIS_KEY_PREFIX
                 ) -> None:
        self.limit, self.window_ms, self.prefix = limit, int(window_s * 1000), prefix
        self.client = redis.Redis.from_url(url, socket_timeout=REDIS_TIMEOUT_S,
                                           socket_connect_timeout=REDIS_TIMEOUT_S)

    def hit(self, ip: str) -> int | None:
        """As `LocalWindows.hit`. Raises `redis.RedisError` when Redis cannot answer."""
        key = self.prefix + ip
        with self.client.pipeline(transaction=True) as pipe:
            pipe.set(key, 0, px=self.window_ms, nx=True)
            pipe.incr(key)
            pipe.pttl(key)
            _created, count, ttl_ms = pipe.execute()
        if count <= self.limit:
            return None
        return max(1, math.ceil(max(ttl_ms, 0) / 1000))


class AuthRateLimit:
    """ASGI middleware limiting requests under `prefix` per client IP.

    Args:
        app: The wrapped application.
        prefix: Paths counted (everything else passes untouched).
        limit: Requests allowed per window.
        window_s: Window length in seconds.
        clock: Monotonic seconds for the in-process windows (tests inject their own).
        redis_url: Where shared windows live (default `REDIS_URL`; None: in this process).
        trusted_proxies: Peers whose `X-Forwarded-For` is believed (default
            `GITPULSE_TRUSTED_PROXIES`).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        prefix: str = AUTH_PREFIX,
        limit: int = LIMIT,
        window_s: float = WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
        redis_url: str | None = None,
        trusted_proxies: frozenset[str] | None = None,
    ) -> None:
        settings = get_settings()
        self.app = app
        self.prefix = prefix
        self.trusted_proxies = (settings.trusted_proxies if trusted_proxies is None
                                else trusted_proxies)
        self.local = LocalWindows(limit, window_s, clock)
        url = redis_url if redis_url is not None else settings.redis_url
        self.shared = RedisWindows(url, limit, window_s) if url else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        ip = client_ip(scope, self.trusted_proxies)
        retry_after = await asyncio.to_thread(self.hit, ip) if self.shared else self.hit(ip)
        if retry_after is None:
            await self.app(scope, receive, send)
            return
        response = JSONResponse(
            {"error": "Too many requests"}, status_code=429, headers={"Retry-After": str(retry_after)}
        )
        await response(scope, receive, send)

    def hit(self, ip: str) -> int | None:
        """Count one request from `ip`; None when allowed, else the seconds to wait."""
        if self.shared is not None:
            try:
                return self.shared.hit(ip)
            except redis.RedisError:
                log.warning("Rate limit store unreachable; counting in this process")
        return self.local.hit(ip)
