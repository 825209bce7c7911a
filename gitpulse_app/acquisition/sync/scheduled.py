"""Periodic sync jobs the scheduler runs: unblock, zombie sweep, cron and catch-up.

Each is idempotent and safe to run from several processes at once: every row change is a
conditional UPDATE on the state the sweep read. A job the sweeps put back in the queue keeps its
own earliest start (`not_before`, or the block's `blocked_until`), never later, whatever the
sweeping clock reads: a `tick --at` ahead of real time, or a leader whose clock runs fast, must not
make the job wait for that clock (docs/recovery-clocks.md).
"""

from __future__ import annotations

import datetime as dt
import logging

import sqlalchemy as sa
from sqlmodel import col, select, update

from gitpulse_app.acquisition.access import syncable_repos
from gitpulse_app.acquisition.sync.models import SyncTrigger
from gitpulse_app.acquisition.sync.lifecycle import finalize_batch
from gitpulse_app.acquisition.sync.service import (
    BLOCKED,
    FAILED,
    PENDING,
    RUNNING,
    request_sync,
)
from gitpulse_app.core.claims import holder_is_dead
from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.db import session_scope
from gitpulse_app.core.logging import get_logger, log_fields
from gitpulse_app.core.models import IngestionJob, Installation, UserInstallation

log = get_logger(__name__)

UNBLOCK_LIMIT = 100
MAX_BLOCKED = dt.timedelta(hours=24)
BLOCK_EXCEEDED_MESSAGE = "Rate limit block exceeded 24 h"
ZOMBIE_AFTER = dt.timedelta(minutes=10)
MAX_JOB_ATTEMPTS = 3
ZOMBIE_MESSAGE = "Job timed out (zombie detection)"
RECONCILE_EVERY = dt.timedelta(hours=6)
CATCH_UP_AFTER = dt.timedelta(hours=24)


def _blocked_since(job: IngestionJob) -> dt.datetime:
    # block_job stamps heartbeat_at when the block begins; older rows fall back to updated_at.
    return job.heartbeat_at or job.updated_at


