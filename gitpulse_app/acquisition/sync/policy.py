"""The sync policy: a pure decision whether a requested sync may start.

Checks run in a fixed order and the first failure wins: inactive › no_linked_user ›
no_repositories › cooldown_active › rate_limited › already_syncing. The CLI (`skip_user_checks`)
keeps only `inactive` and `rate_limited`.
"""

from __future__ import annotations

import datetime as dt
import math

from gitpulse_app.acquisition.sync.models import (
    InstallationState,
    PolicyDecision,
    PolicyReason,
    SyncTrigger,
)

MIN_SYNC_BUDGET = 100
# Reconciliation leaves room for webhook-driven and user-requested work.
CRON_BUDGET_RESERVE = 500
CRON_MIN_SYNC_BUDGET = MIN_SYNC_BUDGET + CRON_BUDGET_RESERVE
UNKNOWN_BUDGET = 5000
MANUAL_SYNC_COOLDOWN = dt.timedelta(hours=1)
STALE_BYPASS = dt.timedelta(hours=48)

INACTIVE_MESSAGE = "GitHub App installation is suspended or removed"
NO_LINKED_USER_MESSAGE = "Installation not configured"
NO_REPOSITORIES_MESSAGE = "No repositories selected for sync"
RATE_LIMITED_MESSAGE = "GitHub API rate limit reached. Please try again later."
ALREADY_SYNCING_MESSAGE = "Sync already in progress"
STARTED_MESSAGE = "Sync started"
DEFAULT_COOLDOWN_MINUTES = 60


def cooldown_message(remaining_ms: int | None) -> str:
    """"Please wait N minute(s) before syncing again", rounded up, singular for one minute.

    Args:
        remaining_ms: Milliseconds left in the cooldown; None when unknown (60 minutes is shown).
    """
    if remaining_ms is None:
        minutes = DEFAULT_COOLDOWN_MINUTES
    else:
        minutes = max(1, math.ceil(remaining_ms / 60_000))
    unit = "minute" if minutes == 1 else "minutes"
    return f"Please wait {minutes} {unit} before syncing again"


def available_budget(installation: InstallationState, now: dt.datetime) -> int:
    """The GitHub API calls the installation may still spend.

    Unknown, already reset, or disabled (GitHub Enterprise reports limit 0) counts as a full
    budget of `UNKNOWN_BUDGET`.
    """
    remaining = installation.rate_limit_remaining
    reset = installation.rate_limit_reset
    if remaining is None or installation.rate_limit_limit == 0:
        return UNKNOWN_BUDGET
    if reset is not None and reset <= now:
        return UNKNOWN_BUDGET
    return remaining


def required_budget(trigger: str) -> int:
    """The budget a request of `trigger` needs before it may start."""
    return CRON_MIN_SYNC_BUDGET if trigger == SyncTrigger.CRON else MIN_SYNC_BUDGET


def is_stale(installation: InstallationState, now: dt.datetime) -> bool:
    """Never synced, or last synced more than `STALE_BYPASS` ago (the cooldown is waived)."""
    last = installation.last_synced_at
    return last is None or now - last > STALE_BYPASS


def cooldown_remaining_ms(installation: InstallationState, now: dt.datetime) -> int:
    """Milliseconds until the manual cooldown ends (0 or less when it has ended)."""
    if installation.last_manual_sync_at is None:
        return 0
    remaining = installation.last_manual_sync_at + MANUAL_SYNC_COOLDOWN - now
    return math.ceil(remaining / dt.timedelta(milliseconds=1))


def _refuse(
    reason: PolicyReason,
    message: str,
    *,
    blocked_until: dt.datetime | None = None,
    cooldown_ms: int | None = None,
) -> PolicyDecision:
    return PolicyDecision(
        allowed=False,
        reason=reason.value,
        message=message,
        blocked_until=blocked_until,
        cooldown_ms=cooldown_ms,
    )


def evaluate_policy(
    inst_snapshot: InstallationState,
    trigger: str,
    *,
    now: dt.datetime,
    linked_user_count: int,
    syncable_repo_count: int,
    user_initiated: bool,
    skip_user_checks: bool,
) -> PolicyDecision:
    """Decide whether a sync of `trigger` may start now.

    Args:
        inst_snapshot: The installation (a row or an `InstallationSnapshot`).
        trigger: A `SyncTrigger` value.
        now: The current instant (aware UTC).
        linked_user_count: Users linked to the installation in `user_installations`.
        syncable_repo_count: Repositories tracked by at least one linked user.
        user_initiated: A signed-in user pressed a button; only then does the manual cooldown apply.
        skip_user_checks: CLI mode: skip the link, repository, cooldown and already-syncing checks.

    Returns:
        The first failing check's decision, or an allowed decision with "Sync started".

    Raises:
        ValueError: `trigger` is not a known trigger.
    """
    trigger = SyncTrigger(trigger)
    inst = inst_snapshot
    if inst.status != "active":
        return _refuse(PolicyReason.INACTIVE, INACTIVE_MESSAGE)
    if not skip_user_checks:
        if linked_user_count < 1:
            return _refuse(PolicyReason.NO_LINKED_USER, NO_LINKED_USER_MESSAGE)
        if syncable_repo_count < 1:
            return _refuse(PolicyReason.NO_REPOSITORIES, NO_REPOSITORIES_MESSAGE)
        if trigger == SyncTrigger.MANUAL and user_initiated:
            remaining_ms = cooldown_remaining_ms(inst, now)
            if remaining_ms > 0 and not is_stale(inst, now):
                return _refuse(
                    PolicyReason.COOLDOWN_ACTIVE,
                    cooldown_message(remaining_ms),
                    cooldown_ms=remaining_ms,
                )
    if available_budget(inst, now) < required_budget(trigger):
        return _refuse(
            PolicyReason.RATE_LIMITED, RATE_LIMITED_MESSAGE, blocked_until=inst.rate_limit_reset
        )
    if not skip_user_checks and trigger == SyncTrigger.MANUAL and inst.sync_status == "syncing":
        return _refuse(PolicyReason.ALREADY_SYNCING, ALREADY_SYNCING_MESSAGE)
    return PolicyDecision(allowed=True, reason=None, message=STARTED_MESSAGE)
