"""Sync job state transitions and batch finalisation.

The sync worker moves jobs through `claim_next_job` → `heartbeat` → `complete_job` | `block_job` |
`fail_job`; the periodic jobs in `scheduled.py` return blocked and zombie jobs to the queue.
`finalize_batches` closes a batch exactly once when all its jobs ended. Every transition is a
conditional UPDATE on the row's status, so concurrent processes never apply one twice. Requests
(`request_sync`) and the job states live in `service.py`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select, update

from gitpulse_app.acquisition.sync.ingest_rate import emit_ingest_rate
from gitpulse_app.acquisition.sync.models import SyncTrigger
from gitpulse_app.acquisition.sync.service import BLOCKED, COMPLETED, FAILED, PENDING, RUNNING
from gitpulse_app.core.claims import claim_id
from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.db import UTCDateTime, session_scope
from gitpulse_app.core.logging import get_logger, log_fields, metric
from gitpulse_app.core.models import Installation, IngestionJob, SyncBatch
from gitpulse_app.core.signals import batch_finalized
from gitpulse_app.normalization.models import FactType
from gitpulse_app.normalization.store import count_backfilled_facts

log = get_logger(__name__)

CLAIM_RETRIES = 5
MISSED_FACT_GRACE = dt.timedelta(minutes=15)
UNFINISHED = (PENDING, RUNNING, BLOCKED)
# Every fact type also arrives by webhook (push carries commits), so all count as missable.
WEBHOOK_DELIVERABLE_TYPES = frozenset(fact_type.value for fact_type in FactType)


# Job state transitions (called by the sync worker) ----------------------------------------------
def claim_next_job(
    now: dt.datetime | None = None, holder: str | None = None,
    batch_ids: Collection[int] | None = None,
) -> IngestionJob | None:
    """Atomically claim the next due pending job (pending → running).

    A conditional UPDATE on the status decides between competing processes; on PostgreSQL the
    candidate is also picked with `FOR UPDATE SKIP LOCKED`, so claimers do not queue on one row.

    Args:
        now: The clock reading; due means `not_before ≤ now`.
        holder: The claim id recorded in `claimed_by`; default this process's.
        batch_ids: Only jobs of these batches (a CLI run waiting for its own batches); default
            any batch.

    Returns:
        The claimed job (attempts already incremented), or None when nothing is due.
    """
    now = now or utcnow()
    holder = holder or claim_id()
    due = [col(IngestionJob.status) == PENDING, col(IngestionJob.not_before) <= now]
    if batch_ids is not None:
        if not batch_ids:
            return None
        due.append(col(IngestionJob.batch_id).in_(sorted(batch_ids)))
    for _ in range(CLAIM_RETRIES):
        with session_scope() as session:
            candidate = session.exec(
                select(IngestionJob.id)
                .where(*due)
                .order_by(col(IngestionJob.not_before), col(IngestionJob.id))
                .limit(1)
                .with_for_update(skip_locked=True)
            ).first()
            if candidate is None:
                return None
            claimed = session.exec(
                update(IngestionJob)
                .where(col(IngestionJob.id) == candidate, col(IngestionJob.status) == PENDING)
                .values(
                    status=RUNNING,
                    attempts=IngestionJob.attempts + 1,
                    started_at=func.coalesce(
                        IngestionJob.started_at, sa.literal(now, UTCDateTime)
                    ),
                    heartbeat_at=now,
                    claimed_by=holder,
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            if claimed.rowcount != 1:
                continue  # another process took it first
            job = session.get(IngestionJob, candidate)
        assert job is not None
        metric("sync.job.started", job_id=job.id, batch_id=job.batch_id,
               installation_id=job.installation_id, repo=job.repo_full_name, attempt=job.attempts)
        return job
    return None


def _transition(
    job_id: int, from_statuses: Sequence[str], values: dict[str, Any], holder: str | None
) -> IngestionJob | None:
    """Apply `values` when the job is in one of `from_statuses` (and held by `holder`, if given)."""
    with session_scope() as session:
        conditions = [col(IngestionJob.id) == job_id, col(IngestionJob.status).in_(from_statuses)]
        if holder is not None:
            conditions.append(col(IngestionJob.claimed_by) == holder)
        changed = session.exec(
            update(IngestionJob)
            .where(*conditions)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if changed.rowcount != 1:
            return None
        return session.get(IngestionJob, job_id)


def _counter_values(**counters: int | None) -> dict[str, int]:
    return {name: value for name, value in counters.items() if value is not None}


def heartbeat(
    job_id: int,
    cursor: dict[str, Any] | None = None,
    progress: int | None = None,
    *,
    events_ingested: int | None = None,
    events_updated: int | None = None,
    duplicates: int | None = None,
    detail_requests: int | None = None,
    holder: str | None = None,
    now: dt.datetime | None = None,
) -> bool:
    """Record that a running job is alive, with its resumable cursor, progress and counters.

    Counters are the job's running totals (not increments); progress is capped at 99 until the
    job completes.

    Returns:
        False when the job is no longer running (re-queued, failed) or held by another holder.
    """
    now = now or utcnow()
    values: dict[str, Any] = {"heartbeat_at": now, "updated_at": now}
    values.update(_counter_values(events_ingested=events_ingested, events_updated=events_updated,
                                  duplicates=duplicates, detail_requests=detail_requests))
    if cursor is not None:
        values["cursor"] = cursor
    if progress is not None:
        values["progress"] = max(0, min(99, progress))
    job = _transition(job_id, (RUNNING,), values, holder)
    if job is not None and progress is not None:
        metric("sync.job.progress", job_id=job_id, batch_id=job.batch_id, progress=job.progress)
    return job is not None


def complete_job(
    job_id: int,
    *,
    events_ingested: int | None = None,
    events_updated: int | None = None,
    duplicates: int | None = None,
    detail_requests: int | None = None,
    rate_limit_remaining: int | None = None,
    rate_limit_reset: dt.datetime | None = None,
    holder: str | None = None,
    now: dt.datetime | None = None,
) -> bool:
    """Mark a running job completed (progress 100) and finalise its batch if that was the last.

    Returns:
        False when the job was not running (or not held by `holder`); nothing changed then.
    """
    now = now or utcnow()
    values: dict[str, Any] = {
        "status": COMPLETED, "progress": 100, "completed_at": now, "heartbeat_at": now,
        "updated_at": now, "blocked_until": None, "error_message": None,
    }
    values.update(_counter_values(events_ingested=events_ingested, events_updated=events_updated,
                                  duplicates=duplicates, detail_requests=detail_requests))
    if rate_limit_remaining is not None:
        values["rate_limit_remaining"] = rate_limit_remaining
    if rate_limit_reset is not None:
        values["rate_limit_reset"] = rate_limit_reset
    job = _transition(job_id, (RUNNING,), values, holder)
    if job is None:
        return False
    metric("sync.job.completed", job_id=job_id, batch_id=job.batch_id,
           installation_id=job.installation_id, repo=job.repo_full_name,
           events_ingested=job.events_ingested, events_updated=job.events_updated,
           duplicates=job.duplicates, detail_requests=job.detail_requests)
    finalize_batch(job.batch_id, now=now)
    return True


def block_job(
    job_id: int,
    blocked_until: dt.datetime,
    *,
    rate_limit_remaining: int | None = None,
    rate_limit_reset: dt.datetime | None = None,
    cursor: dict[str, Any] | None = None,
    holder: str | None = None,
    now: dt.datetime | None = None,
) -> bool:
    """Park a running job until the rate limit resets; the unblock job re-queues it.

    `heartbeat_at` records when the block began (the 24-hour limit counts from it) and the claim
    is released.

    Returns:
        False when the job was not running (or not held by `holder`).
    """
    now = now or utcnow()
    values: dict[str, Any] = {
        "status": BLOCKED, "blocked_until": blocked_until, "heartbeat_at": now,
        "claimed_by": None, "updated_at": now,
        "rate_limit_remaining": rate_limit_remaining,
        "rate_limit_reset": rate_limit_reset if rate_limit_reset is not None else blocked_until,
    }
    if cursor is not None:
        values["cursor"] = cursor
    job = _transition(job_id, (RUNNING,), values, holder)
    if job is None:
        return False
    metric("sync.job.blocked", job_id=job_id, batch_id=job.batch_id,
           installation_id=job.installation_id, repo=job.repo_full_name,
           blocked_until=blocked_until.isoformat())
    return True


def fail_job(
    job_id: int, message: str, *, holder: str | None = None, now: dt.datetime | None = None
) -> bool:
    """Mark an unfinished job failed with `message` and finalise its batch if that was the last.

    Returns:
        False when the job had already ended (or is not held by `holder`).
    """
    now = now or utcnow()
    values = {"status": FAILED, "error_message": message, "completed_at": now, "updated_at": now}
    job = _transition(job_id, UNFINISHED, values, holder)
    if job is None:
        return False
    metric("sync.job.failed", job_id=job_id, batch_id=job.batch_id,
           installation_id=job.installation_id, repo=job.repo_full_name, error=message)
    finalize_batch(job.batch_id, now=now)
    return True


# Batch finalisation -----------------------------------------------------------------------------
@dataclass(frozen=True)
class _Tally:
    total: int = 0
    completed: int = 0
    failed: int = 0
    events_ingested: int = 0

    @property
    def ended(self) -> bool:
        """Every job completed or failed."""
        return self.completed + self.failed >= self.total


def _tally(session: Session, batch_id: int) -> _Tally:
    rows = session.exec(
        select(
            IngestionJob.status,
            func.count(),
            func.coalesce(func.sum(IngestionJob.events_ingested), 0),
        )
        .where(IngestionJob.batch_id == batch_id)
        .group_by(col(IngestionJob.status))
    ).all()
    by_status = {status: (count, ingested) for status, count, ingested in rows}
    return _Tally(
        total=sum(count for count, _ in by_status.values()),
        completed=by_status.get(COMPLETED, (0, 0))[0],
        failed=by_status.get(FAILED, (0, 0))[0],
        events_ingested=sum(int(ingested) for _, ingested in by_status.values()),
    )


def _missed_facts(session: Session, batch: SyncBatch, now: dt.datetime) -> int:
    """Facts this batch inserted that a webhook should have delivered before the batch started."""
    assert batch.created_at is not None
    return count_backfilled_facts(
        session,
        installation_id=batch.installation_id,
        stored_from=batch.created_at,
        stored_until=now,
        types=WEBHOOK_DELIVERABLE_TYPES,
        happened_before=batch.created_at - MISSED_FACT_GRACE,
    )


def finalize_batch(batch_id: int, *, now: dt.datetime | None = None) -> bool:
    """Finalise one batch if all its jobs ended; exactly once however often it is called.

    Stores counters recomputed from the jobs, the batch's final status and the installation's
    sync outcome, then sends `batch_finalized(batch_id, now)` after the commit.

    Returns:
        True only for the call that finalised the batch.
    """
    now = now or utcnow()
    with session_scope() as session:
        batch = session.get(SyncBatch, batch_id)
        if batch is None or batch.status != RUNNING or not _tally(session, batch_id).ended:
            return False
        # Lock in request_sync's order (installation, then batch) so the two never deadlock.
        installation = session.exec(
            select(Installation).where(Installation.id == batch.installation_id).with_for_update()
        ).first()
        session.refresh(batch, with_for_update=True)
        if batch.status != RUNNING:
            return False
        seen_total = batch.total_repos  # read before the jobs (see _add_jobs)
        tally = _tally(session, batch_id)
        if not tally.ended:
            return False
        all_failed = tally.total > 0 and tally.failed == tally.total
        values: dict[str, Any] = {
            "status": FAILED if all_failed else COMPLETED,
            "total_repos": tally.total,
            "completed_repos": tally.completed,
            "failed_repos": tally.failed,
            "events_ingested": tally.events_ingested,
            "completed_at": now,
            "updated_at": now,
        }
        is_cron = batch.trigger == SyncTrigger.CRON
        missed = _missed_facts(session, batch, now) if is_cron else 0
        if is_cron:
            values["missed_facts"] = missed
        closed = session.exec(
            update(SyncBatch)
            .where(
                col(SyncBatch.id) == batch_id,
                col(SyncBatch.status) == RUNNING,
                col(SyncBatch.total_repos) == seen_total,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if closed.rowcount != 1:
            return False
        if installation is not None:
            cron_missed = missed if is_cron else None
            _record_outcome(installation, batch, tally, all_failed, cron_missed, now)
    log_fields(log, logging.INFO, "Sync batch finalised", batch_id=batch_id,
               installation_id=batch.installation_id, status=values["status"],
               completed_repos=tally.completed, failed_repos=tally.failed,
               events_ingested=tally.events_ingested)
    batch_finalized.send(batch_id=batch_id, now=now)
    return True


def _record_outcome(
    installation: Installation,
    batch: SyncBatch,
    tally: _Tally,
    all_failed: bool,
    missed: int | None,
    now: dt.datetime,
) -> None:
    installation.sync_status = "error" if all_failed else "idle"
    installation.last_sync_error = (
        f"{tally.failed} repo(s) failed to sync" if tally.failed else None
    )
    if tally.completed:
        # The batch's start, so items updated during a long sync are fetched again next time.
        installation.last_synced_at = batch.created_at
    if missed is not None:
        installation.last_reconciled_at = now
        if missed > 0:
            installation.recovery_attempts += 1
            installation.last_recovery_at = now
        else:
            installation.recovery_attempts = 0
    installation.updated_at = now


def finalize_batches(now: dt.datetime | None = None) -> int:
    """Finalise every running batch whose jobs have all ended (the every-minute job), then emit
    the `events_ingested_per_min` metric.

    Returns:
        How many batches this call finalised.
    """
    now = now or utcnow()
    with session_scope() as session:
        ids = session.exec(
            select(SyncBatch.id).where(SyncBatch.status == RUNNING).order_by(col(SyncBatch.id))
        ).all()
    finalized = sum(1 for batch_id in ids
                    if batch_id is not None and finalize_batch(batch_id, now=now))
    emit_ingest_rate(now)
    return finalized