def unblock_jobs(now: dt.datetime | None = None, limit: int = UNBLOCK_LIMIT) -> int:
    """Return blocked jobs whose `blocked_until` has passed to pending; give up on long blocks.

    A job goes back to pending when its block (from `block_job` to `blocked_until`) lasted at most
    24 h, however late this sweep runs; it is due again at its `blocked_until`, not at `now`. A
    job whose block would last longer fails with "Rate limit block exceeded 24 h" once it has
    been blocked for 24 h.

    Args:
        now: The clock reading.
        limit: At most this many jobs are examined per call.

    Returns:
        How many jobs went back to pending.
    """
    now = now or utcnow()
    cutoff = now - MAX_BLOCKED
    unblocked = 0
    failed_batches: set[int] = set()
    with session_scope() as session:
        candidates = session.exec(
            select(IngestionJob)
            .where(
                IngestionJob.status == BLOCKED,
                sa.or_(
                    col(IngestionJob.blocked_until).is_(None),
                    col(IngestionJob.blocked_until) <= now,
                    col(IngestionJob.heartbeat_at) <= cutoff,
                    sa.and_(
                        col(IngestionJob.heartbeat_at).is_(None),
                        col(IngestionJob.updated_at) <= cutoff,
                    ),
                ),
            )
            .order_by(col(IngestionJob.blocked_until), col(IngestionJob.id))
            .limit(limit)
        ).all()
        for job in candidates:
            since = _blocked_since(job)
            due = job.blocked_until is None or (
                job.blocked_until <= now and job.blocked_until - since <= MAX_BLOCKED
            )
            if due:
                values = {"status": PENDING, "blocked_until": None,
                          "not_before": job.blocked_until or job.not_before}
            elif now - since > MAX_BLOCKED:
                values = {"status": FAILED, "error_message": BLOCK_EXCEEDED_MESSAGE,
                          "completed_at": now}
            else:
                continue
            changed = session.exec(
                update(IngestionJob)
                .where(col(IngestionJob.id) == job.id, col(IngestionJob.status) == BLOCKED)
                .values(**values, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            if changed.rowcount != 1:
                continue
            if due:
                unblocked += 1
            else:
                failed_batches.add(job.batch_id)
                log_fields(log, logging.WARNING, BLOCK_EXCEEDED_MESSAGE, job_id=job.id,
                           batch_id=job.batch_id, repo=job.repo_full_name)
    for batch_id in sorted(failed_batches):
        finalize_batch(batch_id, now=now)
    return unblocked


def sweep_zombie_jobs(now: dt.datetime | None = None) -> int:
    """Re-queue or fail running jobs whose worker stopped (docs/recovery-clocks.md).

    A running job is a zombie when its `heartbeat_at` (or, never beaten, `created_at`) is older
    than 10 minutes, or its holder is a process on this host that is gone. It goes back to pending
    with its cursor and `not_before` kept (never later than `now`) while `attempts < 3`, else
    fails "Job timed out (zombie detection)".

    Returns:
        How many zombies were re-queued or failed.
    """
    now = now or utcnow()
    cutoff = now - ZOMBIE_AFTER
    swept = 0
    failed_batches: set[int] = set()
    dead: dict[str, bool] = {}
    with session_scope() as session:
        running = session.exec(
            select(IngestionJob)
            .where(IngestionJob.status == RUNNING)
            .order_by(col(IngestionJob.id))
        ).all()
        for job in running:
            last_sign = job.heartbeat_at or job.created_at
            holder = job.claimed_by
            if holder and holder not in dead:
                dead[holder] = holder_is_dead(holder)
            if not (last_sign < cutoff or (holder and dead[holder])):
                continue
            requeue = job.attempts < MAX_JOB_ATTEMPTS
            if requeue:
                # Its own earliest start (or now, if the sweeping clock is behind it).
                values = {"status": PENDING, "claimed_by": None,
                          "not_before": min(job.not_before, now)}
            else:
                values = {"status": FAILED, "error_message": ZOMBIE_MESSAGE, "completed_at": now}
            # Same attempts = same claim: a job re-claimed since we read it is left alone.
            changed = session.exec(
                update(IngestionJob)
                .where(
                    col(IngestionJob.id) == job.id,
                    col(IngestionJob.status) == RUNNING,
                    col(IngestionJob.attempts) == job.attempts,
                )
                .values(**values, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            if changed.rowcount != 1:
                continue
            swept += 1
            if not requeue:
                failed_batches.add(job.batch_id)
            outcome = "re-queued" if requeue else "failed"
            log_fields(log, logging.WARNING, f"Zombie sync job {outcome}", job_id=job.id,
                       batch_id=job.batch_id, repo=job.repo_full_name, attempts=job.attempts,
                       holder=holder)
    for batch_id in sorted(failed_batches):
        finalize_batch(batch_id, now=now)
    return swept


def request_reconciliation_syncs(now: dt.datetime | None = None) -> int:
    """Request a `cron` sync of every active source not reconciled for 6 hours (or ever).

    Returns:
        How many syncs started.
    """
    now = now or utcnow()
    with session_scope() as session:
        due = session.exec(
            select(Installation.id)
            .where(
                Installation.status == "active",
                Installation.kind != "demo",
                sa.or_(
                    col(Installation.last_reconciled_at).is_(None),
                    col(Installation.last_reconciled_at) <= now - RECONCILE_EVERY,
                ),
            )
            .order_by(col(Installation.id))
        ).all()
    return _request_each(due, SyncTrigger.CRON, now)


def request_catchup_syncs(now: dt.datetime | None = None) -> int:
    """Request a `maintenance` sync of every active, linked source with at least one syncable
    repository whose last sync is older than 24 hours or that never synced (the 04:30 rule).

    Returns:
        How many syncs started.
    """
    now = now or utcnow()
    linked = select(UserInstallation.id).where(
        col(UserInstallation.installation_id) == col(Installation.id)
    )
    with session_scope() as session:
        candidates = session.exec(
            select(Installation)
            .where(
                Installation.status == "active",
                Installation.kind != "demo",
                linked.exists(),
                sa.or_(
                    col(Installation.last_synced_at).is_(None),
                    col(Installation.last_synced_at) < now - CATCH_UP_AFTER,
                ),
            )
            .order_by(col(Installation.id))
        ).all()
        due = [inst.id for inst in candidates if syncable_repos(session, inst)]
    return _request_each(due, SyncTrigger.MAINTENANCE, now)


def _request_each(
    installation_ids: list[int | None], trigger: SyncTrigger, now: dt.datetime
) -> int:
    started = 0
    for installation_id in installation_ids:
        if installation_id is None:
            continue
        try:
            started += request_sync(installation_id, trigger, now=now).started
        except Exception:
            # One source's failure never stops the others.
            log.exception("Sync request failed", extra={"installation_id": installation_id})
    return started
