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

Claiming and outcome bookkeeping live in `envelopes`, the stale-claim sweep and recovery syncs in
`recovery`; this module processes, drains, replays and runs the worker.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from gitpulse_app.acquisition.webhook_schema import check_webhook_schema
from gitpulse_app.acquisition.webhooks import installations
from gitpulse_app.acquisition.webhooks.envelopes import (
    BATCH_SIZE,
    COMPLETED,
    FAILED,
    MAX_ATTEMPTS,
    RESCHEDULED,
    DrainResult,
    Envelope,
    claim_batch,
    finish,
    release,
    retry_delay,
    settle_outcomes,
)
from gitpulse_app.acquisition.webhooks.recovery import reclaim_stale, request_recovery
from gitpulse_app.core.claims import claim_id
from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.config import get_settings
from gitpulse_app.core.db import session_scope
from gitpulse_app.core.logging import get_logger, log_fields, metric
from gitpulse_app.core.models import WebhookEvent
from gitpulse_app.core.polling import Poller
from gitpulse_app.core.workers import worker, yield_to_foreground
from gitpulse_app.normalization.canonicalize_webhook import FACT_EVENTS, canonicalize_webhook
from gitpulse_app.normalization.models import NormalizedFact
from gitpulse_app.normalization.store import ingest_fact_groups, ingest_facts

POLL_INTERVAL_S = 2.0
DRAIN_LIMIT = 10_000
# The longest a drain waits for in-flight requests (acks) before its next batch.
FOREGROUND_WAIT_S = 0.1
ERROR_MESSAGE_MAX = 1000

log = get_logger(__name__)
_envelopes = WebhookEvent.__table__  # type: ignore[attr-defined]


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


def _record_failure(envelope: Envelope, now: dt.datetime, error: str,
                    engine: Engine | None) -> str:
    if envelope.attempts < MAX_ATTEMPTS:
        retry_at = now + retry_delay(envelope.attempts)
        finish(envelope, engine, status="pending", error_message=error,
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

    if finish(envelope, engine, after=dead_lettered, status="failed", error_message=error,
               updated_at=now):
        dead_lettered()
    return FAILED


def _fail_schema(envelope: Envelope, error: str, now: dt.datetime,
                 engine: Engine | None) -> str:
    # A malformed payload fails the same way every time: no retry, no recovery sync.
    finish(envelope, engine, status="failed", error_message=error, updated_at=now)
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

    if finish(envelope, engine, after=completed, status="completed", processed_at=now,
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
        release(list(batch.open.values()), now, engine)
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


# Replay -------------------------------------------------------------------------------------------


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
