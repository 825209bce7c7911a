"""The in-process scheduler every backend process runs: APScheduler, leader only.

An `AsyncIOScheduler` fires the jobs on the event loop; their database work runs in threads
(`asyncio.to_thread`), so the loop keeps serving requests. Every job first asks the election
(`leader`): the tick job takes or renews leadership (followers retry at every tick), the others only
check it, so exactly one process does the periodic work and the others stay idle until the leader
dies.

| job      | cadence                   | work                                                    |
|----------|---------------------------|---------------------------------------------------------|
| tick     | minutes 0, 15, 30, 45 UTC | `tick.run_tick` (reports, syncs, slot jobs, …)          |
| drain    | every 10 s                | due envelopes, embedding rows, emails, channel messages |
| finalize | every minute              | sync batches whose jobs all ended; the ingest-rate metric |
| unblock  | every 5 minutes           | blocked sync jobs past `blocked_until` (≤ 100)          |
| zombies  | every 10 minutes          | stale and dead-holder claims, interrupted regenerations |

A tick that is still running when the next one fires is not started twice: the new firing renews
the heartbeat and leaves the work to the running one.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

if TYPE_CHECKING:  # imported in `build`: a CLI command that never schedules skips it
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

from gitpulse_app.acquisition.sync.scheduled import unblock_jobs
from gitpulse_app.acquisition.sync.lifecycle import finalize_batches
from gitpulse_app.core.clock import Clock, utcnow
from gitpulse_app.core.db import DatabaseUnavailable
from gitpulse_app.core.logging import get_logger, log_fields
from gitpulse_app.core.workers import worker
from gitpulse_app.intelligence.scheduler.leader import Leader, make_leader
from gitpulse_app.intelligence.scheduler.tick import drain_queues, run_tick, sweep_zombies

log = get_logger(__name__)



@dataclass(frozen=True)
class Cadence:
    """When each job fires; tests shorten them.

    Attributes:
        tick_minutes: Cron minutes (UTC) of the tick.
        drain: Interval of the queue drain.
        finalize: Interval of batch finalisation.
        unblock: Interval of the unblock sweep.
        zombies: Interval of the zombie sweep.
    """

    tick_minutes: str = "0,15,30,45"
    drain: dt.timedelta = dt.timedelta(seconds=10)
    finalize: dt.timedelta = dt.timedelta(minutes=1)
    unblock: dt.timedelta = dt.timedelta(minutes=5)
    zombies: dt.timedelta = dt.timedelta(minutes=10)


class SchedulerService:
    """The scheduler of one process: its APScheduler, its election and its jobs.

    Args:
        leader: The election (default: advisory lock on PostgreSQL, lease row on SQLite).
        clock: Reads the time for each job (tests inject one).
        cadence: Job intervals.
        tick: The tick function (`run_tick`).
    """

    def __init__(self, leader: Leader | None = None, *, clock: Clock = utcnow,
                 cadence: Cadence = Cadence(),
                 tick: Callable[[dt.datetime], Any] = run_tick) -> None:
        self.leader = leader or make_leader()
        self.clock = clock
        self.cadence = cadence
        self._tick = tick
        self._tick_running = asyncio.Lock()
        self.scheduler: AsyncIOScheduler | None = None

    # Jobs ----------------------------------------------------------------------------------------
    async def tick_job(self) -> Any:
        """The 15-minute job: take or renew leadership (heartbeat), then run the tick.

        Returns:
            The tick's result, or None when this process does not lead or a tick still runs.
        """
        now = self.clock()
        if not await asyncio.to_thread(self.leader.acquire, now):
            return None
        if self._tick_running.locked():
            log_fields(log, logging.WARNING, "Previous tick still running; this one is skipped",
                       at=now.isoformat())
            return None
        async with self._tick_running:
            try:
                return await asyncio.to_thread(self._tick, now)
            except (DatabaseUnavailable, sa.exc.OperationalError) as exc:
                log_fields(log, logging.WARNING, "Database unavailable; tick skipped",
                           at=now.isoformat(), error=str(exc).splitlines()[0])
            except Exception:
                log.exception("Scheduler tick failed", extra={"at": now.isoformat()})
            return None

    async def _leader_only(self, name: str, work: Callable[[dt.datetime], Any]) -> Any:
        now = self.clock()
        if not await asyncio.to_thread(self.leader.check, now):
            return None
        try:
            return await asyncio.to_thread(work, now)
        except Exception:
            log.exception("Scheduler job failed; it runs again at its next interval",
                          extra={"job": name})
            return None

    async def drain_job(self) -> Any:
        """Every 10 s: due envelopes, embedding rows and emails (leader only)."""
        return await self._leader_only("drain", drain_queues)

    async def finalize_job(self) -> Any:
        """Every minute: finalise batches whose jobs all ended (leader only)."""
        return await self._leader_only("finalize", finalize_batches)

    async def unblock_job(self) -> Any:
        """Every 5 minutes: blocked jobs past `blocked_until` back to pending (leader only)."""
        return await self._leader_only("unblock", unblock_jobs)

    async def zombies_job(self) -> Any:
        """Every 10 minutes: stale and dead-holder claims, interrupted runs (leader only)."""
        return await self._leader_only("zombies", sweep_zombies)

    # Lifecycle ------------------------------------------------------------------------------------
    def build(self) -> AsyncIOScheduler:
        """The APScheduler with every job registered (not started)."""
        from apscheduler.schedulers.asyncio import AsyncIOScheduler
        from apscheduler.triggers.cron import CronTrigger
        from apscheduler.triggers.interval import IntervalTrigger

        cadence = self.cadence
        scheduler = AsyncIOScheduler(timezone=dt.UTC)
        common = {"coalesce": True, "misfire_grace_time": 60, "replace_existing": True}
        # Two tick instances may overlap: the second only renews the heartbeat (see tick_job).
        scheduler.add_job(self.tick_job, CronTrigger(minute=cadence.tick_minutes, timezone=dt.UTC),
                          id="tick", name="tick", max_instances=2, **common)
        for name, job, every in (
            ("drain", self.drain_job, cadence.drain),
            ("finalize", self.finalize_job, cadence.finalize),
            ("unblock", self.unblock_job, cadence.unblock),
            ("zombies", self.zombies_job, cadence.zombies),
        ):
            scheduler.add_job(job, IntervalTrigger(seconds=every.total_seconds(), timezone=dt.UTC),
                              id=name, name=name, max_instances=1, **common)
        return scheduler

    async def start(self) -> None:
        """Try for leadership (the leader's heartbeat at start), then start the jobs."""
        now = self.clock()
        await asyncio.to_thread(self.leader.acquire, now)
        # APScheduler logs every run at INFO (a line per 10-second drain); ours log what matters.
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        self.scheduler = self.build()
        self.scheduler.start()
        log_fields(log, logging.INFO, "Scheduler started", holder=self.leader.holder,
                   leading=self.leader.leading)

    async def stop(self) -> None:
        """Stop the jobs and release leadership, so another process takes over at once."""
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        self.scheduler = None
        await asyncio.to_thread(self.leader.release, self.clock())


@worker("scheduler")
async def scheduler_worker() -> None:
    """Run the scheduler for the life of the process; release leadership on the way out."""
    service = SchedulerService()
    await service.start()
    try:
        await asyncio.Event().wait()
    finally:
        await service.stop()
