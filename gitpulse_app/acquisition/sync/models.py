"""Non-table types of sync orchestration: triggers, policy outcomes, request results."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class SyncTrigger(StrEnum):
    """Why a sync was requested; stored on batches and jobs as `trigger`."""

    MANUAL = "manual"
    WEBHOOK = "webhook"
    CRON = "cron"
    MAINTENANCE = "maintenance"
    RECOVERY = "recovery"


class PolicyReason(StrEnum):
    """Why the sync policy refused a request (`PolicyDecision.reason`)."""

    INACTIVE = "inactive"
    NO_LINKED_USER = "no_linked_user"
    NO_REPOSITORIES = "no_repositories"
    COOLDOWN_ACTIVE = "cooldown_active"
    RATE_LIMITED = "rate_limited"
    ALREADY_SYNCING = "already_syncing"


class RequestOutcome(StrEnum):
    """Request outcomes the policy does not decide (`details["reason"]`, metric `result`)."""

    STARTED = "started"
    ADDED_TO_RUNNING = "added_to_running"
    NOT_FOUND = "not_found"
    NOT_AUTHORIZED = "not_authorized"
    DEMO = "demo"
    ALREADY_RUNNING = "already_running"
    START_FAILED = "start_failed"


class InstallationState(Protocol):
    """The installation fields the policy reads (an `Installation` row satisfies it)."""

    status: str
    sync_status: str
    last_synced_at: dt.datetime | None
    last_manual_sync_at: dt.datetime | None
    rate_limit_remaining: int | None
    rate_limit_limit: int | None
    rate_limit_reset: dt.datetime | None


@dataclass(frozen=True)
class InstallationSnapshot:
    """A detached copy of the installation fields the policy reads."""

    status: str = "active"
    sync_status: str = "idle"
    last_synced_at: dt.datetime | None = None
    last_manual_sync_at: dt.datetime | None = None
    rate_limit_remaining: int | None = None
    rate_limit_limit: int | None = None
    rate_limit_reset: dt.datetime | None = None

    @classmethod
    def of(cls, installation: InstallationState) -> InstallationSnapshot:
        """Copy the policy's fields from an installation row (or anything shaped like one)."""
        return cls(
            status=installation.status,
            sync_status=installation.sync_status,
            last_synced_at=installation.last_synced_at,
            last_manual_sync_at=installation.last_manual_sync_at,
            rate_limit_remaining=installation.rate_limit_remaining,
            rate_limit_limit=installation.rate_limit_limit,
            rate_limit_reset=installation.rate_limit_reset,
        )


@dataclass(frozen=True)
class PolicyDecision:
    """The policy's verdict on one request.

    Attributes:
        allowed: True when the sync may start.
        reason: A `PolicyReason` value when refused, else None.
        message: The sentence shown to a person ("Sync started" when allowed).
        blocked_until: For `rate_limited`: when the budget resets, if known.
        cooldown_ms: For `cooldown_active`: milliseconds until a manual sync is allowed.
    """

    allowed: bool
    reason: str | None
    message: str
    blocked_until: dt.datetime | None = None
    cooldown_ms: int | None = None


@dataclass(frozen=True)
class SyncRequestResult:
    """What `request_sync` did.

    Attributes:
        started: True when a batch was started (or, for the CLI's `--repo`, a job was added to the
            running batch).
        message: The sentence shown to a person.
        details: `reason` (a `PolicyReason` or `RequestOutcome` value) and, where they apply,
            `batch_id`, `total_repos`, `since`, `added_repos`, `blocked_until`, `cooldown_ms`.
    """

    started: bool
    message: str
    details: dict[str, Any] = field(default_factory=dict)
