"""Sync requests and the job states.

`request_sync` turns a request into one running batch of pending jobs (one per repository) or a
sentence saying why not; `lifecycle.py` moves the jobs through their states and closes batches.

Concurrency: the database enforces one running batch per installation (a partial unique index),
so of two simultaneous requests one inserts the batch and the other gets an `IntegrityError`, which
reads as "A sync is already in progress". Every job and batch transition is a conditional UPDATE
on the row's status, so concurrent processes never apply the same transition twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select, update

from gitpulse_app.acquisition.access import is_linked, linked_user_ids, syncable_repos
from gitpulse_app.acquisition.sync.models import (
    PolicyDecision,
    PolicyReason,
    RequestOutcome,
    SyncRequestResult,
    SyncTrigger,
)
from gitpulse_app.acquisition.sync.policy import NO_REPOSITORIES_MESSAGE, evaluate_policy
from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.db import session_scope
from gitpulse_app.core.logging import get_logger, metric
from gitpulse_app.core.models import Installation, IngestionJob, SyncBatch
from gitpulse_app.core.signals import jobs_queued

log = get_logger(__name__)

NOT_FOUND_MESSAGE = "Installation not found"
NOT_AUTHORIZED_MESSAGE = "Installation not found or not authorized"
DEMO_MESSAGE = "The demo workspace does not sync with GitHub"
ALREADY_RUNNING_MESSAGE = "A sync is already in progress"
START_FAILED_MESSAGE = "Sync failed to start. Please try again."
ADDED_MESSAGE = "Added to the sync already in progress"

FULL_LOOKBACK = dt.timedelta(days=30)
INCREMENTAL_OVERLAP = dt.timedelta(hours=1)
# Jobs become due in groups of 20, one second apart, so a large batch does not burst.
JOBS_PER_SECOND = 20

RUNNING = "running"
PENDING = "pending"
BLOCKED = "blocked"
COMPLETED = "completed"
FAILED = "failed"


@dataclass
class _Request:
    installation_id: int
    trigger: SyncTrigger
    since: dt.datetime | None
    until: dt.datetime | None
    repos: list[str] | None
    force_full: bool
    user_id: int | None
    cli: bool
    now: dt.datetime
    # Set once step 5 begins: only failures from there on mark the installation `error`.
    starting: bool = False


def _result(started: bool, message: str, reason: str, **details: Any) -> SyncRequestResult:
    return SyncRequestResult(
        started=started, message=message, details={"reason": str(reason), **details}
    )


def _already_running(batch_id: int | None) -> SyncRequestResult:
    return _result(
        False, ALREADY_RUNNING_MESSAGE, RequestOutcome.ALREADY_RUNNING, batch_id=batch_id
    )


def _refused(decision: PolicyDecision) -> SyncRequestResult:
    details: dict[str, Any] = {}
    if decision.blocked_until is not None:
        details["blocked_until"] = decision.blocked_until.isoformat()
    if decision.cooldown_ms is not None:
        details["cooldown_ms"] = decision.cooldown_ms
    return _result(False, decision.message, decision.reason or "", **details)


def request_sync(
    installation_id: int,
    trigger: str,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    repos: list[str] | None = None,
    force_full: bool = False,
    user_id: int | None = None,
    cli: bool = False,
    now: dt.datetime | None = None,
) -> SyncRequestResult:
    """Request a sync of one source and start it when the policy allows.

    Args:
        installation_id: Our `installations.id`.
        trigger: A `SyncTrigger` value.
        since: Start of the window; default: `last_synced_at − 1 h`, or `now − 30 d` when never
            synced or `force_full`.
        until: End of the window (exclusive), None for "now".
        repos: Only these repositories: a subset of the syncable ones, or with `cli` any names.
        force_full: Look back 30 days whatever the last sync (UI manual requests).
        user_id: The signed-in user asking; they must be linked to the source.
        cli: The operator's `sync` command: no user checks, only `inactive` and `rate_limited`
            apply; with `repos`, a running batch lacking them gets their jobs added.
        now: The clock reading to use for every time read and written.

    Returns:
        Whether it started, the sentence to show, and details (`reason`, `batch_id`, …).

    Raises:
        ValueError: `trigger` is not a known trigger.
    """
    request = _Request(
        installation_id=installation_id,
        trigger=SyncTrigger(trigger),
        since=since,
        until=until,
        repos=list(repos) if repos is not None else None,
        force_full=force_full,
        user_id=user_id,
        cli=cli,
        now=now or utcnow(),
    )
    result: SyncRequestResult | None = None
    try:
        result = _request_once(request)
        if result.started:
            jobs_queued.send()
    finally:
        outcome = result.details.get("reason") if result is not None else "error"
        metric(
            "sync.request",
            installation_id=installation_id,
            trigger=request.trigger.value,
            result=outcome,
        )
    return result


def _request_once(request: _Request) -> SyncRequestResult:
    try:
        with session_scope() as session:
            return _decide_and_start(session, request)
    except IntegrityError:
        # Another request inserted this installation's running batch between our check and insert.
        batch_id = running_batch_id(request.installation_id)
        if batch_id is not None:
            return _already_running(batch_id)
        if not request.starting:
            raise
        _mark_start_failed(request)
    except Exception:
        if not request.starting:
            raise
        _mark_start_failed(request)
    return _result(False, START_FAILED_MESSAGE, RequestOutcome.START_FAILED)


def _mark_start_failed(request: _Request) -> None:
    log.exception(
        "Sync failed to start",
        extra={"installation_id": request.installation_id, "trigger": request.trigger.value},
    )
    try:
        with session_scope() as session:
            installation = session.get(Installation, request.installation_id)
            if installation is not None:
                installation.sync_status = "error"
                installation.updated_at = request.now
    except Exception:
        log.exception("Could not record the failed sync start")


def _decide_and_start(session: Session, request: _Request) -> SyncRequestResult:
    # Step 1. FOR UPDATE serialises concurrent requests for one source on PostgreSQL.
    installation = session.exec(
        select(Installation).where(Installation.id == request.installation_id).with_for_update()
    ).first()
    if request.user_id is not None:
        if (
            installation is None
            or installation.status == "deleted"
            or not is_linked(session, request.user_id, request.installation_id)
        ):
            return _result(False, NOT_AUTHORIZED_MESSAGE, RequestOutcome.NOT_AUTHORIZED)
    elif installation is None:
        return _result(False, NOT_FOUND_MESSAGE, RequestOutcome.NOT_FOUND)
    assert installation is not None and installation.id is not None
    if installation.kind == "demo":
        return _result(False, DEMO_MESSAGE, RequestOutcome.DEMO)

    # Step 2.
    running = _running_batch(session, installation.id)
    if running is not None:
        if request.cli and request.repos:
            return _add_to_running(session, installation, running, request)
        return _already_running(running.id)

    # Step 3.
    if installation.sync_status == "syncing":
        installation.sync_status = "idle"
        installation.updated_at = request.now

    # Step 4.
    linked = linked_user_ids(session, installation.id)
    syncable = syncable_repos(session, installation)
    decision = _evaluate(installation, request, len(linked), len(syncable))
    if not decision.allowed:
        if decision.reason == PolicyReason.RATE_LIMITED and decision.blocked_until is not None:
            installation.sync_status = "rate_limited"
            installation.next_sync_at = decision.blocked_until
            installation.updated_at = request.now
        return _refused(decision)

    # Step 5.
    targets = _targets(installation, syncable, bool(linked), request)
    if not targets:
        return _result(False, NO_REPOSITORIES_MESSAGE, PolicyReason.NO_REPOSITORIES)
    request.starting = True
    batch = _start(session, installation, targets, request)
    return _result(
        True,
        decision.message,
        RequestOutcome.STARTED,
        batch_id=batch.id,
        total_repos=batch.total_repos,
        since=batch.since.isoformat() if batch.since else None,
    )


def _evaluate(
    installation: Installation, request: _Request, linked_count: int, syncable_count: int
) -> PolicyDecision:
    return evaluate_policy(
        installation,
        request.trigger,
        now=request.now,
        linked_user_count=linked_count,
        syncable_repo_count=syncable_count,
        user_initiated=request.user_id is not None,
        skip_user_checks=request.cli,
    )


def _unique(names: Iterable[str]) -> list[str]:
    seen: dict[str, str] = {}
    for name in names:
        seen.setdefault(name.lower(), name)
    return list(seen.values())


def _targets(
    installation: Installation, syncable: list[str], has_linked_user: bool, request: _Request
) -> list[str]:
    """The repositories the new batch covers."""
    if request.cli:
        if request.repos:
            return _unique(request.repos)
        return syncable if has_linked_user else _unique(installation.repositories)
    if request.repos is None:
        return syncable
    wanted = {name.lower() for name in request.repos}
    return [name for name in syncable if name.lower() in wanted]


def _window_start(installation: Installation, request: _Request) -> dt.datetime:
    if request.since is not None:
        return request.since
    if request.force_full or installation.last_synced_at is None:
        return request.now - FULL_LOOKBACK
    return installation.last_synced_at - INCREMENTAL_OVERLAP


def _start(
    session: Session, installation: Installation, targets: list[str], request: _Request
) -> SyncBatch:
    now = request.now
    installation.sync_status = "syncing"
    installation.last_sync_error = None
    installation.next_sync_at = None
    installation.updated_at = now
    if request.trigger == SyncTrigger.MANUAL and request.user_id is not None:
        installation.last_manual_sync_at = now
    batch = SyncBatch(
        installation_id=installation.id,
        trigger=request.trigger.value,
        requested_by_user_id=request.user_id,
        status=RUNNING,
        total_repos=len(targets),
        since=_window_start(installation, request),
        until=request.until,
        created_at=now,
        updated_at=now,
    )
    session.add(batch)
    session.flush()  # raises IntegrityError here when another request's batch is running
    session.add_all(_new_jobs(batch, targets, request.trigger, request.user_id, now))
    session.flush()
    return batch


def _new_jobs(
    batch: SyncBatch,
    repos: Sequence[str],
    trigger: str,
    user_id: int | None,
    now: dt.datetime,
    *,
    stagger: bool = True,
) -> list[IngestionJob]:
    """Pending jobs for `repos`; staggered ones become due in groups of `JOBS_PER_SECOND`."""
    since = batch.since if batch.since is not None else now - FULL_LOOKBACK
    return [
        IngestionJob(
            batch_id=batch.id,
            installation_id=batch.installation_id,
            requested_by_user_id=user_id,
            repo_full_name=repo,
            trigger=str(trigger),
            status=PENDING,
            since=since,
            until=batch.until,
            not_before=now + dt.timedelta(seconds=index // JOBS_PER_SECOND if stagger else 0),
            created_at=now,
            updated_at=now,
        )
        for index, repo in enumerate(repos)
    ]


def _add_to_running(
    session: Session, installation: Installation, running: SyncBatch, request: _Request
) -> SyncRequestResult:
    decision = _evaluate(installation, request, 0, 0)
    if not decision.allowed:
        return _refused(decision)
    jobs = _add_jobs(session, running, request.repos or [], request.trigger, None, request.now)
    if jobs is None:
        # The batch was finalised meanwhile; a retry starts a new one.
        return _result(False, START_FAILED_MESSAGE, RequestOutcome.START_FAILED)
    if not jobs:
        return _already_running(running.id)
    return _result(
        True,
        ADDED_MESSAGE,
        RequestOutcome.ADDED_TO_RUNNING,
        batch_id=running.id,
        added_repos=[job.repo_full_name for job in jobs],
    )


def _add_jobs(
    session: Session,
    batch: SyncBatch,
    repos: Sequence[str],
    trigger: str,
    user_id: int | None,
    now: dt.datetime,
) -> list[IngestionJob] | None:
    """Add jobs for the repos the batch lacks; None when the batch is no longer running."""
    have = session.exec(
        select(IngestionJob.repo_full_name).where(IngestionJob.batch_id == batch.id)
    )
    present = {name.lower() for name in have}
    missing = [name for name in _unique(repos) if name.lower() not in present]
    if not missing:
        return []
    # Raising total_repos first makes a concurrent finaliser's optimistic check fail.
    grown = session.exec(
        update(SyncBatch)
        .where(col(SyncBatch.id) == batch.id, col(SyncBatch.status) == RUNNING)
        .values(total_repos=SyncBatch.total_repos + len(missing), updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if grown.rowcount != 1:
        return None
    jobs = _new_jobs(batch, missing, trigger, user_id, now, stagger=False)
    session.add_all(jobs)
    session.flush()
    return jobs


def add_repo_to_running_batch(
    batch_id: int,
    repo_full_name: str,
    *,
    trigger: str = SyncTrigger.MANUAL,
    user_id: int | None = None,
    now: dt.datetime | None = None,
) -> IngestionJob | None:
    """Add a pending job for one repository to a running batch (the CLI's `sync --repo`).

    Returns:
        The new job, or None when the batch is not running or already has that repository.
    """
    now = now or utcnow()
    with session_scope() as session:
        batch = session.exec(
            select(SyncBatch).where(SyncBatch.id == batch_id).with_for_update()
        ).first()
        if batch is None or batch.status != RUNNING:
            return None
        jobs = _add_jobs(session, batch, [repo_full_name], SyncTrigger(trigger), user_id, now)
        return jobs[0] if jobs else None


def _running_batch(session: Session, installation_id: int) -> SyncBatch | None:
    statement = select(SyncBatch).where(
        SyncBatch.installation_id == installation_id, SyncBatch.status == RUNNING
    )
    return session.exec(statement).first()


def running_batch_id(installation_id: int) -> int | None:
    """The id of the installation's running batch, if any."""
    with session_scope() as session:
        batch = _running_batch(session, installation_id)
        return batch.id if batch is not None else None
