"""One scheduler tick: what the 15-minute job and `tick --at` both run.

In order: zombie and unblock sweeps; drains; due daily and weekly reports; reconciliation syncs
(6 h); the daily slot jobs of the tick whose instant, floored to 15 minutes, equals their slot
(02:15 installation reconcile; 03:45 retention and the reset of failed primary-model embedding
rows; 04:30 catch-up syncs); drains again; batch finalisation.

One injected clock reading `at` is used for every time read or written (due-ness, windows,
`generated_at`/`is_partial`, thresholds, backoffs, row timestamps). A step that raises is logged
and the tick goes on; one user's failing report never stops the others. Everything is idempotent,
so a tick run twice, or by two processes at once, creates each report once.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable

import sqlalchemy as sa

from gitpulse_app.acquisition.sync.lifecycle import finalize_batches
from gitpulse_app.acquisition.sync.scheduled import (
    request_catchup_syncs,
    request_reconciliation_syncs,
    sweep_zombie_jobs,
    unblock_jobs,
)
from gitpulse_app.acquisition.webhooks import processor as webhooks
from gitpulse_app.acquisition.webhooks.reconcile import reconcile_installations
from gitpulse_app.core.db import check_database, session_scope
from gitpulse_app.core.logging import get_logger, log_fields
from gitpulse_app.core.models import ReportJobHistory
from gitpulse_app.intelligence import delivery, embeddings
from gitpulse_app.intelligence.delivery import channels
from gitpulse_app.intelligence.delivery.channels.scheduled import run_team_digests
from gitpulse_app.intelligence.reports.scheduled import sweep_interrupted
from gitpulse_app.intelligence.reports.service import generate_report
from gitpulse_app.intelligence.scheduler import retention
from gitpulse_app.intelligence.scheduler.due import plan_due
from gitpulse_app.intelligence.scheduler.models import (
    DAILY,
    WEEKLY,
    DueWindow,
    KindTally,
    TickResult,
)

log = get_logger(__name__)

TICK_MINUTES = 15
SLOT_INSTALLATION_RECONCILE = dt.time(2, 15)
SLOT_RETENTION = dt.time(3, 45)
SLOT_CATCH_UP = dt.time(4, 30)


def slot_of(at: dt.datetime) -> dt.time:
    """The UTC wall time of `at` floored to 15 minutes: the slot a tick at `at` stands for."""
    utc = at.astimezone(dt.UTC)
    return dt.time(utc.hour, utc.minute - utc.minute % TICK_MINUTES)


# Sweeps and drains (also the scheduler's short-interval jobs) -------------------------------------
def sweep_zombies(now: dt.datetime) -> int:
    """Recover stale and dead-holder claims of every claimable table; fail interrupted runs.

    Returns:
        Sync jobs, envelopes, embedding rows and emails recovered, plus regenerations failed.
    """
    recovered = sweep_zombie_jobs(now)
    recovered += webhooks.reclaim_stale(now)
    with session_scope() as session:
        recovered += embeddings.recover_stale(session, now=now)
        recovered += delivery.recover_stale(session, now=now)
        recovered += channels.recover_stale(session, now=now)
    recovered += sweep_interrupted(now)
    return recovered


def drain_queues(now: dt.datetime, result: TickResult | None = None, *,
                 enqueue: bool = False) -> TickResult:
    """Drain due envelopes, embedding rows, emails and channel messages, each until nothing is due (≤ 10,000).

    Args:
        now: The clock reading for every claim, backoff and timestamp.
        result: Counts are added to this result (default: a new one).
        enqueue: Run the background embedding enqueuer first (≤ 1000 facts lacking a row for
            the primary model; once per tick — the embedding worker also runs it every 10 s).
    """
    result = result or TickResult(at=now)
    result.webhooks_processed += webhooks.drain(now=now).processed
    if enqueue:
        with session_scope() as session:
            embeddings.enqueue_missing(session, now=now)
    result.embeddings_processed += embeddings.drain(now).processed
    result.emails_sent += delivery.drain(now)
    result.channel_messages_sent += channels.drain(now)
    return result


# Reports ------------------------------------------------------------------------------------------
def _generate_due(due: DueWindow, at: dt.datetime, tally: KindTally) -> None:
    try:
        outcome = generate_report(due.user_id, due.kind, due.window.start, due.window.end,
                                  origin="scheduled", now=at)
    except Exception:
        tally.errors += 1
        log.exception("Scheduled report failed; the other users go on", extra={
            "user_id": due.user_id, "kind": due.kind,
            "window_start": due.window.start.isoformat()})
        return
    if outcome.report is None or outcome.cache_hit:
        tally.reports_skipped += 1
    else:
        tally.reports_generated += 1


def run_reports(kind: str, at: dt.datetime) -> KindTally:
    """Generate every due report of `kind` at `at` and write its `report_job_history` row.

    The row is written even when no user is eligible.

    Returns:
        The tally stored in the history row.
    """
    started = time.perf_counter()
    tally = KindTally()
    try:
        with session_scope() as session:
            plan = plan_due(session, kind, at)
        tally.users_attempted = plan.users_checked
        tally.reports_skipped = plan.covered
        for due in plan.due:
            _generate_due(due, at, tally)
    finally:
        duration_ms = int((time.perf_counter() - started) * 1000)
        with session_scope() as session:
            # A plain INSERT: cheaper than an ORM flush, and every tick writes two of these.
            session.execute(sa.insert(ReportJobHistory).values(
                kind=kind, tick_at=at, **tally.as_json(), duration_ms=duration_ms,
                started_at=at, completed_at=at, created_at=at, updated_at=at))
    if tally.reports_generated or tally.errors:
        log_fields(log, logging.INFO, "Scheduled reports", kind=kind, tick_at=at.isoformat(),
                   **tally.as_json(), duration_ms=duration_ms)
    return tally


# Slot jobs ----------------------------------------------------------------------------------------
def _retention_and_embedding_reset(now: dt.datetime) -> None:
    removed = retention.cleanup(now)
    with session_scope() as session:
        reset = embeddings.reset_failed_primary(session, now=now)
    log_fields(log, logging.INFO, "Daily retention", **removed.as_json(),
               embedding_rows_reset=reset)


# The tick -----------------------------------------------------------------------------------------
def _step(result: TickResult, name: str, fn: Callable[[], object]) -> None:
    """Run one step; a failure is logged and recorded, and the tick goes on.

    A database that cannot be used (unreachable, locked past its retries, not migrated) stops
    the tick instead: the next one retries everything, which idempotency makes safe.
    """
    try:
        fn()
    except sa.exc.OperationalError:
        raise
    except Exception:
        result.failed_steps.append(name)
        log.exception("Scheduler tick step failed", extra={"step": name,
                                                           "tick_at": result.at.isoformat()})


def run_tick(at: dt.datetime) -> TickResult:
    """Run everything a tick at `at` does, with `at` as the only clock.

    Args:
        at: The tick instant (aware). The CLI passes `--at`; the scheduler passes the time its
            15-minute job fired.

    Returns:
        What the tick did.

    Raises:
        DatabaseUnavailable: The database cannot be reached; nothing was done (the scheduler
            skips this tick).
        sqlalchemy.exc.OperationalError: The database failed mid-tick; the steps before it
            are kept and the next tick redoes the rest.
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("run_tick needs an aware instant")
    at = at.astimezone(dt.UTC)
    check_database()
    result = TickResult(at=at)

    def sweeps() -> None:
        result.zombies += sweep_zombies(at)

    def unblock() -> None:
        result.unblocked += unblock_jobs(at)

    def daily() -> None:
        result.daily = run_reports(DAILY, at)

    def weekly() -> None:
        result.weekly = run_reports(WEEKLY, at)

    def reconciliation() -> None:
        result.syncs_requested += request_reconciliation_syncs(at)

    def catch_up() -> None:
        result.syncs_requested += request_catchup_syncs(at)

    def finalize() -> None:
        result.batches_finalized += finalize_batches(at)

    _step(result, "zombies", sweeps)
    _step(result, "unblock", unblock)
    _step(result, "drain", lambda: drain_queues(at, result, enqueue=True))
    _step(result, "daily_reports", daily)
    _step(result, "weekly_reports", weekly)
    # Team digests for channels, on their owners' schedules (docs/CHANNELS.md).
    _step(result, "team_digests", lambda: run_team_digests(at))
    _step(result, "reconciliation_syncs", reconciliation)
    slot = slot_of(at)
    slot_jobs: dict[dt.time, tuple[str, Callable[[], object]]] = {
        SLOT_INSTALLATION_RECONCILE: ("installation_reconcile",
                                      lambda: reconcile_installations(at)),
        SLOT_RETENTION: ("retention", lambda: _retention_and_embedding_reset(at)),
        SLOT_CATCH_UP: ("catch_up_syncs", catch_up),
    }
    if slot in slot_jobs:
        name, job = slot_jobs[slot]
        result.slots.append(slot.strftime("%H:%M"))
        _step(result, name, job)
    _step(result, "drain_again", lambda: drain_queues(at, result))
    _step(result, "finalize_batches", finalize)
    return result
