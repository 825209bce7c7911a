"""The embedding queue: enqueue rules, claims, drain passes and recovery.

A row targets one `(content_hash, model)`. Machine: pending → processing (claimed by a conditional
UPDATE, `attempts+1`) → deleted on success, back to pending with backoff 30 s·2^(attempts−1) on a
failure while attempts < 5, else failed — and the fact is then queued for the next provider of the
chain, the local one last, so every fact ends up searchable. Provider calls never run inside a
database transaction, so a slow provider does not hold SQLite's write lock.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa
from sqlmodel import Session

from gitpulse_app.core.claims import claim_id, holder_is_dead
from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.db import UTCDateTime, dialect_insert, insert_ignore, session_scope
from gitpulse_app.core.models import Embedding, EmbeddingQueueItem, Event
from gitpulse_app.core.workers import yield_to_foreground
from gitpulse_app.intelligence.embeddings.batches import (
    BATCH_TEXTS,
    FactText,
    embed_batches,
)
from gitpulse_app.intelligence.embeddings.providers import (
    DIMENSIONS,
    EmbeddingProvider,
    FailureKind,
    ProviderError,
    next_model,
    primary_model,
    provider_for,
)
from gitpulse_app.intelligence.embeddings.texts import embedding_text

log = logging.getLogger(__name__)

PASS_ROWS = BATCH_TEXTS  # rows per drain pass: at most one full provider call per model
MAX_ATTEMPTS = 5
BACKOFF_BASE = dt.timedelta(seconds=30)
STALE_AFTER = dt.timedelta(minutes=10)
MISSING_PER_TICK = 1000
# Facts per INSERT…SELECT; keeps the bound ids far below SQLite's variable limit.
ENQUEUE_CHUNK = 5000

_queue = EmbeddingQueueItem.__table__
_embeddings = Embedding.__table__


@dataclass
class DrainStats:
    """What a drain did, per claimed row."""

    embedded: int = 0
    retrying: int = 0
    failed: int = 0
    dropped: int = 0  # rows whose fact no longer exists

    @property
    def processed(self) -> int:
        return self.embedded + self.retrying + self.failed + self.dropped

    def add(self, other: DrainStats) -> None:
        self.embedded += other.embedded
        self.retrying += other.retrying
        self.failed += other.failed
        self.dropped += other.dropped


def _ts(value: dt.datetime) -> sa.BindParameter[dt.datetime]:
    return sa.literal(value, UTCDateTime)


def _due_by(now: dt.datetime) -> sa.ColumnElement[dt.datetime]:
    """A returned row's `next_attempt_at`: its own, or `now` when that is earlier.

    Never later than the row's own earliest start: a sweep whose clock runs ahead (`tick --at`)
    must not hold the row back from drains on the real clock; and due for the sweeping clock
    itself (docs/recovery-clocks.md).
    """
    column = _queue.c.next_attempt_at
    return sa.case((column > _ts(now), _ts(now)), else_=column)


def _chunks(items: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


# Enqueueing ---------------------------------------------------------------------------------------
def _queue_source(model: str, now: dt.datetime) -> sa.Select:
    """One candidate row per content hash: the lowest event id holding it."""
    has_vector = sa.exists().where(
        _embeddings.c.content_hash == Event.content_hash, _embeddings.c.model == model
    )
    return (
        sa.select(
            sa.func.min(Event.id), Event.content_hash, sa.literal(model), sa.literal("pending"),
            sa.literal(0), _ts(now), _ts(now), _ts(now),
        )
        .where(~has_vector)
        .group_by(Event.content_hash)
        # Rows in one order everywhere (here, `store_vectors`): two PostgreSQL transactions then
        # lock shared queue rows in the same order and cannot deadlock.
        .order_by(Event.content_hash)
    )


_INSERT_COLUMNS = [
    "event_id", "content_hash", "model", "status", "attempts", "next_attempt_at", "created_at",
    "updated_at",
]


def enqueue_events(
    session: Session, event_ids: Iterable[int], model: str | None = None,
    *, now: dt.datetime | None = None,
) -> None:
    """Queue facts for `model` (default: the primary model) by the rules below.

    One INSERT…SELECT per 5000 facts: skipped when the embedding exists, a failed row is reset to
    pending with attempts 0, a pending or processing row is kept, otherwise a pending row is
    inserted. The caller commits.
    """
    model = model or primary_model()
    now = now or utcnow()
    ids = sorted(set(event_ids))
    for chunk in _chunks(ids, ENQUEUE_CHUNK):
        insert = dialect_insert(session, _queue)
        statement = insert.from_select(
            _INSERT_COLUMNS, _queue_source(model, now).where(Event.id.in_(chunk))
        ).on_conflict_do_update(
            index_elements=["content_hash", "model"],
            set_={
                "status": "pending", "attempts": 0, "next_attempt_at": now,
                "error_message": None, "claimed_by": None, "updated_at": now,
                "event_id": insert.excluded.event_id,
            },
            where=_queue.c.status == "failed",
        )
        session.execute(statement)


def enqueue_missing(session: Session, *, now: dt.datetime | None = None,
                    limit: int = MISSING_PER_TICK) -> int:
    """The background enqueuer: queue ≤ `limit` facts with neither a vector nor a row for the
    primary model. Failed rows are left alone (the daily reset handles them). The caller commits.

    Returns:
        The number of rows inserted.
    """
    model = primary_model()
    now = now or utcnow()
    has_row = sa.exists().where(
        _queue.c.content_hash == Event.content_hash, _queue.c.model == model
    )
    source = _queue_source(model, now).where(~has_row).limit(limit)
    statement = (
        insert_ignore(session, _queue, ["content_hash", "model"])
        .from_select(_INSERT_COLUMNS, source)
        .returning(_queue.c.id)
    )
    # RETURNING, not rowcount: drivers disagree on INSERT…SELECT's rowcount.
    return len(session.execute(statement).all())


def reset_failed_primary(session: Session, *, now: dt.datetime | None = None) -> int:
    """The daily job: failed rows of the primary model go back to pending with attempts 0, so
    fallback vectors are upgraded once the provider is back. The caller commits."""
    now = now or utcnow()
    statement = (
        sa.update(_queue)
        .where(_queue.c.status == "failed", _queue.c.model == primary_model())
        .values(status="pending", attempts=0, error_message=None, claimed_by=None,
                next_attempt_at=_due_by(now), updated_at=now)
    )
    return session.execute(statement).rowcount or 0


# Recovery -----------------------------------------------------------------------------------------
def recover_stale(session: Session, *, now: dt.datetime | None = None) -> int:
    """Processing rows untouched for 10 min, or held by a dead process on this host → pending."""
    now = now or utcnow()
    back = {"status": "pending", "claimed_by": None, "next_attempt_at": _due_by(now),
            "updated_at": now}
    recovered = session.execute(
        sa.update(_queue)
        .where(_queue.c.status == "processing", _queue.c.last_attempt_at < now - STALE_AFTER)
        .values(**back)
    ).rowcount or 0
    holders = session.scalars(
        sa.select(_queue.c.claimed_by).where(_queue.c.status == "processing").distinct()
    ).all()
    dead = [holder for holder in holders if holder_is_dead(holder)]
    if dead:
        recovered += session.execute(
            sa.update(_queue)
            .where(_queue.c.status == "processing", _queue.c.claimed_by.in_(dead))
            .values(**back)
        ).rowcount or 0
    return recovered


# Storing ------------------------------------------------------------------------------------------
def store_vectors(session: Session, provider: EmbeddingProvider, items: Sequence[FactText],
                  vectors: np.ndarray, now: dt.datetime) -> None:
    """Insert the embeddings (a hash already embedded is kept) and delete their queue rows."""
    values = {}
    for item, vector in zip(items, vectors):
        values[item.content_hash] = {
            "content_hash": item.content_hash, "provider": provider.name,
            "model": provider.model, "dimensions": DIMENSIONS,
            "vector": vector.astype("<f4").tobytes(), "created_at": now, "updated_at": now,
        }
    if not values:
        return
    hashes = sorted(values)  # lock order by hash, as `enqueue_events` (no deadlock)
    statement = insert_ignore(session, _embeddings, ["content_hash", "model"])
    session.execute(statement, [values[h] for h in hashes])
    done = session.scalars(
        sa.select(_queue.c.id)
        .where(_queue.c.model == provider.model, _queue.c.content_hash.in_(hashes))
        .order_by(_queue.c.content_hash)
        .with_for_update()
    ).all()
    if done:
        session.execute(sa.delete(_queue).where(_queue.c.id.in_(done)))


def fact_texts(session: Session, event_ids: Iterable[int]) -> dict[int, FactText]:
    """The embedding text of each existing fact, by event id."""
    rows = session.execute(
        sa.select(Event.id, Event.content_hash, Event.type, Event.meta, Event.canonical_text)
        .where(Event.id.in_(sorted(set(event_ids))))
    ).all()
    return {
        row.id: FactText(row.id, row.content_hash, embedding_text(row.type, row.meta,
                                                                  row.canonical_text))
        for row in rows
    }


# Draining -----------------------------------------------------------------------------------------
def _claim(session: Session, now: dt.datetime, limit: int) -> list[sa.Row]:
    due = session.scalars(
        sa.select(_queue.c.id)
        .where(_queue.c.status == "pending", _queue.c.next_attempt_at <= now)
        .order_by(_queue.c.next_attempt_at, _queue.c.id)
        .limit(limit)
        # PostgreSQL: rows another worker is claiming are skipped, not waited on (or deadlocked
        # on); SQLite has one writer at a time and no FOR UPDATE.
        .with_for_update(skip_locked=True)
    ).all()
    if not due:
        return []
    # Conditional on status: a row another process claimed first is simply not returned.
    return list(session.execute(
        sa.update(_queue)
        .where(_queue.c.id.in_(due), _queue.c.status == "pending")
        .values(status="processing", attempts=_queue.c.attempts + 1, last_attempt_at=now,
                claimed_by=claim_id(), updated_at=now)
        .returning(_queue.c.id, _queue.c.event_id, _queue.c.content_hash, _queue.c.model,
                   _queue.c.attempts)
    ).all())


def _texts_for_rows(session: Session, rows: Sequence[sa.Row]) -> tuple[list[FactText], list[int]]:
    """Each claimed row's text, and apart the rows whose content hash no fact holds any more."""
    by_id = fact_texts(session, [row.event_id for row in rows])
    stale_hashes = [
        row.content_hash for row in rows
        if by_id.get(row.event_id) is None or by_id[row.event_id].content_hash != row.content_hash
    ]
    # The row's fact changed since; another fact may still hold the queued hash.
    holders: dict[str, int] = {}
    if stale_hashes:
        for event_id, content_hash in session.execute(
            sa.select(Event.id, Event.content_hash).where(Event.content_hash.in_(stale_hashes))
        ).all():
            holders.setdefault(content_hash, event_id)
        by_id |= fact_texts(session, holders.values())
    items: list[FactText] = []
    orphans: list[int] = []
    for row in rows:
        fact = by_id.get(row.event_id)
        if fact is None or fact.content_hash != row.content_hash:
            holder = holders.get(row.content_hash)
            fact = by_id.get(holder) if holder is not None else None
        if fact is None:
            orphans.append(row.id)
            continue
        items.append(FactText(fact.event_id, row.content_hash, fact.text, row.id, row.attempts))
    return items, orphans


