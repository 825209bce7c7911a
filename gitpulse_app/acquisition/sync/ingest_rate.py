"""The `events_ingested_per_min` metric: facts stored per minute, emitted by the every-minute
finalize job."""

from __future__ import annotations

import datetime as dt

from sqlmodel import col, func, select

from gitpulse_app.core.db import session_scope
from gitpulse_app.core.logging import metric
from gitpulse_app.core.models import Event

INGEST_RATE_WINDOW = dt.timedelta(minutes=1)
INGEST_RATE_SCAN = 100_000  # 1,666 facts/s; far above the sustained rates we serve


def count_recent_facts(now: dt.datetime, window: dt.timedelta = INGEST_RATE_WINDOW) -> int:
    """Facts stored (by webhook or sync) in `(now − window, now]`.

    `events.created_at` has no index; the newest `INGEST_RATE_SCAN` ids (a primary-key range)
    bound the scan, so a minute with more new facts than that counts as that many.
    """
    with session_scope() as session:
        newest = session.exec(select(func.max(Event.id))).one()
        if newest is None:
            return 0
        statement = select(func.count(col(Event.id))).where(
            col(Event.id) > newest - INGEST_RATE_SCAN,
            col(Event.created_at) > now - window,
            col(Event.created_at) <= now,
        )
        return int(session.exec(statement).one())


def emit_ingest_rate(now: dt.datetime) -> int:
    """Emit `events_ingested_per_min`: the facts stored in the minute up to `now`."""
    count = count_recent_facts(now)
    metric("events_ingested_per_min", value=count, window_end=now.isoformat())
    return count
