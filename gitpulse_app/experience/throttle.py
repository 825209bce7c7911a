"""At most N actions per key in a sliding window (docs/SECURITY.md).

With `REDIS_URL` set the log of recent actions lives in Redis (one sorted set per key, scored by
the action's time), so every backend worker counts together; otherwise it lives in this process.
Times come from the caller's clock, so the same code runs under an injected clock.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import secrets
import threading
from collections import defaultdict, deque

import redis

from gitpulse_app.core.config import get_settings

log = logging.getLogger(__name__)
REDIS_TIMEOUT_S = 0.5


@functools.cache
def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=REDIS_TIMEOUT_S,
                                socket_connect_timeout=REDIS_TIMEOUT_S)


class SlidingLimit:
    """`allow(key, now)` is True for at most `limit` calls per `key` within any `window`."""

    def __init__(self, name: str, limit: int, window: dt.timedelta) -> None:
        self.name, self.limit, self.window = name, limit, window
        self._lock = threading.Lock()
        self._local: dict[str, deque[float]] = defaultdict(deque)

    def allow(self, key: str, now: dt.datetime) -> bool:
        """Record one action of `key` at `now` when the limit allows it; False when it does not."""
        url = get_settings().redis_url
        if url:
            try:
                return self._allow_shared(_redis(url), key, now.timestamp())
            except redis.RedisError:
                log.warning("Throttle store unreachable; counting in this process",
                            extra={"throttle": self.name})
        return self._allow_local(key, now.timestamp())

    def clear(self) -> None:
        """Forget the in-process log (a new process starts empty; tests start each case so)."""
        with self._lock:
            self._local.clear()

    def _allow_local(self, key: str, at: float) -> bool:
        horizon = at - self.window.total_seconds()
        with self._lock:
            times = self._local[key]
            while times and times[0] <= horizon:
                times.popleft()
            if len(times) >= self.limit:
                return False
            times.append(at)
            return True

    def _allow_shared(self, client: redis.Redis, key: str, at: float) -> bool:
        # Add, then count, in one transaction: concurrent workers are counted one after the
        # other, and whoever lands past the limit takes its own entry back out.
        name = f"gitpulse:throttle:{self.name}:{key}"
        member = f"{at}:{secrets.token_hex(4)}"
        with client.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(name, "-inf", at - self.window.total_seconds())
            pipe.zadd(name, {member: at})
            pipe.zcard(name)
            pipe.expire(name, int(self.window.total_seconds()) + 1)
            count = pipe.execute()[2]
        if count > self.limit:
            client.zrem(name, member)
            return False
        return True