def _backoff(attempts: int) -> dt.timedelta:
    return BACKOFF_BASE * 2 ** max(attempts - 1, 0)


def _fail(session: Session, model: str, items: Sequence[FactText], message: str,
          now: dt.datetime, *, at_once: bool) -> DrainStats:
    """Record a failed call: back off, or end failed and queue the facts for the next model."""
    stats = DrainStats()
    message = message if len(message) <= 1000 else message[:999] + "…"
    failed = [item for item in items if at_once or item.attempts >= MAX_ATTEMPTS]
    failed_rows = {item.row_id for item in failed}
    retrying = [item for item in items if item.row_id not in failed_rows]
    by_attempts: dict[int, list[int]] = defaultdict(list)
    for item in retrying:
        by_attempts[item.attempts].append(item.row_id)
    for attempts, row_ids in by_attempts.items():
        session.execute(
            sa.update(_queue).where(_queue.c.id.in_(row_ids))
            .values(status="pending", next_attempt_at=now + _backoff(attempts),
                    error_message=message, claimed_by=None, updated_at=now)
        )
    stats.retrying = len(retrying)
    if failed:
        session.execute(
            sa.update(_queue).where(_queue.c.id.in_([item.row_id for item in failed]))
            .values(status="failed", error_message=message, claimed_by=None, updated_at=now)
        )
        following = next_model(model)
        if following is not None and following != model:
            enqueue_events(session, [item.event_id for item in failed], following, now=now)
        stats.failed = len(failed)
    return stats


