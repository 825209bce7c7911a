"""The in-process embedding drain every backend process runs.

It drains the queue as soon as `fact_changed` wakes it (facts embedded within seconds) and polls
every 10 s; each poll also runs the background enqueuer, which fills in facts that have neither a
vector nor a queue row for the primary model (after a configuration change, or a missed signal).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import threading

from gitpulse_app.core.db import session_scope
from gitpulse_app.core.workers import worker
from gitpulse_app.intelligence.embeddings.queue import DrainStats, drain, enqueue_missing

log = logging.getLogger(__name__)

POLL_INTERVAL_S = 10.0

_wakers: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
_wakers_lock = threading.Lock()


def wake() -> None:
    """Wake every running embedding worker of this process (safe from any thread)."""
    with _wakers_lock:
        wakers = list(_wakers)
    for loop, event in wakers:
        with contextlib.suppress(RuntimeError):  # the loop is closing
            loop.call_soon_threadsafe(event.set)


def run_once(now: dt.datetime | None = None, *, enqueue: bool = True) -> DrainStats:
    """One round of the worker: the background enqueuer (optional), then a full drain."""
    if enqueue:
        with session_scope() as session:
            queued = enqueue_missing(session, now=now)
        if queued:
            log.info("Queued %d facts that had no embedding for the primary model", queued)
    return drain(now)


@worker("embeddings")
async def embeddings_worker() -> None:
    """Drain on every wake-up and every 10 s, for the life of the process."""
    loop = asyncio.get_running_loop()
    event = asyncio.Event()
    with _wakers_lock:
        _wakers.append((loop, event))
    try:
        polled = True
        while True:
            await asyncio.to_thread(run_once, enqueue=polled)
            try:
                await asyncio.wait_for(event.wait(), POLL_INTERVAL_S)
                polled = False
            except TimeoutError:
                polled = True
            event.clear()
    finally:
        with _wakers_lock:
            _wakers.remove((loop, event))
