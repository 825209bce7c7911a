"""The in-process embedding drain every backend process runs.

It drains the queue as soon as `fact_changed` wakes it (facts embedded within seconds) and polls
every 10 s; each poll also runs the background enqueuer, which fills in facts that have neither a
vector nor a queue row for the primary model (after a configuration change, or a missed signal).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

from sqlalchemy.engine import Engine

from gitpulse_app.core.db import session_scope
from gitpulse_app.core.polling import Poller
from gitpulse_app.core.workers import worker
from gitpulse_app.intelligence.embeddings.queue import (
    DrainStats,
    drain,
    enqueue_events,
    enqueue_missing,
)

log = logging.getLogger(__name__)

POLL_INTERVAL_S = 10.0

_poller = Poller()
wake = _poller.wake  # facts changed: drain now (safe from any thread)


def on_fact_changed(changes: Sequence[object] = (), engine: Engine | None = None,
                    **_: object) -> None:
    """`fact_changed` receiver: queue the batch's facts for the primary model in one statement, then
    wake the worker.

    The facts are read from `engine` when the sender names it, else from the process-wide engine.
    """
    event_ids = [
        change.event_id for change in changes  # type: ignore[attr-defined]
        if str(getattr(change, "result", "inserted")) != "duplicate"
    ]
    if not event_ids:
        return
    with session_scope(engine) as session:
        enqueue_events(session, event_ids)
    wake()


def run_once(now: dt.datetime | None = None, *, enqueue: bool = True) -> DrainStats:
    """One round of the worker: the background enqueuer (optional), then a full drain."""
    if enqueue:
        _enqueue_missing(now)
    return drain(now)


def _enqueue_missing(now: dt.datetime | None = None) -> None:
    """The background enqueuer: facts with neither a vector nor a queue row for the primary model."""
    with session_scope() as session:
        queued = enqueue_missing(session, now=now)
    if queued:
        log.info("Queued %d facts that had no embedding for the primary model", queued)


@worker("embeddings")
async def embeddings_worker() -> None:
    """Drain on every wake-up and every 10 s (then with the enqueuer), for the life of the process."""
    await _poller.run(drain, POLL_INTERVAL_S, poll=_enqueue_missing)
