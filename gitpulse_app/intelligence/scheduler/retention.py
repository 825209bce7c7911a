"""Retention: the daily cleanup run by the 03:45 UTC tick.

Deleted, by age at the injected clock reading:
- completed or failed ingestion jobs, and finished (completed/failed) sync batches, after 7 days;
- completed webhook envelopes after 30 days, failed ones (dead letters) after 90 days;
- expired auth sessions;
- report regenerations after 30 days.

Facts, reports, embeddings and email deliveries are never touched.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

import sqlalchemy as sa

from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import (
    AuthSession,
    IngestionJob,
    ReportRegeneration,
    SyncBatch,
    WebhookEvent,
)

SYNC_WORK_KEPT = dt.timedelta(days=7)
COMPLETED_ENVELOPES_KEPT = dt.timedelta(days=30)
FAILED_ENVELOPES_KEPT = dt.timedelta(days=90)
REGENERATIONS_KEPT = dt.timedelta(days=30)
FINISHED = ("completed", "failed")


@dataclass
class RetentionResult:
    """Rows deleted per kind."""

    jobs: int = 0
    batches: int = 0
    envelopes: int = 0
    sessions: int = 0
    regenerations: int = 0

    def as_json(self) -> dict[str, int]:
        return asdict(self)

    @property
    def total(self) -> int:
        return sum(asdict(self).values())


def _count(result: sa.CursorResult) -> int:
    return max(result.rowcount or 0, 0)


def cleanup(now: dt.datetime) -> RetentionResult:
    """Delete what the rules above let go, in one transaction.

    Args:
        now: The clock reading (`tick --at`): every age is measured from it.

    Returns:
        How many rows of each kind were deleted.
    """
    result = RetentionResult()
    work_cutoff = now - SYNC_WORK_KEPT
    jobs = IngestionJob.__table__
    batches = SyncBatch.__table__
    envelopes = WebhookEvent.__table__
    with session_scope() as session:
        finished_batches = sa.select(batches.c.id).where(
            batches.c.status.in_(FINISHED),
            sa.func.coalesce(batches.c.completed_at, batches.c.updated_at) < work_cutoff,
        )
        # Jobs of an old finished batch go with it; an old finished job of a batch still
        # running (very long syncs) goes on its own.
        result.jobs = _count(session.execute(sa.delete(jobs).where(sa.or_(
            jobs.c.batch_id.in_(finished_batches),
            sa.and_(jobs.c.status.in_(FINISHED),
                    sa.func.coalesce(jobs.c.completed_at, jobs.c.updated_at) < work_cutoff),
        ))))
        result.batches = _count(session.execute(
            sa.delete(batches).where(batches.c.id.in_(finished_batches))))
        result.envelopes = _count(session.execute(sa.delete(envelopes).where(sa.or_(
            sa.and_(envelopes.c.status == "completed",
                    sa.func.coalesce(envelopes.c.processed_at, envelopes.c.received_at)
                    < now - COMPLETED_ENVELOPES_KEPT),
            sa.and_(envelopes.c.status == "failed",
                    envelopes.c.updated_at < now - FAILED_ENVELOPES_KEPT),
        ))))
        result.sessions = _count(session.execute(
            sa.delete(AuthSession.__table__).where(AuthSession.__table__.c.expires_at < now)))
        regenerations = ReportRegeneration.__table__
        result.regenerations = _count(session.execute(sa.delete(regenerations).where(
            regenerations.c.created_at < now - REGENERATIONS_KEPT)))
    return result
