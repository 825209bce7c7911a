"""The sync worker every backend process runs.

It polls every 2 s (and wakes at once on `wake()`), claims due pending jobs atomically and runs at
most 4 of them at a time in its event loop; database work goes to threads. Each claimed job ends
exactly one way: completed, blocked until the rate limit resets (`RateLimited`), failed with a
readable message, or — when the zombie sweep re-queued it or it ended elsewhere — left alone.

`JobPool` is also what `runner` uses for the CLI's `sync --wait` and for tests: the same claims and
the same job runs, limited to the batches being waited for.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Collection, Mapping
from typing import Any

from gitpulse_app.acquisition.github import GitHubError, RateLimited, client_for
from gitpulse_app.acquisition.sync.budget import BudgetRecorder
from gitpulse_app.acquisition.sync.lifecycle import (
    block_job,
    claim_next_job,
    complete_job,
    fail_job,
)
from gitpulse_app.acquisition.sync.scheduled import sweep_zombie_jobs
from gitpulse_app.acquisition.sync.stages import RepoSync
from gitpulse_app.acquisition.sync.walk import JobFailed, JobLost, JobSpec
from gitpulse_app.core.claims import claim_id
from gitpulse_app.core.clock import Clock, utcnow
from gitpulse_app.core.config import get_settings
from gitpulse_app.core.db import session_scope
from gitpulse_app.core.logging import get_logger, log_fields, metric
from gitpulse_app.core.models import IngestionJob, Installation
from gitpulse_app.core.polling import Poller
from gitpulse_app.core.signals import jobs_queued
from gitpulse_app.core.workers import worker

MAX_CONCURRENT_JOBS = 4
POLL_INTERVAL_S = 2.0
INSTALLATION_NOT_FOUND = "Installation not found"

COMPLETED, BLOCKED, FAILED, LOST = "completed", "blocked", "failed", "lost"

log = get_logger(__name__)

_poller = Poller()
wake = _poller.wake  # new jobs: every sync worker of this process claims now (safe from any thread)


def _on_jobs_queued(**_: object) -> None:
    wake()


jobs_queued.connect(_on_jobs_queued)


# Claiming ----------------------------------------------------------------------------------------
def claim_job(
    now: dt.datetime, holder: str, batch_ids: Collection[int] | None = None
) -> IngestionJob | None:
    """Claim the next due pending job, of `batch_ids` only when given (pending → running)."""
    return claim_next_job(now=now, holder=holder, batch_ids=batch_ids)


# Running one job ---------------------------------------------------------------------------------
def _installation(installation_id: int) -> Installation | None:
    with session_scope() as session:
        return session.get(Installation, installation_id)


async def execute_job(
    job: IngestionJob,
    *,
    holder: str,
    clock: Clock = utcnow,
    client_options: Mapping[str, Any] | None = None,
) -> str:
    """Run one claimed job to its end.

    Args:
        job: The job, claimed by `holder`.
        holder: The claim id.
        clock: The clock for every time read and written (also the client's).
        client_options: Passed to `GitHubClient` (tests: `transport`, `sleep`).

    Returns:
        "completed", "blocked", "failed", or "lost" (the job stopped being ours).
    """
    spec = JobSpec.of(job)

    async def fail(message: str) -> str:
        await asyncio.to_thread(fail_job, spec.id, message, holder=holder, now=clock())
        return FAILED

    installation = await asyncio.to_thread(_installation, spec.installation_id)
    if installation is None:
        return await fail(INSTALLATION_NOT_FOUND)
    budget_writer = BudgetRecorder(spec.installation_id)
    options = {"on_rate_limit": budget_writer.observe, **dict(client_options or {})}
    try:
        client = client_for(installation, now=clock, **options)
    except (GitHubError, ValueError) as exc:  # no usable token, App not configured, demo
        return await fail(str(exc))
    walk = RepoSync(spec, client, holder=holder, clock=clock,
                    github_url=get_settings().github_url)
    async with client:
        try:
            await walk.run()
        except JobLost:
            log_fields(log, logging.WARNING, "Sync job is no longer ours; stopping", job_id=spec.id,
                       repo=spec.repo_full_name)
            return LOST
        except RateLimited as exc:
            return await _block(walk, exc, holder, clock)
        except (JobFailed, GitHubError) as exc:
            return await _end_with(walk, fail, str(exc))
        except Exception as exc:
            log.exception("Sync job crashed", extra={"job_id": spec.id})
            message = (f"Sync stopped by an unexpected problem ({type(exc).__name__}). "
                       "Try again; if it persists, check the server logs.")
            return await _end_with(walk, fail, message)
        finally:
            await budget_writer.flush()
    budget = client.rate_limit
    done = await asyncio.to_thread(
        complete_job, spec.id, events_ingested=walk.inserted, events_updated=walk.updated,
        duplicates=walk.duplicates, detail_requests=walk.cursor.stats_done,
        rate_limit_remaining=budget.remaining if budget else None,
        rate_limit_reset=budget.reset if budget else None, holder=holder, now=clock(),
    )
    if budget is not None and budget.remaining is not None:
        metric("rate_limit_remaining", installation_id=spec.installation_id,
               remaining=budget.remaining, limit=budget.limit)
    if walk.cursor.details_skipped:
        log_fields(log, logging.INFO, "Detail requests skipped (200 per job)", job_id=spec.id,
                   repo=spec.repo_full_name, skipped=walk.cursor.details_skipped)
    return COMPLETED if done else LOST


async def _save_progress(walk: RepoSync) -> bool:
    """A last heartbeat with the cursor and counters; False when the job is no longer ours."""
    try:
        await walk.beat()
    except JobLost:
        return False
    return True


async def _block(walk: RepoSync, exc: RateLimited, holder: str, clock: Clock) -> str:
    if not await _save_progress(walk):
        return LOST
    blocked = await asyncio.to_thread(
        block_job, walk.job.id, exc.reset, rate_limit_remaining=exc.remaining,
        rate_limit_reset=exc.reset, cursor=walk.cursor.as_json(), holder=holder, now=clock(),
    )
    return BLOCKED if blocked else LOST


async def _end_with(walk: RepoSync, fail: Callable[[str], Any], message: str) -> str:
    if not await _save_progress(walk):
        return LOST
    return await fail(message)


# Several jobs at once ----------------------------------------------------------------------------
class JobPool:
    """Claims due jobs and runs up to `limit` of them at once in the current event loop.

    Args:
        limit: Jobs running at once.
        holder: The claim id; defaults to this process's.
        clock: The clock for claims, runs and the client.
        client_options: Passed to every job's `GitHubClient`.
        batch_ids: Claim only jobs of these batches (None: any batch).
    """

    def __init__(
        self,
        *,
        limit: int = MAX_CONCURRENT_JOBS,
        holder: str | None = None,
        clock: Clock = utcnow,
        client_options: Mapping[str, Any] | None = None,
        batch_ids: Collection[int] | None = None,
    ) -> None:
        self.limit = limit
        self.holder = holder or claim_id()
        self.clock = clock
        self.client_options = dict(client_options or {})
        self.batch_ids = set(batch_ids) if batch_ids is not None else None
        self.running: set[asyncio.Task[str]] = set()
        self.outcomes: list[str] = []

    async def fill(self) -> int:
        """Claim due jobs into the free slots; returns how many started."""
        started = 0
        while len(self.running) < self.limit:
            job = await asyncio.to_thread(claim_job, self.clock(), self.holder, self.batch_ids)
            if job is None:
                break
            task = asyncio.create_task(
                execute_job(job, holder=self.holder, clock=self.clock,
                            client_options=self.client_options),
                name=f"gitpulse:sync-job:{job.id}",
            )
            self.running.add(task)
            started += 1
        return started

    async def wait(self, timeout: float | None = None, wake_event: asyncio.Event | None = None
                   ) -> None:
        """Wait until a job ends, `wake_event` is set, or `timeout` seconds passed."""
        waiters: set[asyncio.Future[Any]] = set(self.running)
        woken = asyncio.ensure_future(wake_event.wait()) if wake_event is not None else None
        if woken is not None:
            waiters.add(woken)
        try:
            if waiters:
                await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            elif timeout:
                await asyncio.sleep(timeout)
        finally:
            if woken is not None:
                woken.cancel()
                wake_event.clear()
        self._collect()

    def _collect(self) -> None:
        for task in [task for task in self.running if task.done()]:
            self.running.discard(task)
            if task.cancelled():
                continue
            error = task.exception()
            if error is not None:
                log.error("Sync job runner failed", exc_info=error)
                continue
            self.outcomes.append(task.result())

    async def drain(self) -> list[str]:
        """Run due jobs until none is due and none is running; returns their outcomes."""
        while True:
            await self.fill()
            if not self.running:
                return self.outcomes
            await self.wait()

    async def cancel(self) -> None:
        """Stop the running jobs (process shutdown): their claims die with the process."""
        for task in self.running:
            task.cancel()
        await asyncio.gather(*self.running, return_exceptions=True)
        self.running.clear()


@worker("sync")
async def sync_worker() -> None:
    """Poll every 2 s and on every wake-up, for the life of the process."""
    pool = JobPool()
    with _poller.listening() as event:
        try:
            # At startup, jobs held by a dead process on this host go back to pending at once;
            # stale claims elsewhere wait for the 10-minute rule inside the same sweep.
            try:
                await asyncio.to_thread(sweep_zombie_jobs)
            except Exception:
                log.exception("Startup sweep of abandoned sync jobs failed")
            while True:
                try:
                    await pool.fill()
                except Exception:
                    # The database may be away for a moment; running jobs carry on meanwhile.
                    log.exception("Could not claim sync jobs; retrying")
                await pool.wait(POLL_INTERVAL_S, event)
        finally:
            await pool.cancel()
