"""Working sync jobs in the foreground: the CLI's `sync --wait`, benchmarks and tests.

`run_due_jobs` runs every due job once through the worker's `JobPool` and returns. `work_batches`
stays until the given batches are finalised: it claims their jobs, returns blocked jobs to the
queue once their reset has passed and re-queues jobs whose holder died (the scheduler's unblock and
zombie sweeps, which are idempotent and safe to run from here too), waits for jobs other processes
are running, and reports a `SyncProgress` about once a second.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from sqlmodel import col, select

from gitpulse_app.acquisition.sync.scheduled import sweep_zombie_jobs, unblock_jobs
from gitpulse_app.acquisition.sync.lifecycle import finalize_batch
from gitpulse_app.acquisition.sync.service import BLOCKED, COMPLETED, FAILED, PENDING, RUNNING
from gitpulse_app.acquisition.sync.status import estimate_eta_seconds
from gitpulse_app.acquisition.sync.worker import MAX_CONCURRENT_JOBS, JobPool
from gitpulse_app.core.claims import claim_id
from gitpulse_app.core.clock import Clock, utcnow
from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import IngestionJob, SyncBatch

POLL_INTERVAL_S = 1.0



@dataclass(frozen=True)
class BatchResult:
    """How one batch ended (or stands).

    Attributes:
        errors: `(repo, error message)` of its failed jobs.
    """

    batch_id: int
    installation_id: int
    status: str
    total_repos: int
    completed_repos: int
    failed_repos: int
    events_ingested: int
    errors: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class SyncProgress:
    """What a progress bar shows for the batches being waited for.

    Attributes:
        total: Jobs (repositories) in the batches.
        done: Jobs completed or failed.
        facts: Facts the jobs inserted so far.
        current_repo: The repository most recently worked on.
        eta_seconds: Seconds left at the pace so far; None while estimating.
        blocked_until: When rate-limited jobs resume, if any job is blocked.
        finished: Every batch is finalised.
        held_elsewhere: Running jobs claimed by another process (this one waits for them).
        next_due: The earliest start of a pending job not yet due, if any.
    """

    total: int
    done: int
    failed: int
    facts: int
    current_repo: str | None
    eta_seconds: int | None
    blocked_until: dt.datetime | None
    finished: bool
    now: dt.datetime
    batches: tuple[BatchResult, ...] = ()
    held_elsewhere: int = 0
    next_due: dt.datetime | None = None


def run_due_jobs(
    *,
    clock: Clock = utcnow,
    batch_ids: Collection[int] | None = None,
    client_options: Mapping[str, Any] | None = None,
    limit: int = MAX_CONCURRENT_JOBS,
) -> list[str]:
    """Claim and run due jobs (of `batch_ids`, if given) until none is due.

    Returns:
        Each job's outcome: "completed", "blocked", "failed" or "lost".
    """
    pool = JobPool(limit=limit, clock=clock, client_options=client_options, batch_ids=batch_ids)
    return asyncio.run(pool.drain())


def work_batches(
    batch_ids: Collection[int],
    *,
    progress: Callable[[SyncProgress], None] | None = None,
    clock: Clock = utcnow,
    client_options: Mapping[str, Any] | None = None,
    poll_s: float = POLL_INTERVAL_S,
) -> SyncProgress:
    """Work the batches' jobs in this process until every batch is finalised.

    Args:
        batch_ids: The batches to finish.
        progress: Called with a snapshot about once per `poll_s` and at the end.
        clock: The clock for every time read and written.
        client_options: Passed to every job's `GitHubClient`.
        poll_s: Seconds between looks when nothing of ours is running.

    Returns:
        The final snapshot, with each batch's result.
    """
    return asyncio.run(_work(set(batch_ids), progress, clock, client_options, poll_s))


async def _work(
    batch_ids: set[int],
    progress: Callable[[SyncProgress], None] | None,
    clock: Clock,
    client_options: Mapping[str, Any] | None,
    poll_s: float,
) -> SyncProgress:
    pool = JobPool(clock=clock, client_options=client_options, batch_ids=batch_ids)
    try:
        while True:
            await asyncio.to_thread(_recover, batch_ids, clock())
            await pool.fill()
            snapshot = await asyncio.to_thread(snapshot_batches, batch_ids, clock())
            if progress is not None:
                progress(snapshot)
            if snapshot.finished:
                return snapshot
            await pool.wait(poll_s)
    finally:
        await pool.cancel()


def _recover(batch_ids: set[int], now: dt.datetime) -> None:
    unblock_jobs(now)
    sweep_zombie_jobs(now)
    for batch_id in sorted(batch_ids):
        finalize_batch(batch_id, now=now)  # idempotent: closes a batch whose last job ended


def snapshot_batches(batch_ids: Collection[int], now: dt.datetime | None = None) -> SyncProgress:
    """The progress of the batches as stored now."""
    now = now or utcnow()
    with session_scope() as session:
        batches = session.exec(
            select(SyncBatch).where(col(SyncBatch.id).in_(sorted(batch_ids)))
            .order_by(col(SyncBatch.id))
        ).all()
        jobs = session.exec(
            select(IngestionJob).where(col(IngestionJob.batch_id).in_(sorted(batch_ids)))
        ).all()
    results = tuple(_result(batch, [j for j in jobs if j.batch_id == batch.id]) for batch in batches)
    total = len(jobs)
    ended = [job for job in jobs if job.status in (COMPLETED, FAILED)]
    running = [job for job in jobs if job.status == RUNNING]
    waits = [job.blocked_until for job in jobs if job.status == BLOCKED and job.blocked_until]
    blocked_until = max(waits) if waits else None
    done_share = (len(ended) + sum(job.progress for job in running) / 100) / total if total else 1
    started = min((batch.created_at for batch in batches), default=now)
    current = max(running or jobs, key=lambda job: job.heartbeat_at or job.created_at, default=None)
    later = [job.not_before for job in jobs if job.status == PENDING and job.not_before > now]
    return SyncProgress(
        total=total,
        done=len(ended),
        failed=sum(job.status == FAILED for job in jobs),
        facts=sum(job.events_ingested for job in jobs),
        current_repo=current.repo_full_name if current is not None else None,
        eta_seconds=estimate_eta_seconds(now - started, done_share, blocked_until=blocked_until,
                                         now=now),
        blocked_until=blocked_until,
        finished=all(batch.status != RUNNING for batch in batches),
        now=now,
        batches=results,
        held_elsewhere=sum(job.claimed_by != claim_id() for job in running),
        next_due=min(later, default=None),
    )


def _result(batch: SyncBatch, jobs: list[IngestionJob]) -> BatchResult:
    assert batch.id is not None
    errors = tuple((job.repo_full_name, job.error_message or "failed")
                   for job in sorted(jobs, key=lambda job: job.id or 0) if job.status == FAILED)
    return BatchResult(
        batch_id=batch.id,
        installation_id=batch.installation_id,
        status=batch.status,
        total_repos=len(jobs) or batch.total_repos,
        completed_repos=sum(job.status == COMPLETED for job in jobs),
        failed_repos=len(errors),
        events_ingested=sum(job.events_ingested for job in jobs),
        errors=errors,
    )
