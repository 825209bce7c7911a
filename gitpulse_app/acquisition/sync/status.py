"""What the UI shows about syncing: the status view model and the integration status.

Everything here reads; nothing changes a row. Views are plain dataclasses holding display-ready
values, never ORM objects.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlmodel import Session, col, func, select

from gitpulse_app.acquisition.access import (
    can_see_installation,
    linked_user_ids,
    syncable_repos,
    visible_installations,
)
from gitpulse_app.acquisition.sync.models import PolicyDecision, PolicyReason, SyncTrigger
from gitpulse_app.acquisition.sync.policy import evaluate_policy
from gitpulse_app.acquisition.sync.service import BLOCKED, COMPLETED, FAILED, RUNNING
from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import Event, IngestionJob, Installation, SyncBatch, User

RATE_LIMIT_ERROR = "GitHub API rate limit reached. Sync will resume automatically."
AUTH_ERROR = "GitHub authentication failed. Please reconnect your account."
NETWORK_ERROR = "Connection to GitHub failed. Please try again."
GENERIC_ERROR = "Sync encountered an error. Please try again."
MAX_RAW_ERROR_LENGTH = 100
ESCALATION_MESSAGE = "GitHub webhooks may have stopped. Check App installation."
ESCALATION_ATTEMPTS = 3
ESTIMATING = "Estimating…"
# Below this share of work done an ETA is noise.
ETA_MIN_DONE = 0.05
RECENT_COMPLETION = dt.timedelta(seconds=30)
STALE_EVENTS_AFTER = dt.timedelta(days=3)


class SyncState(StrEnum):
    """The one word the sync banner is built from, in precedence order."""

    RECOVERING = "recovering"
    BLOCKED = "blocked"
    FINISHING = "finishing"
    SYNCING = "syncing"
    ERROR = "error"
    IDLE = "idle"


@dataclass(frozen=True)
class BatchProgress:
    """Progress of the running batch.

    Attributes:
        percent: Share of jobs ended, 0–100, rounded half up.
        eta_seconds: Estimated seconds to go; None while estimating (under 5 % done).
    """

    batch_id: int
    total: int
    completed: int
    failed: int
    events_ingested: int
    current_repo: str | None
    started_at: dt.datetime
    percent: int
    eta_seconds: int | None

    @property
    def eta_label(self) -> str:
        """"Estimating…", or the remaining time as "N s", "N min" or "N h M min"."""
        if self.eta_seconds is None:
            return ESTIMATING
        if self.eta_seconds < 60:
            return f"{self.eta_seconds} s"
        minutes = math.ceil(self.eta_seconds / 60)
        if minutes < 60:
            return f"{minutes} min"
        return f"{minutes // 60} h {minutes % 60} min"


@dataclass(frozen=True)
class Escalation:
    """Advice shown when reconciliation keeps finding facts webhooks should have delivered."""

    message: str
    url: str | None


@dataclass(frozen=True)
class CompletedSync:
    """A batch that finished moments ago (for a "Sync complete" toast)."""

    batch_id: int
    status: str
    finished_at: dt.datetime
    completed_repos: int
    failed_repos: int
    events_ingested: int


@dataclass(frozen=True)
class SyncStatusView:
    """The sync status of one source as one user sees it.

    Attributes:
        state: A `SyncState` value.
        can_sync_now: A manual sync by this user would start now.
        policy_message: Why not (the policy's sentence), or "Sync started" when it would.
        cooldown_ms: Milliseconds of manual cooldown left, only while it applies.
        blocked_until: When rate-limited work resumes, if it is waiting.
        last_sync_error: The stored error as a sentence a person can act on.
    """

    installation_id: int
    account_login: str | None
    kind: str
    state: str
    can_sync_now: bool
    policy_message: str
    cooldown_ms: int | None
    blocked_until: dt.datetime | None
    batch_progress: BatchProgress | None
    last_synced_at: dt.datetime | None
    last_sync_error: str | None
    escalation: Escalation | None
    last_completed_sync: CompletedSync | None


def normalize_sync_error(raw: str | None) -> str | None:
    """Turn a stored sync error into a sentence that says what to do."""
    if not raw:
        return None
    lowered = raw.lower()
    if "rate limit" in lowered:
        return RATE_LIMIT_ERROR
    if any(word in lowered for word in ("token", "auth", "401")):
        return AUTH_ERROR
    if any(word in lowered for word in ("network", "fetch", "timeout")):
        return NETWORK_ERROR
    if len(raw) > MAX_RAW_ERROR_LENGTH or "Error:" in raw:
        return GENERIC_ERROR
    return raw


def estimate_eta_seconds(
    elapsed: dt.timedelta,
    done: float,
    *,
    blocked_until: dt.datetime | None = None,
    now: dt.datetime,
) -> int | None:
    """Seconds left at the pace so far, never less than the wait for `blocked_until`.

    Args:
        elapsed: Time since the batch started.
        done: Share of the work done, 0–1.
        blocked_until: When blocked work may resume, if any.
        now: The clock reading.

    Returns:
        Whole seconds (rounded up), or None below 5 % done ("Estimating…").
    """
    if done < ETA_MIN_DONE:
        return None
    done = min(done, 1.0)
    eta = elapsed.total_seconds() * (1 - done) / done
    if blocked_until is not None:
        eta = max(eta, (blocked_until - now).total_seconds())
    return max(0, math.ceil(eta))


def _percent(ended: int, total: int) -> int:
    # Half up, as the original's Math.round (Python's round() is half to even).
    return math.floor(ended * 100 / total + 0.5) if total else 0


def _batch_progress(
    batch: SyncBatch,
    jobs: Sequence[IngestionJob],
    blocked_until: dt.datetime | None,
    now: dt.datetime,
) -> BatchProgress:
    total = len(jobs) or batch.total_repos
    completed = sum(job.status == COMPLETED for job in jobs)
    failed = sum(job.status == FAILED for job in jobs)
    running = [job for job in jobs if job.status == RUNNING]
    in_flight = sum(job.progress for job in running) / 100
    done = (completed + failed + in_flight) / total if total else 0.0
    current = max(running, key=lambda job: job.heartbeat_at or job.created_at, default=None)
    return BatchProgress(
        batch_id=batch.id or 0,
        total=total,
        completed=completed,
        failed=failed,
        events_ingested=sum(job.events_ingested for job in jobs),
        current_repo=current.repo_full_name if current is not None else None,
        started_at=batch.created_at,
        percent=_percent(completed + failed, total),
        eta_seconds=estimate_eta_seconds(
            now - batch.created_at, done, blocked_until=blocked_until, now=now
        ),
    )


def _state(
    installation: Installation, batch: SyncBatch | None, jobs: Sequence[IngestionJob]
) -> SyncState:
    if batch is None:
        return SyncState.ERROR if installation.sync_status == "error" else SyncState.IDLE
    if batch.trigger == SyncTrigger.RECOVERY:
        return SyncState.RECOVERING
    if any(job.status == BLOCKED for job in jobs):
        return SyncState.BLOCKED
    if jobs and all(job.status in (COMPLETED, FAILED) for job in jobs):
        return SyncState.FINISHING
    return SyncState.SYNCING


def _manual_decision(
    session: Session, installation: Installation, now: dt.datetime
) -> PolicyDecision:
    assert installation.id is not None
    return evaluate_policy(
        installation,
        SyncTrigger.MANUAL,
        now=now,
        linked_user_count=len(linked_user_ids(session, installation.id)),
        syncable_repo_count=len(syncable_repos(session, installation)),
        user_initiated=True,
        skip_user_checks=False,
    )


def _last_completed_sync(
    session: Session, installation_id: int, now: dt.datetime
) -> CompletedSync | None:
    batch = session.exec(
        select(SyncBatch)
        .where(
            SyncBatch.installation_id == installation_id,
            col(SyncBatch.status).in_((COMPLETED, FAILED)),
            col(SyncBatch.completed_at) > now - RECENT_COMPLETION,
        )
        .order_by(col(SyncBatch.completed_at).desc())
    ).first()
    if batch is None or batch.completed_at is None:
        return None
    return CompletedSync(
        batch_id=batch.id or 0,
        status=batch.status,
        finished_at=batch.completed_at,
        completed_repos=batch.completed_repos,
        failed_repos=batch.failed_repos,
        events_ingested=batch.events_ingested,
    )


def build_sync_status(
    session: Session, installation: Installation, *, github_url: str, now: dt.datetime
) -> SyncStatusView:
    """The status view of one source (visibility is the caller's check).

    Args:
        session: An open session.
        installation: The source.
        github_url: The web base (`GITHUB_URL`) for the escalation link.
        now: The clock reading.
    """
    assert installation.id is not None
    batch = session.exec(
        select(SyncBatch).where(
            SyncBatch.installation_id == installation.id, SyncBatch.status == RUNNING
        )
    ).first()
    jobs = (
        session.exec(select(IngestionJob).where(IngestionJob.batch_id == batch.id)).all()
        if batch is not None
        else []
    )
    state = _state(installation, batch, jobs)
    decision = _manual_decision(session, installation, now)
    waits = [job.blocked_until for job in jobs if job.status == BLOCKED and job.blocked_until]
    blocked_until = max(waits) if waits else None
    if blocked_until is None and decision.reason == PolicyReason.RATE_LIMITED:
        blocked_until = decision.blocked_until
    escalation = None
    if installation.recovery_attempts >= ESCALATION_ATTEMPTS:
        url = None
        if installation.gh_installation_id is not None:
            base = github_url.rstrip("/")
            url = f"{base}/settings/installations/{installation.gh_installation_id}"
        escalation = Escalation(message=ESCALATION_MESSAGE, url=url)
    return SyncStatusView(
        installation_id=installation.id,
        account_login=installation.account_login,
        kind=installation.kind,
        state=state.value,
        can_sync_now=decision.allowed and batch is None and installation.kind != "demo",
        policy_message=decision.message,
        cooldown_ms=(
            decision.cooldown_ms if decision.reason == PolicyReason.COOLDOWN_ACTIVE else None
        ),
        blocked_until=blocked_until,
        batch_progress=(
            _batch_progress(batch, jobs, blocked_until, now) if batch is not None else None
        ),
        last_synced_at=installation.last_synced_at,
        last_sync_error=normalize_sync_error(installation.last_sync_error),
        escalation=escalation,
        last_completed_sync=(
            _last_completed_sync(session, installation.id, now) if state == SyncState.IDLE else None
        ),
    )


def installation_sync_status(
    installation_id: int, *, user_id: int, github_url: str, now: dt.datetime | None = None
) -> SyncStatusView | None:
    """The status of one source, or None when the user may not see it (as if it did not exist)."""
    now = now or utcnow()
    with session_scope() as session:
        if not can_see_installation(session, user_id, installation_id):
            return None
        installation = session.get(Installation, installation_id)
        assert installation is not None
        return build_sync_status(session, installation, github_url=github_url, now=now)


def sync_statuses_for_user(
    user_id: int, *, github_url: str, now: dt.datetime | None = None
) -> list[SyncStatusView]:
    """The status of every source the user may see, oldest link first."""
    now = now or utcnow()
    with session_scope() as session:
        return [
            build_sync_status(session, installation, github_url=github_url, now=now)
            for installation in visible_installations(session, user_id)
        ]


class IntegrationState(StrEnum):
    """How far a user's GitHub integration works, checked in this order."""

    UNAUTHENTICATED = "unauthenticated"
    MISSING_INSTALLATION = "missing_installation"
    NO_EVENTS = "no_events"
    STALE_EVENTS = "stale_events"
    HEALTHY = "healthy"


@dataclass(frozen=True)
class IntegrationStatus:
    """A user's integration state and the time of their own latest fact."""

    state: str
    last_event_at: dt.datetime | None = None


def integration_status(user_id: int | None, now: dt.datetime | None = None) -> IntegrationStatus:
    """Whether the user is signed up, has a source, and has recent facts of their own."""
    now = now or utcnow()
    if user_id is None:
        return IntegrationStatus(IntegrationState.UNAUTHENTICATED.value)
    with session_scope() as session:
        user = session.get(User, user_id)
        if user is None or user.signed_up_at is None:
            return IntegrationStatus(IntegrationState.UNAUTHENTICATED.value)
        if not visible_installations(session, user_id):
            return IntegrationStatus(IntegrationState.MISSING_INSTALLATION.value)
        latest = session.exec(select(func.max(Event.ts)).where(Event.actor_id == user_id)).one()
    if latest is None:
        return IntegrationStatus(IntegrationState.NO_EVENTS.value)
    if now - latest > STALE_EVENTS_AFTER:
        return IntegrationStatus(IntegrationState.STALE_EVENTS.value, latest)
    return IntegrationStatus(IntegrationState.HEALTHY.value, latest)