def _process_model(model: str, items: list[FactText], now: dt.datetime) -> DrainStats:
    stats = DrainStats()
    provider = provider_for(model)
    if provider is None:
        with session_scope() as session:
            stats.add(_fail(session, model, items, f"No configured provider embeds with {model}.",
                            now, at_once=True))
        return stats
    for batch, outcome in embed_batches(provider, items, now):
        with session_scope() as session:
            if isinstance(outcome, ProviderError):
                at_once = outcome.kind is FailureKind.UNAVAILABLE
                stats.add(_fail(session, model, batch, str(outcome), now, at_once=at_once))
                if not at_once:
                    log.warning("Embedding %d facts with %s failed: %s", len(batch), model,
                                outcome)
            else:
                store_vectors(session, provider, batch, outcome, now)
                stats.embedded += len(batch)
    return stats


def run_pass(now: dt.datetime, limit: int = PASS_ROWS) -> DrainStats:
    """Claim up to `limit` due rows and embed them, one provider call per ≤ 128 texts of a model."""
    stats = DrainStats()
    with session_scope() as session:
        rows = _claim(session, now, limit)
        if not rows:
            return stats
        items, orphans = _texts_for_rows(session, rows)
        if orphans:
            session.execute(sa.delete(_queue).where(_queue.c.id.in_(orphans)))
            stats.dropped = len(orphans)
    by_model: dict[str, list[FactText]] = defaultdict(list)
    models = {row.id: row.model for row in rows}
    for item in items:
        by_model[models[item.row_id]].append(item)
    for model, model_items in by_model.items():
        stats.add(_process_model(model, model_items, now))
    return stats


