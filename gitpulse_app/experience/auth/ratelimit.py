"""At most 60 requests a minute per client IP on `/auth/*` (SPEC §11 Rate limit, beyond).

A fixed window per IP: the first request opens a 60-second window, the 61st within it is refused
with 429 and `Retry-After` (seconds until the window closes). Counts live in this process; with
several backend workers each keeps its own, which still bounds a client to a small multiple.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

AUTH_PREFIX = "/auth/"
LIMIT = 60
WINDOW_S = 60.0
TRUSTED_PROXY = "127.0.0.1"
_SWEEP_EVERY = 1024  # requests between sweeps of closed windows (bounds memory)


def client_ip(scope: Scope) -> str:
    """The client of a request: the peer, or the last `X-Forwarded-For` entry behind a local proxy.

    Only the last entry is trusted: it is the one our own reverse proxy appended; earlier entries
    are whatever the client chose to send.
    """
    client = scope.get("client")
    peer = client[0] if client else "unknown"
    if peer == TRUSTED_PROXY:
        forwarded = Headers(scope=scope).get("x-forwarded-for")
        if forwarded:
            last = forwarded.split(",")[-1].strip()
            if last:
                return last
    return peer


@dataclass
class _Window:
    opened_at: float
    count: int = 0


class AuthRateLimit:
    """ASGI middleware limiting requests under `prefix` per client IP.

    Args:
        app: The wrapped application.
        prefix: Paths counted (everything else passes untouched).
        limit: Requests allowed per window.
        window_s: Window length in seconds.
        clock: Monotonic seconds (tests inject their own).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        prefix: str = AUTH_PREFIX,
        limit: int = LIMIT,
        window_s: float = WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.prefix = prefix
        self.limit = limit
        self.window_s = window_s
        self.clock = clock
        self._windows: dict[str, _Window] = {}
        self._since_sweep = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        retry_after = self.hit(client_ip(scope))
        if retry_after is None:
            await self.app(scope, receive, send)
            return
        response = JSONResponse(
            {"error": "Too many requests"}, status_code=429, headers={"Retry-After": str(retry_after)}
        )
        await response(scope, receive, send)

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
