"""The in-process workers every backend process runs: one registry, two hosts.

Which workers there are: docs/ARCHITECTURE.md.

The Reflex backend starts them as a lifespan task and the standalone `gitpulse_app.api:app` from its
own lifespan, so both processes do the same work. Capabilities add their worker with `worker()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

WorkerFn = Callable[[], Awaitable[None]]

_workers: dict[str, WorkerFn] = {}
log = logging.getLogger(__name__)


def worker(name: str) -> Callable[[WorkerFn], WorkerFn]:
    """Register a long-running coroutine that every backend process runs."""

    def register(fn: WorkerFn) -> WorkerFn:
        _workers[name] = fn
        return fn

    return register


def registered_workers() -> list[str]:
    return sorted(_workers)


async def _supervise(name: str, fn: WorkerFn) -> None:
    # A crashed worker is restarted after a pause instead of silently stopping the capability.
    while True:
        try:
            await fn()
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("Worker %s crashed; restarting in 5 s", name)
            await asyncio.sleep(5)


@contextlib.asynccontextmanager
async def background_workers() -> AsyncIterator[None]:
    """Run every registered worker for the lifetime of the context."""
    tasks = [asyncio.create_task(_supervise(n, f), name=f"gitpulse:{n}") for n, f in _workers.items()]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


# Foreground priority ------------------------------------------------------------------------------
# Latency-critical requests (webhook acks) mark themselves in flight; background loops call
# `yield_to_foreground()` between items, so a burst of deliveries is acknowledged before the same
# process spends its CPU and its database write lock on processing them.
_in_flight = 0
_in_flight_lock = threading.Lock()
_no_foreground = threading.Event()
_no_foreground.set()


@contextlib.contextmanager
def foreground_request() -> Iterator[None]:
    """Mark a latency-critical request in flight for the duration of the block."""
    global _in_flight
    with _in_flight_lock:
        _in_flight += 1
        _no_foreground.clear()
    try:
        yield
    finally:
        with _in_flight_lock:
            _in_flight -= 1
            if _in_flight == 0:
                _no_foreground.set()


def yield_to_foreground(max_wait_s: float = 0.5) -> None:
    """Wait (at most `max_wait_s`, so background work always progresses) while requests are in flight."""
    _no_foreground.wait(max_wait_s)
