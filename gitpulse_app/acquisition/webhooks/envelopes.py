"""Webhook envelopes: claiming due ones and recording their outcomes (docs/webhook-batches.md).

Envelopes are claimed by a conditional UPDATE (pending and due → processing), so of several
processes exactly one wins each. An outcome is written only while this process's claim stands;
one the database refused to record is kept in memory and written by the next drain
(`settle_outcomes`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from gitpulse_app.core.claims import claim_id
from gitpulse_app.core.db import DatabaseUnavailable, session_scope
from gitpulse_app.core.logging import get_logger, log_fields
from gitpulse_app.core.models import WebhookEvent

MAX_ATTEMPTS = 5
RETRY_BASE = dt.timedelta(seconds=30)
STALE_CLAIM = dt.timedelta(minutes=10)
# Envelopes per claim, ingest transaction and embedding enqueue (see docs/webhook-batches.md).
BATCH_SIZE = 50

COMPLETED = "completed"
RESCHEDULED = "rescheduled"
FAILED = "failed"

log = get_logger(__name__)
_envelopes = WebhookEvent.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Envelope:
    """A claimed delivery, detached from the session that claimed it."""

    id: int
    delivery_id: str
    event: str
    action: str | None
    installation_gh_id: int | None
    payload: dict[str, Any]
    attempts: int
    received_at: dt.datetime


@dataclass
class DrainResult:
    """What one drain did.

    Attributes:
        processed: Envelopes claimed and processed.
        completed: Of those, completed.
        rescheduled: Of those, back to pending with a backoff (a retryable failure).
        failed: Of those, failed: a schema error, or the fifth failure (dead letter).
    """

    processed: int = 0
    completed: int = 0
    rescheduled: int = 0
    failed: int = 0

    def count(self, outcome: str) -> None:
        self.processed += 1
        if outcome == COMPLETED:
            self.completed += 1
        elif outcome == RESCHEDULED:
            self.rescheduled += 1
        else:
            self.failed += 1


def retry_delay(attempts: int) -> dt.timedelta:
    """The wait before the next attempt after `attempts` failed ones: 30 s, 1 m, 2 m, 4 m."""
    return RETRY_BASE * 2 ** max(attempts - 1, 0)


# Claiming ----------------------------------------------------------------------------------------
def claim_next(now: dt.datetime, engine: Engine | None = None) -> Envelope | None:
    """Claim the oldest due pending envelope for this process.

    Args:
        now: The clock reading: due means `next_attempt_at <= now`.
        engine: The database (default: the process-wide engine).

    Returns:
        The claimed envelope (status processing, attempts incremented), or None when none is due.
    """
    due = sa.and_(_envelopes.c.status == "pending", _envelopes.c.next_attempt_at <= now)
    while True:
        with session_scope(engine) as session:
            candidates = session.execute(
                sa.select(_envelopes.c.id)
                .where(due)
                .order_by(_envelopes.c.next_attempt_at, _envelopes.c.id)
                .limit(20)
            ).scalars().all()
        if not candidates:
            return None
        for envelope_id in candidates:
            # One short write transaction per attempt (on SQLite a read transaction upgraded to
            # a write fails at once when another process wrote meanwhile). The WHERE repeats the
            # state test, so of several processes exactly one wins.
            with session_scope(engine) as session:
                claimed = session.execute(
                    sa.update(_envelopes)
                    .where(_envelopes.c.id == envelope_id, due)
                    .values(
                        status="processing",
                        attempts=_envelopes.c.attempts + 1,
                        started_at=now,
                        claimed_by=claim_id(),
                        updated_at=now,
                    )
                )
                if claimed.rowcount != 1:
                    continue
                row = session.execute(
                    sa.select(_envelopes).where(_envelopes.c.id == envelope_id)
                ).one()
            return _envelope(row)


def claim_batch(now: dt.datetime, limit: int = BATCH_SIZE,
                engine: Engine | None = None) -> list[Envelope]:
    """Claim up to `limit` of the oldest due pending envelopes for this process, in one statement.

    A conditional UPDATE … RETURNING whose WHERE repeats the state test, so of several processes
    exactly one wins each envelope. On PostgreSQL the rows are first locked with SKIP LOCKED (rows
    another claim is taking are skipped, not waited on); SQLite has one writer at a time and runs
    the whole claim as one statement.

    Args:
        now: The clock reading: due means `next_attempt_at <= now`.
        limit: The most envelopes to claim.
        engine: The database (default: the process-wide engine).

    Returns:
        The claimed envelopes (status processing, attempts incremented) in arrival order; empty
        when none is due.
    """
    due = sa.and_(_envelopes.c.status == "pending", _envelopes.c.next_attempt_at <= now)
    oldest = (
        sa.select(_envelopes.c.id)
        .where(due)
        .order_by(_envelopes.c.next_attempt_at, _envelopes.c.id)
        .limit(limit)
    )
    with session_scope(engine) as session:
        if session.get_bind().dialect.name == "postgresql":
            # Locked first, then updated: inside `IN (…)` PostgreSQL may rescan a LIMIT … SKIP
            # LOCKED subquery and update more rows than the limit.
            picked: Any = session.execute(oldest.with_for_update(skip_locked=True)).scalars().all()
            if not picked:
                return []
        else:
            # SQLite: one statement, so the transaction starts as a write (see `claim_next`).
            picked = oldest.scalar_subquery()
        rows = session.execute(
            sa.update(_envelopes)
            .where(_envelopes.c.id.in_(picked), due)
            .values(status="processing", attempts=_envelopes.c.attempts + 1, started_at=now,
                    claimed_by=claim_id(), updated_at=now)
            .returning(*_ENVELOPE_COLUMNS)
        ).all()
    return sorted((_envelope(row) for row in rows), key=lambda envelope: envelope.id)


_ENVELOPE_COLUMNS = tuple(
    _envelopes.c[name] for name in ("id", "delivery_id", "event", "action", "installation_gh_id",
                                    "payload", "attempts", "received_at")
)


def _envelope(row: Any) -> Envelope:
    return Envelope(
        id=row.id,
        delivery_id=row.delivery_id,
        event=row.event,
        action=row.action,
        installation_gh_id=row.installation_gh_id,
        payload=row.payload if isinstance(row.payload, dict) else {},
        attempts=row.attempts,
        received_at=row.received_at,
    )


def _write_outcome(envelope_id: int, holder: str, engine: Engine | None,
                   values: dict[str, Any]) -> bool:
    # Only while the claim stands: a row reclaimed from us belongs to its new holder.
    with session_scope(engine) as session:
        result = session.execute(
            sa.update(_envelopes)
            .where(
                _envelopes.c.id == envelope_id,
                _envelopes.c.status == "processing",
                _envelopes.c.claimed_by == holder,
            )
            .values(claimed_by=None, **values)
        )
    return result.rowcount == 1


def finish(envelope: Envelope, engine: Engine | None, after: Callable[[], None] | None = None,
            **values: Any) -> bool:
    """Record an outcome on a claimed envelope; True when the claim was still ours.

    When the database fails the write, the outcome is kept and written by a later drain
    (`settle_outcomes`) instead of the claim waiting out the 10-minute stale rule; `after` runs
    once it is written then.
    """
    holder = claim_id()
    try:
        written = _write_outcome(envelope.id, holder, engine, values)
    except (sa.exc.SQLAlchemyError, DatabaseUnavailable):
        with _unsettled_lock:
            _unsettled[envelope.id] = _Unsettled(envelope, holder, values, engine, after,
                                                 time.monotonic())
        raise
    if not written:
        log_fields(log, logging.WARNING, "Webhook envelope was reclaimed while processing",
                   delivery_id=envelope.delivery_id)
    return written


@dataclass(frozen=True)
class _Unsettled:
    """An outcome this process decided but could not write (the database was away)."""

    envelope: Envelope
    holder: str
    values: dict[str, Any]
    engine: Engine | None
    after: Callable[[], None] | None
    since: float  # time.monotonic() of the refused write


_unsettled: dict[int, _Unsettled] = {}
_unsettled_lock = threading.Lock()


def settle_outcomes(engine: Engine | None = None) -> int:
    """Write the outcomes `engine`'s database refused earlier; the number written.

    Each is written only while this process's claim stands, so a retry is idempotent and an
    envelope reclaimed meanwhile is left to its new holder. Stops at the first failure (the
    database is still away) and keeps the rest for the next drain; after the stale-claim time the
    sweep (`reclaim_stale`) owns the envelope and its outcome is dropped.
    """
    expired = time.monotonic() - STALE_CLAIM.total_seconds()
    with _unsettled_lock:
        for envelope_id in [k for k, v in _unsettled.items() if v.since < expired]:
            del _unsettled[envelope_id]
        waiting = [item for item in _unsettled.values() if item.engine is engine]
    written = 0
    for item in waiting:
        try:
            ok = _write_outcome(item.envelope.id, item.holder, item.engine, item.values)
        except (sa.exc.SQLAlchemyError, DatabaseUnavailable):
            return written
        with _unsettled_lock:
            _unsettled.pop(item.envelope.id, None)
        if ok:
            written += 1
            log_fields(log, logging.INFO, "Webhook outcome written once the database was back",
                       delivery_id=item.envelope.delivery_id, status=item.values.get("status"))
            if item.after is not None:
                item.after()
    return written


def release(envelopes: list[Envelope], now: dt.datetime, engine: Engine | None) -> None:
    """Give claimed envelopes back unprocessed: pending, their attempt not counted.

    A write the database refuses is kept and written by a later drain (`settle_outcomes`).
    """
    for envelope in envelopes:
        with _unsettled_lock:
            decided = envelope.id in _unsettled  # its outcome is already waiting to be written
        if decided:
            continue
        with contextlib.suppress(sa.exc.SQLAlchemyError, DatabaseUnavailable):
            finish(envelope, engine, status="pending", attempts=envelope.attempts - 1,
                    updated_at=now)