def drain(now: dt.datetime | None = None, limit: int = 10_000) -> DrainStats:
    """Process due rows until none is due or `limit` rows were handled.

    Args:
        now: An injected clock (`tick --at`); every due check, backoff and timestamp uses it.
            None reads the real clock at each pass.
        limit: The most rows handled in this call.
    """
    total = DrainStats()
    with session_scope() as session:
        recover_stale(session, now=now or utcnow())
    while total.processed < limit:
        yield_to_foreground()
        stats = run_pass(now or utcnow(), min(PASS_ROWS, limit - total.processed))
        if stats.processed == 0:
            break
        total.add(stats)
    return total


def embed_facts_now(session: Session, event_ids: Sequence[int], model: str,
                    *, now: dt.datetime | None = None) -> int:
    """Embed facts synchronously with `model` (search's missing candidates), committing `session`.

    Provider errors are not raised: the facts stay queued and search uses the vectors it has.

    Returns:
        How many facts got a vector.
    """
    now = now or utcnow()
    provider = provider_for(model)
    if provider is None or not event_ids:
        return 0
    texts = fact_texts(session, event_ids)
    unique = list({fact.content_hash: fact for fact in texts.values()}.values())
    done = 0
    for batch, outcome in embed_batches(provider, unique, now):
        if isinstance(outcome, ProviderError):
            log.warning("Synchronous embedding with %s failed: %s", model, outcome)
            continue
        store_vectors(session, provider, batch, outcome, now)
        done += len(batch)
    session.commit()
    return done
