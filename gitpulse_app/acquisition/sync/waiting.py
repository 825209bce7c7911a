"""Start a manual sync of a user's sources and wait for it to end (a caller that needs fresh
events first, such as "Backfill 7 Days" on /reports).

The wait blocks its thread: run it off the event loop. Time comes from the injected `clock` and
`sleep`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import sqlalchemy as sa

from gitpulse_app.acquisition import access
from gitpulse_app.acquisition.sync.service import request_sync
from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import SyncBatch

WAIT_S = 120.0
POLL_S = 3.0


def sync_and_wait(user_id: int, *, timeout_s: float = WAIT_S,
                  poll_s: float = POLL_S,
                  sleep: Callable[[float], None] = time.sleep,
                  clock: Callable[[], float] = time.monotonic) -> int:
    """Request a manual sync of the user's sources (unless the policy blocks it) and wait for the
    running batches to end, polling every 3 s for up to 120 s.

    Returns:
        How many sources a sync was started for.
    """
    with session_scope() as session:
        source_ids = [source.id for source in access.visible_installations(session, user_id)
                      if source.id is not None and source.kind != "demo"]
    started = 0
    for source_id in source_ids:
        result = request_sync(source_id, "manual", user_id=user_id)
        started += bool(result.started)
    if not source_ids:
        return 0
    deadline = clock() + timeout_s
    while clock() < deadline:
        with session_scope() as session:
            running = session.scalar(sa.select(sa.func.count()).select_from(SyncBatch).where(
                SyncBatch.installation_id.in_(source_ids), SyncBatch.status == "running"))
        if not running:
            break
        sleep(poll_s)
    return started
