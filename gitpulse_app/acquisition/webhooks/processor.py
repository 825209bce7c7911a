"""Webhook processing: claim due envelopes, check, dispatch, retry, reclaim.

Any number of processes may drain at once: envelopes are claimed in batches by a conditional
UPDATE (pending and due → processing), so exactly one of them processes each; a batch's facts are
stored, and its envelopes completed, in one transaction (docs/webhook-batches.md). Every effect of
processing is an upsert or a guarded request, so processing an envelope twice (after a crash, or a
replay) changes nothing the first run did not.

State machine of `webhook_events.status`: pending → processing → completed | pending (retry with
backoff 30 s·2^(attempts−1)) | failed (schema error at once; other errors on the 5th attempt);
failed → pending on replay; processing untouched for 10 min, or claimed by a dead process → pending.
An outcome the database refused to record is kept in memory and written by the next drain.

The module is a little longer than most because the claim, the outcome bookkeeping, the recovery
sweeps and the worker share one state machine; split apart, each would restate it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from gitpulse_app.acquisition.webhook_schema import check_webhook_schema
from gitpulse_app.acquisition.webhooks import installations
from gitpulse_app.core.claims import claim_id, holder_is_dead
from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.config import get_settings
from gitpulse_app.core.db import DatabaseUnavailable, session_scope
from gitpulse_app.core.logging import get_logger, log_fields, metric
from gitpulse_app.core.models import Installation, WebhookEvent
from gitpulse_app.core.polling import Poller
from gitpulse_app.core.workers import worker, yield_to_foreground
from gitpulse_app.normalization.canonicalize_webhook import FACT_EVENTS, canonicalize_webhook
from gitpulse_app.normalization.models import NormalizedFact
from gitpulse_app.normalization.store import ingest_fact_groups, ingest_facts

MAX_ATTEMPTS = 5
RETRY_BASE = dt.timedelta(seconds=30)
STALE_CLAIM = dt.timedelta(minutes=10)
POLL_INTERVAL_S = 2.0
DRAIN_LIMIT = 10_000
# Envelopes per claim, ingest transaction and embedding enqueue (see docs/webhook-batches.md).
BATCH_SIZE = 50
# The longest a drain waits for in-flight requests (acks) before its next batch.
FOREGROUND_WAIT_S = 0.1
ERROR_MESSAGE_MAX = 1000

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


def _finish(envelope: Envelope, engine: Engine | None, after: Callable[[], None] | None = None,
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


# Processing --------------------------------------------------------------------------------------
def _describe(exc: BaseException) -> str:
    # A database error's driver message, not SQLAlchemy's statement dump with its parameters.
    if isinstance(exc, sa.exc.DBAPIError) and exc.orig is not None:
        text = f"{type(exc.orig).__name__}: {exc.orig}"
    else:
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text[:ERROR_MESSAGE_MAX]


def _ingest_facts(envelope: Envelope, now: dt.datetime, engine: Engine | None) -> str:
    github_url = get_settings().github_url
    facts = canonicalize_webhook(envelope.event, envelope.payload, github_url=github_url)
    if not facts:
        return "no fact"
    installation_id = None
    if envelope.installation_gh_id is not None:
        installation_id = installations.ensure_installation(
            envelope.installation_gh_id, now=now, engine=engine
        )
    result = ingest_facts(
        facts,
        observed_via="webhook",
        installation_id=installation_id,
        github_url=github_url,
        now=now,
        engine=engine,
    )
    return (
        f"{result.inserted} inserted, {result.updated} updated, {result.duplicates} duplicate"
    )


def dispatch(envelope: Envelope, now: dt.datetime, engine: Engine | None = None) -> str:
    """Apply a schema-checked envelope by its event (raises on any failure, to be retried).

    Args:
        envelope: The claimed envelope.
        now: The clock reading of this run.
        engine: The database (default: the process-wide engine).

    Returns:
        A short description of the effect, for the log.
    """
    if envelope.event in FACT_EVENTS:
        return _ingest_facts(envelope, now, engine)
    if envelope.event in installations.INSTALLATION_EVENTS:
        return installations.handle_installation_event(
            envelope.event, envelope.payload, now=now, engine=engine
        )
    log_fields(log, logging.INFO, "Unsupported webhook event", event=envelope.event,
               action=envelope.action, delivery_id=envelope.delivery_id)
    return "unsupported event"


def request_recovery(installation_gh_id: int | None, engine: Engine | None = None,
                     now: dt.datetime | None = None) -> None:
    """Request a `recovery` sync for the installation of a dead-lettered envelope (never raises)."""
    if installation_gh_id is None:
        return
    try:
        with session_scope(engine) as session:
            installation_id = session.execute(
                sa.select(Installation.id).where(  # type: ignore[call-overload]
                    Installation.gh_installation_id == installation_gh_id
                )
            ).scalar()
        if installation_id is None:
            log_fields(log, logging.WARNING, "No installation to recover for a dead letter",
                       installation_gh_id=installation_gh_id)
            return
        installations.request_sync_logged(installation_id, "recovery", now=now)
    except Exception:
        log.exception("Recovery sync request failed",
                      extra={"installation_gh_id": installation_gh_id})


def _record_failure(envelope: Envelope, now: dt.datetime, error: str,
                    engine: Engine | None) -> str:
    if envelope.attempts < MAX_ATTEMPTS:
        retry_at = now + retry_delay(envelope.attempts)
        _finish(envelope, engine, status="pending", error_message=error,
                next_attempt_at=retry_at, updated_at=now)
        log_fields(log, logging.WARNING, "Webhook processing failed; will retry",
                   delivery_id=envelope.delivery_id, event=envelope.event,
                   attempts=envelope.attempts, next_attempt_at=retry_at.isoformat(),
                   error=error)
        return RESCHEDULED
    def dead_lettered() -> None:
        log_fields(log, logging.ERROR, "Webhook envelope dead-lettered after 5 attempts",
                   delivery_id=envelope.delivery_id, event=envelope.event, error=error)
        request_recovery(envelope.installation_gh_id, engine, now)

    if _finish(envelope, engine, after=dead_lettered, status="failed", error_message=error,
               updated_at=now):
        dead_lettered()
    return FAILED


def _fail_schema(envelope: Envelope, error: str, now: dt.datetime,
                 engine: Engine | None) -> str:
    # A malformed payload fails the same way every time: no retry, no recovery sync.
    _finish(envelope, engine, status="failed", error_message=error, updated_at=now)
    log_fields(log, logging.WARNING, "Webhook payload failed the schema check",
               delivery_id=envelope.delivery_id, event=envelope.event, error=error)
    return FAILED


def _log_completed(envelope: Envelope, processed_at: dt.datetime, effect: str) -> None:
    lag_ms = int((processed_at - envelope.received_at).total_seconds() * 1000)
    metric("webhook_lag_ms", value=lag_ms, event=envelope.event,
           delivery_id=envelope.delivery_id)
    log_fields(log, logging.INFO, "Webhook processed", delivery_id=envelope.delivery_id,
               event=envelope.event, action=envelope.action, effect=effect)


def process(envelope: Envelope, now: dt.datetime, engine: Engine | None = None) -> str:
    """Process one claimed envelope and record the outcome on it.

    Args:
        envelope: An envelope this process claimed.
        now: The clock reading of this run (backoffs, `processed_at`).
        engine: The database (default: the process-wide engine).

    Returns:
        `completed`, `rescheduled` or `failed`.
    """
    schema_error = check_webhook_schema(envelope.event, envelope.payload)
    if schema_error is not None:
        return _fail_schema(envelope, schema_error, now, engine)
    return _process_checked(envelope, now, engine)


def _process_checked(envelope: Envelope, now: dt.datetime, engine: Engine | None) -> str:
    try:
        effect = dispatch(envelope, now, engine)
    except Exception as exc:
        return _record_failure(envelope, now, _describe(exc), engine)

    def completed() -> None:
        _log_completed(envelope, now, effect)

    if _finish(envelope, engine, after=completed, status="completed", processed_at=now,
               error_message=None, updated_at=now):
        completed()
    return COMPLETED


# Batches -----------------------------------------------------------------------------------------
@dataclass
class _Batch:
    """Claimed envelopes on their way through `process_batch`: the ones not yet settled."""

    open: dict[int, Envelope]
    outcomes: dict[int, str]

    def settle(self, envelope: Envelope, outcome: str) -> None:
        self.open.pop(envelope.id, None)
        self.outcomes[envelope.id] = outcome


def process_batch(envelopes: list[Envelope], now: dt.datetime, engine: Engine | None = None,
                  *, real_clock: bool = False) -> list[str]:
    """Process claimed envelopes together and record each one's outcome.

    The fact events' facts are stored in one transaction, which also completes those envelopes
    (so an envelope is completed exactly when its facts are committed), and announced with one
    `fact_changed`. Schema failures and other events are handled one by one. When the shared
    transaction fails, each of its envelopes is processed alone, so a bad envelope fails (and is
    retried) by itself and never takes its neighbours down.

    Args:
        envelopes: Envelopes this process claimed (`claim_batch`).
        now: The clock reading of this run (backoffs, timestamps).
        engine: The database (default: the process-wide engine).
        real_clock: `processed_at` is read from the real clock at completion instead of `now`.

    Returns:
        Each envelope's outcome (`completed`, `rescheduled` or `failed`), in order.
    """
    batch = _Batch(open={envelope.id: envelope for envelope in envelopes}, outcomes={})
    try:
        _process_batch(batch, envelopes, now, engine, real_clock)
    except BaseException:
        # The database went away: give back what was not processed (written now or later).
        _release(list(batch.open.values()), now, engine)
        raise
    return [batch.outcomes[envelope.id] for envelope in envelopes]


def _process_batch(batch: _Batch, envelopes: list[Envelope], now: dt.datetime,
                   engine: Engine | None, real_clock: bool) -> None:
    github_url = get_settings().github_url
    facts: list[tuple[Envelope, list[NormalizedFact]]] = []
    for envelope in envelopes:
        schema_error = check_webhook_schema(envelope.event, envelope.payload)
        if schema_error is not None:
            batch.settle(envelope, _fail_schema(envelope, schema_error, now, engine))
            continue
        if envelope.event in FACT_EVENTS:
            try:
                facts.append((envelope, canonicalize_webhook(envelope.event, envelope.payload,
                                                             github_url=github_url)))
                continue
            except Exception:
                pass  # processed alone below, which records the failure
        batch.settle(envelope, _process_checked(envelope, now, engine))
    if not facts:
        return
    try:
        completed, processed_at = _store_batch(facts, now, engine, real_clock)
    except Exception as exc:
        if len(facts) == 1:
            batch.settle(facts[0][0], _record_failure(facts[0][0], now, _describe(exc), engine))
            return
        log_fields(log, logging.WARNING, "Webhook batch failed; processing it one by one",
                   envelopes=len(facts), error=_describe(exc))
        for envelope, _ in facts:
            batch.settle(envelope, _process_checked(envelope, now, engine))
        return
    effect = f"stored in a batch of {len(facts)}"
    for envelope, _ in facts:
        if envelope.id in completed:
            _log_completed(envelope, processed_at, effect)
        else:
            log_fields(log, logging.WARNING, "Webhook envelope was reclaimed while processing",
                       delivery_id=envelope.delivery_id)
        batch.settle(envelope, COMPLETED)


def _store_batch(facts: list[tuple[Envelope, list[NormalizedFact]]], now: dt.datetime,
                 engine: Engine | None, real_clock: bool) -> tuple[set[int], dt.datetime]:
    """Store the batch's facts and complete its envelopes in one transaction.

    Returns:
        The ids of the envelopes completed (a claim taken over meanwhile is left alone), and
        their `processed_at`.
    """
    installation_ids = {
        gh_id: installations.ensure_installation(gh_id, now=now, engine=engine)
        for gh_id in dict.fromkeys(envelope.installation_gh_id for envelope, found in facts
                                   if found and envelope.installation_gh_id is not None)
    }
    # Consecutive envelopes of one installation form one group; the order of observations stays.
    groups: list[tuple[int | None, list[NormalizedFact]]] = []
    for envelope, found in facts:
        installation_id = installation_ids.get(envelope.installation_gh_id)
        if groups and groups[-1][0] == installation_id:
            groups[-1][1].extend(found)
        elif found:
            groups.append((installation_id, list(found)))
    ids = [envelope.id for envelope, _ in facts]
    holder = claim_id()
    processed_at = now

    def complete(session: Any) -> set[int]:
        nonlocal processed_at
        processed_at = utcnow() if real_clock else now
        return set(session.execute(
            sa.update(_envelopes)
            .where(_envelopes.c.id.in_(ids), _envelopes.c.status == "processing",
                   _envelopes.c.claimed_by == holder)
            .values(status="completed", processed_at=processed_at, error_message=None,
                    claimed_by=None, updated_at=now)
            .returning(_envelopes.c.id)
        ).scalars())

    _, completed = ingest_fact_groups(groups, observed_via="webhook",
                                      github_url=get_settings().github_url, now=now,
                                      engine=engine, within=complete)
    return completed or set(), processed_at


def _release(envelopes: list[Envelope], now: dt.datetime, engine: Engine | None) -> None:
    """Give claimed envelopes back unprocessed: pending, their attempt not counted.

    A write the database refuses is kept and written by a later drain (`settle_outcomes`).
    """
    for envelope in envelopes:
        with _unsettled_lock:
            decided = envelope.id in _unsettled  # its outcome is already waiting to be written
        if decided:
            continue
        with contextlib.suppress(sa.exc.SQLAlchemyError, DatabaseUnavailable):
            _finish(envelope, engine, status="pending", attempts=envelope.attempts - 1,
                    updated_at=now)


def drain(now: dt.datetime | None = None, limit: int = DRAIN_LIMIT,
          engine: Engine | None = None) -> DrainResult:
    """Process due envelopes, a batch at a time, until none is due (at most `limit`).

    Args:
        now: An injected clock reading used for every envelope (`tick --at`); default: the real
            clock, read per batch.
        limit: The most envelopes to process in this call.
        engine: The database (default: the process-wide engine).

    Returns:
        The counts of this drain.
    """
    result = DrainResult()
    settle_outcomes(engine)
    while result.processed < limit:
        yield_to_foreground(FOREGROUND_WAIT_S)
        moment = now or utcnow()
        envelopes = claim_batch(moment, min(BATCH_SIZE, limit - result.processed), engine)
        if not envelopes:
            break
        for outcome in process_batch(envelopes, moment, engine, real_clock=now is None):
            result.count(outcome)
    return result


# Recovery and replay -----------------------------------------------------------------------------
def reclaim_stale(now: dt.datetime | None = None, engine: Engine | None = None) -> int:
    """Return abandoned claims to pending: untouched for 10 min, or held by a dead process.

    A claim that has already used its fifth attempt is dead-lettered instead, so a delivery that
    kills its processor every time cannot loop forever.

    Args:
        now: The clock reading (default: now).
        engine: The database (default: the process-wide engine).

    Returns:
        How many envelopes were reclaimed.
    """
    now = now or utcnow()
    with session_scope(engine) as session:
        claimed = session.execute(
            sa.select(
                _envelopes.c.id,
                _envelopes.c.claimed_by,
                _envelopes.c.updated_at,
                _envelopes.c.attempts,
                _envelopes.c.installation_gh_id,
            ).where(_envelopes.c.status == "processing")
        ).all()
    dead: dict[str | None, bool] = {}
    reclaimed = 0
    for row in claimed:
        if row.claimed_by not in dead:
            dead[row.claimed_by] = holder_is_dead(row.claimed_by)
        if not (dead[row.claimed_by] or row.updated_at < now - STALE_CLAIM):
            continue
        exhausted = row.attempts >= MAX_ATTEMPTS
        with session_scope(engine) as session:
            result = session.execute(
                sa.update(_envelopes)
                .where(
                    _envelopes.c.id == row.id,
                    _envelopes.c.status == "processing",
                    _envelopes.c.claimed_by.is_not_distinct_from(row.claimed_by),
                    _envelopes.c.updated_at == row.updated_at,
                )
                .values(
                    status="failed" if exhausted else "pending",
                    claimed_by=None,
                    error_message="Processing was interrupted (stale claim)",
                    updated_at=now,
                )
            )
        if result.rowcount != 1:
            continue
        reclaimed += 1
        log_fields(log, logging.WARNING, "Stale webhook claim reclaimed", envelope_id=row.id,
                   holder=row.claimed_by, dead_letter=exhausted)
        if exhausted:
            request_recovery(row.installation_gh_id, engine, now)
    return reclaimed


def retry_failed(
    installation_gh_ids: Collection[int] | None = None,
    now: dt.datetime | None = None,
    engine: Engine | None = None,
) -> int:
    """Reset failed envelopes to pending with attempts 0, due now (replay of dead letters).

    Args:
        installation_gh_ids: Only envelopes of these GitHub installations (the /repos button);
            None for all.
        now: The clock reading (default: now).
        engine: The database (default: the process-wide engine).

    Returns:
        How many envelopes were reset.
    """
    now = now or utcnow()
    statement = sa.update(_envelopes).where(_envelopes.c.status == "failed")
    if installation_gh_ids is not None:
        statement = statement.where(_envelopes.c.installation_gh_id.in_(list(installation_gh_ids)))
    with session_scope(engine) as session:
        result = session.execute(
            statement.values(status="pending", attempts=0, next_attempt_at=now, claimed_by=None,
                             updated_at=now)
        )
    return result.rowcount


# The in-process worker ---------------------------------------------------------------------------
_poller = Poller()
wake = _poller.wake  # an envelope arrived: drain now (the receiver calls it after each store)


@worker("webhooks")
async def webhook_worker() -> None:
    """Drain envelopes at once on a wake-up and every 2 s; database work in a thread."""
    failure = "Webhook worker round failed; retrying at the next poll"
    try:
        await asyncio.to_thread(reclaim_stale)
    except Exception:
        log.exception(failure)
    await _poller.run(drain, POLL_INTERVAL_S, log=log, failure=failure)
