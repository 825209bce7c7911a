"""Non-table types of the scheduler: what a tick did, and the windows it found due."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from gitpulse_app.core.clock import iso_z
from gitpulse_app.intelligence.windows import Window

DAILY = "daily"
WEEKLY = "weekly"


@dataclass
class KindTally:
    """One report kind's outcome in one tick (a `report_job_history` row).

    Attributes:
        users_attempted: Users checked: a time zone, onboarding completed and the kind enabled.
        reports_generated: Reports written by this tick.
        reports_skipped: Windows inside the catch-up horizon that needed nothing: a final or
            soft-deleted report already held them (or the generator declined, e.g. deleted
            meanwhile).
        errors: Windows whose generation raised; the other users and windows went on.
    """

    users_attempted: int = 0
    reports_generated: int = 0
    reports_skipped: int = 0
    errors: int = 0

    def as_json(self) -> dict[str, int]:
        return {
            "users_attempted": self.users_attempted,
            "reports_generated": self.reports_generated,
            "reports_skipped": self.reports_skipped,
            "errors": self.errors,
        }


@dataclass
class TickResult:
    """Everything one tick did (`tick --json`).

    Attributes:
        at: The injected clock reading every step used.
        daily: The daily reports' tally.
        weekly: The weekly reports' tally.
        syncs_requested: Reconciliation (6 h) and catch-up (04:30) syncs that started.
        webhooks_processed: Envelopes processed by both drains.
        embeddings_processed: Embedding rows handled by both drains.
        emails_sent: Emails sent by both drains.
        channel_messages_sent: Slack, Discord and webhook messages delivered by both drains
            (in the human summary only: the `tick --json` keys are fixed).
        unblocked: Blocked sync jobs returned to pending.
        zombies: Stale or dead-holder claims recovered (jobs, envelopes, embedding rows, emails)
            plus interrupted regenerations failed.
        batches_finalized: Sync batches finalised.
        slots: The daily slot jobs this tick ran ("02:15", "03:45", "04:30").
        failed_steps: Steps that raised (logged; the rest of the tick still ran).
    """

    at: dt.datetime
    daily: KindTally = field(default_factory=KindTally)
    weekly: KindTally = field(default_factory=KindTally)
    syncs_requested: int = 0
    webhooks_processed: int = 0
    embeddings_processed: int = 0
    emails_sent: int = 0
    channel_messages_sent: int = 0
    unblocked: int = 0
    zombies: int = 0
    batches_finalized: int = 0
    slots: list[str] = field(default_factory=list)
    failed_steps: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The `tick --json` object: exactly these keys, stable for scripts."""
        return {
            "at": iso_z(self.at),
            "daily": self.daily.as_json(),
            "weekly": self.weekly.as_json(),
            "syncs_requested": self.syncs_requested,
            "webhooks_processed": self.webhooks_processed,
            "embeddings_processed": self.embeddings_processed,
            "emails_sent": self.emails_sent,
            "unblocked": self.unblocked,
            "zombies": self.zombies,
            "batches_finalized": self.batches_finalized,
        }

    def summary(self) -> str:
        """The human summary of `tick` (stdout without `--json`)."""

        def kind(name: str, tally: KindTally) -> str:
            return (f"{name}: {tally.reports_generated} generated, {tally.reports_skipped} "
                    f"already there, {tally.errors} error(s) over {tally.users_attempted} user(s)")

        lines = [
            f"Tick at {iso_z(self.at)}",
            kind("Daily reports", self.daily),
            kind("Weekly reports", self.weekly),
            f"Syncs requested: {self.syncs_requested}; batches finalised: "
            f"{self.batches_finalized}",
            f"Drained: {self.webhooks_processed} webhook(s), {self.embeddings_processed} "
            f"embedding(s), {self.emails_sent} email(s), {self.channel_messages_sent} channel "
            "message(s)",
            f"Recovered: {self.unblocked} blocked job(s), {self.zombies} stale claim(s)",
        ]
        if self.slots:
            lines.append("Daily jobs run: " + ", ".join(self.slots))
        if self.failed_steps:
            lines.append("Steps that failed (see the log): " + ", ".join(self.failed_steps))
        return "\n".join(lines)


@dataclass(frozen=True)
class DueWindow:
    """A standard report window a user is owed.

    Attributes:
        user_id: The owner.
        kind: "daily" or "weekly".
        window: The local day or week, in UTC.
    """

    user_id: int
    kind: str
    window: Window


@dataclass
class DuePlan:
    """What one kind's due check found.

    Attributes:
        users_checked: Eligible users (zone set, onboarded, kind enabled).
        due: Windows to generate, per user oldest first, users in id order.
        covered: Eligible windows that already had a final or soft-deleted report.
    """

    users_checked: int = 0
    due: list[DueWindow] = field(default_factory=list)
    covered: int = 0
