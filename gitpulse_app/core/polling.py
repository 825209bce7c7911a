"""The one wake-up-or-poll loop of the in-process queue workers (docs/ARCHITECTURE.md).

A worker drains its queue in a thread (database and network work keep the event loop free), then
waits until `wake()` or until its interval passed, whichever comes first, and drains again.
`wake()` is safe from any thread and from the worker's own event loop; without a running worker
it does nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any


class Poller:
    """The wake-ups of one kind of worker; every worker of that kind in the process listens."""

    def __init__(self) -> None:
        self._listeners: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
        self._lock = threading.Lock()

    def wake(self) -> None:
        """Wake every listening worker now."""
        with self._lock:
            listeners = list(self._listeners)
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        for loop, event in listeners:
            if loop is running:
                event.set()
            else:
                with contextlib.suppress(RuntimeError):  # the worker's loop already closed
                    loop.call_soon_threadsafe(event.set)

    @contextlib.contextmanager
    def listening(self) -> Iterator[asyncio.Event]:
        """An event that `wake()` sets, for the duration of the block (in a running event loop)."""
        entry = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._listeners.append(entry)
        try:
            yield entry[1]
        finally:
            with self._lock:
                self._listeners.remove(entry)

    async def run(
        self, drain: Callable[[], Any], interval_s: float, *,
        poll: Callable[[], Any] | None = None, log: logging.Logger | None = None,
        failure: str = "Worker round failed; retrying at the next poll",
    ) -> None:
        """Run `drain` in a thread now, on every wake-up and every `interval_s`, forever.

        Args:
            drain: The blocking round.
            interval_s: Seconds between rounds without a wake-up.
            poll: Blocking work that runs before `drain` on the first round and after every
                interval, but not on wake-ups (periodic catch-up a wake-up does not need).
            log: Where a failed round is logged, after which the loop goes on at the next
                wake-up or interval; None lets the failure end the loop (the worker's
                supervisor in `core/workers.py` restarts it).
            failure: The message a failed round is logged with.
        """
        with self.listening() as event:
            polled = True
            while True:
                event.clear()
                try:
                    if poll is not None and polled:
                        await asyncio.to_thread(poll)
                    await asyncio.to_thread(drain)
                except Exception:
                    if log is None:
                        raise
                    log.exception(failure)
                try:
                    await asyncio.wait_for(event.wait(), interval_s)
                    polled = False
                except TimeoutError:
                    polled = True
