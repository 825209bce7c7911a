"""The post-sync "today so far" report.

A completed `manual` batch requested by a user, or a completed `webhook` batch, produces the standard
daily report of the work-day window in progress (partial until it ends) for the requesting user or, for webhook
batches, the installation's linked owners. CLI syncs (manual, no user) produce none.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlmodel import select

from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import SyncBatch, User, UserInstallation
from gitpulse_app.intelligence.reports.flows import generate_today_so_far

log = logging.getLogger(__name__)


def post_sync_recipients(batch_id: int) -> list[int]:
    """The users who get a "today so far" report for this finalised batch."""
    with session_scope() as session:
        batch = session.get(SyncBatch, batch_id)
        if batch is None or batch.status != "completed":
            return []
        if batch.trigger == "manual":
            candidates = [batch.requested_by_user_id] if batch.requested_by_user_id else []
        elif batch.trigger == "webhook":
            candidates = list(session.exec(
                select(UserInstallation.user_id).where(
                    UserInstallation.installation_id == batch.installation_id,
                    UserInstallation.role == "owner",
                )
            ))
        else:
            return []
        if not candidates:
            return []
        signed_up = session.exec(
            select(User.id).where(User.id.in_(candidates), User.signed_up_at.is_not(None))
        )
        return sorted(set(signed_up))


def on_batch_finalized(batch_id: int, now: dt.datetime | None = None, **_: object) -> None:
    """The `batch_finalized` receiver, on the finaliser's clock (a tick's injected one)."""
    for user_id in post_sync_recipients(batch_id):
        try:
            generate_today_so_far(user_id, origin="post_sync", now=now)
        except Exception:
            log.exception("Post-sync report failed", extra={"user_id": user_id, "batch_id": batch_id})

