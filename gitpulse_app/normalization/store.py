"""The fact store: upsert by natural identity `(type, source_url)`.

Why: docs/decisions/natural-identity-fact-store.md.

A new `(type, source_url)` is inserted. An observation older (by `source_updated_at`) than the
stored one is a duplicate, so an out-of-order "created" never overwrites an "edited". Otherwise it
is merged into the stored fact: metadata overlaid with the new non-null values, stored metrics kept
and missing ones filled, the actor kept unless a git-only or login-only actor meets one with a
gh_id, `ts` and `observed_via` kept. The merged fact is re-rendered and re-hashed: a new hash (or
an upgraded actor) is an update, anything else a duplicate. Inserted and updated facts are reported
as `FactChange`s, which `ingest_facts` sends with `fact_changed` once its transaction committed.

Backfills store thousands of facts at once, so a batch costs one SELECT per fact type and 500
URLs, one multi-row INSERT … RETURNING and one executemany UPDATE, plus a few queries per distinct
actor and repository.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from gitpulse_app.core.config import get_settings
from gitpulse_app.core.db import UTCDateTime, insert_ignore, session_scope
from gitpulse_app.core.fact_versions import mark_facts_written
from gitpulse_app.core.logging import get_logger, metric
from gitpulse_app.core.signals import fact_changed
from gitpulse_app.normalization.changes import FactChange, UpsertResult
from gitpulse_app.normalization.fact_rows import (
    EVENTS,
    INSERT_COLUMNS,
    MERGED_COLUMNS,
    Key,
    aware_now,
    load_stored,
    update_by_id,
)
from gitpulse_app.normalization.fold import Fold
from gitpulse_app.normalization.models import NormalizedFact
from gitpulse_app.normalization.resolver import IdentityResolver

log = get_logger(__name__)

T = TypeVar("T")

# A locked SQLite database: after the 5 s busy timeout, three more attempts.
LOCKED_RETRY_DELAYS_S = (0.1, 0.2, 0.4)


# Storing -----------------------------------------------------------------------------------------


def store_facts(
    session: Session,
    facts: Sequence[NormalizedFact],
    *,
    observed_via: str,
    installation_id: int | None = None,
    github_url: str | None = None,
    now: dt.datetime | None = None,
) -> UpsertResult:
    """Upserts facts by natural identity inside the caller's transaction (nothing is committed).

    Repositories are upserted first (a rename rewrites stored URLs before this batch is matched
    against them), actors are resolved when a fact needs them. The same `(type, source_url)` twice
    in one call is folded in order, the second being a later observation of the first.

    Args:
        session: The caller's session.
        facts: Normalized facts, in observation order.
        observed_via: "webhook", "backfill" or "demo"; kept from the first observer on merges.
        installation_id: The source (`installations.id`) the facts came through; fills a stored
            fact that has none.
        github_url: Web base of fact URLs, for renames; defaults to `GITHUB_URL`.
        now: The write time (aware UTC); defaults to now.

    Returns:
        Counts and one `FactChange` per inserted or updated fact, for `publish_changes` after
        the commit.

    Raises:
        ValueError: `now` is a naive datetime.
    """
    now = aware_now(now)
    result = UpsertResult()
    if not facts:
        return result
    github_url = (github_url or get_settings().github_url).rstrip("/")
    resolver = IdentityResolver(session, github_url=github_url, now=now)
    for fact in facts:
        resolver.repo(fact.repo)
    changes: dict[int, FactChange] = {change.event_id: change for change in resolver.renamed}

    folds = _fold(session, facts, resolver, installation_id)
    for fold in folds.values():
        fold.refresh_actor(resolver)
    new = [fold for fold in folds.values() if fold.is_new]
    inserted_ids = _insert(session, new, observed_via, now)
    late = [fold for fold in new if (fold.type, fold.source_url) not in inserted_ids]
    if late:
        # Another transaction stored these between our SELECT and INSERT: merge into its rows.
        late_keys = {(fold.type, fold.source_url) for fold in late}
        late_facts = [fact for fact in facts if (fact.type, fact.source_url) in late_keys]
        for key, fold in _fold(session, late_facts, resolver, installation_id).items():
            fold.refresh_actor(resolver)
            folds[key] = fold

    updates = [fold for fold in folds.values() if not fold.is_new and fold.row_changed]
    _update(session, updates, now)

    observed = 0
    for key, fold in folds.items():
        observed += fold.observations
        if key in inserted_ids:
            result.inserted += 1
            changes[inserted_ids[key]] = fold.change(inserted_ids[key], "inserted")
        elif not fold.is_new and fold.content_changed:
            changes[fold.stored["id"]] = fold.change(fold.stored["id"], "updated")
    result.changes = list(changes.values())
    result.updated = sum(1 for change in result.changes if change.result == "updated")
    merged_updates = sum(1 for fold in folds.values() if not fold.is_new and fold.content_changed)
    result.duplicates = observed - result.inserted - merged_updates
    return result


def _fold(
    session: Session,
    facts: Sequence[NormalizedFact],
    resolver: IdentityResolver,
    installation_id: int | None,
) -> dict[Key, Fold]:
    """Folds the batch into one `Fold` per natural identity, starting from the stored rows."""
    stored = load_stored(session, {(fact.type, fact.source_url) for fact in facts})
    actors = resolver.users({row["actor_id"] for row in stored.values()})
    folds: dict[Key, Fold] = {}
    for fact in facts:
        key = (fact.type, fact.source_url)
        fold = folds.get(key)
        if fold is None and key in stored:
            row = stored[key]
            fold = folds[key] = Fold.from_row(row, actors[row["actor_id"]])
        if fold is None:
            folds[key] = Fold.new(fact, resolver, installation_id)
        else:
            fold.observe(fact, resolver, installation_id)
    return folds


def _insert(
    session: Session, folds: list[Fold], observed_via: str, now: dt.datetime
) -> dict[Key, int]:
    """Inserts new facts in one statement; a row another writer inserted first is skipped."""
    if not folds:
        return {}
    if session.get_bind().dialect.name == "sqlite":
        return _insert_sqlite(session, folds, observed_via, now)
    rows = [fold.insert_row(observed_via, now) for fold in folds]
    statement = insert_ignore(session, EVENTS, ["type", "source_url"]).returning(
        EVENTS.c.id, EVENTS.c.type, EVENTS.c.source_url)
    returned = session.execute(statement, rows)
    return {(row.type, row.source_url): row.id for row in returned}


# Rows per multi-row INSERT on SQLite: 18 columns x 1,000 stays under its 32,766 variables.
SQLITE_INSERT_CHUNK = 1000


def _insert_sqlite(
    session: Session, folds: list[Fold], observed_via: str, now: dt.datetime
) -> dict[Key, int]:
    """The same INSERT … ON CONFLICT DO NOTHING as multi-row VALUES statements.

    Values go through each column type's own bind processor, as SQLAlchemy would apply them,
    without its per-row parameter bookkeeping. While one statement runs it is the only writer, and
    SQLite gives each new row the id after the largest one: the rows a statement inserted are the
    `rowcount` ids ending at `lastrowid`. Reading them back by that range costs less than
    RETURNING, which holds every inserted row until the statement ends.
    """
    connection = session.connection()
    mark_facts_written(session)  # driver-level SQL: the fact version's hooks do not see it
    instant, as_json = _sqlite_binders(connection.dialect)
    instant = _per_instant(instant, {})  # shared: `source_updated_at` is usually `ts`
    now_bound = instant(now)
    inserted: dict[Key, int] = {}
    # The DB-API cursor of the session's own connection (same transaction): its rows come back as
    # plain tuples, without a result object per row.
    with contextlib.closing(connection.connection.dbapi_connection.cursor()) as cursor:
        for start in range(0, len(folds), SQLITE_INSERT_CHUNK):
            chunk = folds[start : start + SQLITE_INSERT_CHUNK]
            values: list[Any] = []
            for fold in chunk:
                values += fold.insert_values(observed_via, now_bound, instant, as_json)
            cursor.execute(_SQLITE_INSERT.format(values=", ".join([_SQLITE_ROW] * len(chunk))),
                           values)
            count, last = cursor.rowcount, cursor.lastrowid
            if count <= 0:
                continue
            rows = cursor.execute(_SQLITE_INSERTED, (last - count + 1, last)).fetchall()
            if len(rows) != count:  # ids were not consecutive (only past the largest 64-bit id)
                raise RuntimeError(f"{count} facts inserted but {len(rows)} read back")
            inserted.update(((fact_type, url), event_id) for event_id, fact_type, url in rows)
    return inserted


_SQLITE_INSERT = (f"INSERT INTO events ({', '.join(INSERT_COLUMNS)}) VALUES {{values}} "
                  "ON CONFLICT (type, source_url) DO NOTHING")
_SQLITE_ROW = f"({', '.join('?' * len(INSERT_COLUMNS))})"
_SQLITE_INSERTED = "SELECT id, type, source_url FROM events WHERE id BETWEEN ? AND ?"


# The `INSERT_COLUMNS` whose types convert a value before binding: the timestamps and the metadata.
_INSTANT_COLUMNS = ("ts", "source_updated_at", "created_at", "updated_at")
_JSON_COLUMN = "metadata"


@functools.cache
def _sqlite_binders(dialect: sa.Dialect) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """The bind processors of the timestamp columns (all `UTCDateTime`) and of the metadata column,
    as SQLAlchemy would apply them; refuses a table whose other insert columns convert too."""
    processors = {column: EVENTS.c[column].type._cached_bind_processor(dialect)
                  for column in INSERT_COLUMNS}
    converting = {column for column, processor in processors.items() if processor is not None}
    instants_ok = all(isinstance(EVENTS.c[column].type, UTCDateTime)
                      for column in _INSTANT_COLUMNS)
    if converting != {*_INSTANT_COLUMNS, _JSON_COLUMN} or not instants_ok:
        raise RuntimeError(f"events columns converting on bind changed: {sorted(converting)}")
    return processors["ts"], processors[_JSON_COLUMN]


def _per_instant(
    processor: Callable[[Any], Any], done: dict[dt.datetime, Any]
) -> Callable[[Any], Any]:
    """A `UTCDateTime` bind processor that converts each distinct instant once, remembered in
    `done` (a batch repeats its write time in `created_at` and `updated_at`, and `ts` in
    `source_updated_at`).

    Equal aware datetimes are the same instant, so they bind to the same UTC value; anything else
    goes to the processor itself (which refuses naive values)."""

    def process(value: Any) -> Any:
        if type(value) is not dt.datetime or value.tzinfo is None:
            return processor(value)
        bound = done.get(value)
        if bound is None:
            bound = done[value] = processor(value)
        return bound

    return process


_UPDATE = update_by_id(
    updated_at=sa.bindparam("b_updated_at"),
    **{column: sa.bindparam(f"b_{column}") for column in MERGED_COLUMNS[1:]},
    actor_id=sa.func.coalesce(sa.bindparam("b_actor_id"), EVENTS.c.actor_id),
)


def _update(session: Session, folds: list[Fold], now: dt.datetime) -> None:
    if folds:
        session.execute(_UPDATE, [fold.update_row(now) for fold in folds])


# Reading facts for other layers -----------------------------------------------------------------


def count_backfilled_facts(
    session: Session,
    *,
    installation_id: int,
    stored_from: dt.datetime,
    stored_until: dt.datetime,
    types: Iterable[str],
    happened_before: dt.datetime,
) -> int:
    """How many facts a backfill of one source stored in `[stored_from, stored_until]` (by
    `created_at`) that are of one of `types` and happened (`ts`) before `happened_before`."""
    statement = sa.select(sa.func.count(EVENTS.c.id)).where(
        EVENTS.c.installation_id == installation_id,
        EVENTS.c.observed_via == "backfill",
        EVENTS.c.created_at >= stored_from,
        EVENTS.c.created_at <= stored_until,
        EVENTS.c.type.in_(sorted(types)),
        EVENTS.c.ts < happened_before,
    )
    return int(session.execute(statement).scalar_one())


def has_actor_fact(
    session: Session,
    *,
    actor_id: int,
    repo_ids: Iterable[int],
    start: dt.datetime,
    end: dt.datetime,
) -> bool:
    """Whether the actor has a fact in one of these repositories with `start <= ts < end`."""
    found = session.scalar(
        sa.select(EVENTS.c.id)
        .where(
            EVENTS.c.actor_id == actor_id,
            EVENTS.c.repo_id.in_(sorted(repo_ids)),
            EVENTS.c.ts >= start,
            EVENTS.c.ts < end,
        )
        .limit(1)
    )
    return found is not None


# One transaction, then the signal ----------------------------------------------------------------


def ingest_facts(
    facts: Sequence[NormalizedFact],
    *,
    observed_via: str,
    installation_id: int | None = None,
    github_url: str | None = None,
    now: dt.datetime | None = None,
    engine: Engine | None = None,
) -> UpsertResult:
    """Stores facts in their own transaction, then announces the changes.

    After the commit, `fact_changed` is sent once with `changes=[FactChange, …]` (when anything
    changed) and the metrics `fact.upserted{result,count}` and `events_ingested` per inserted fact
    are logged. A locked SQLite database is retried after 100, 200 and 400 ms.

    Args:
        facts: Normalized facts, in observation order.
        observed_via: "webhook", "backfill" or "demo".
        installation_id: The source the facts came through.
        github_url: Web base of fact URLs; defaults to `GITHUB_URL`.
        now: The write time (aware UTC); defaults to now.
        engine: The database; defaults to the process-wide engine.

    Returns:
        What `store_facts` did.
    """
    result, _ = ingest_fact_groups([(installation_id, facts)], observed_via=observed_via,
                                   github_url=github_url, now=now, engine=engine)
    return result


def ingest_fact_groups(
    groups: Sequence[tuple[int | None, Sequence[NormalizedFact]]],
    *,
    observed_via: str,
    github_url: str | None = None,
    now: dt.datetime | None = None,
    engine: Engine | None = None,
    within: Callable[[Session], T] | None = None,
) -> tuple[UpsertResult, T | None]:
    """Stores the facts of several sources in one transaction, then announces every change once.

    The webhook processor stores a batch of envelopes this way: one transaction and one
    `fact_changed` (so one embedding enqueue and one staleness pass) for all of them, and
    `within` records the envelopes' outcome in the very transaction that stored their facts.
    A locked SQLite database is retried after 100, 200 and 400 ms, `within` included.

    Args:
        groups: `(installation_id, facts)` pairs, in observation order.
        observed_via: "webhook", "backfill" or "demo".
        github_url: Web base of fact URLs; defaults to `GITHUB_URL`.
        now: The write time (aware UTC); defaults to now.
        engine: The database; defaults to the process-wide engine.
        within: Called with the session after the facts are stored, before the commit.

    Returns:
        The merged `UpsertResult` of every group, and what `within` returned (None without it).
    """
    groups = [(installation_id, list(facts)) for installation_id, facts in groups]
    for delay in (*LOCKED_RETRY_DELAYS_S, None):
        try:
            outcomes: list[tuple[int | None, UpsertResult]] = []
            with session_scope(engine) as session:
                for installation_id, facts in groups:
                    outcomes.append((installation_id, store_facts(
                        session,
                        facts,
                        observed_via=observed_via,
                        installation_id=installation_id,
                        github_url=github_url,
                        now=now,
                    )))
                extra = within(session) if within is not None else None
            break
        except sa.exc.OperationalError as exc:
            if delay is None or not is_database_locked(exc):
                raise
            log.warning("Database is locked; retrying the fact batch", extra={"delay_s": delay})
            time.sleep(delay)
    result = UpsertResult()
    for installation_id, outcome in outcomes:
        _log_metrics(outcome, observed_via, installation_id)
        result.merge(outcome)
    publish_changes(result.changes, now=now)
    return result, extra


def publish_changes(changes: Sequence[FactChange], *, now: dt.datetime | None = None) -> None:
    """Sends `fact_changed(changes=[…], now=…)` once; call it only after the transaction committed.

    `now` is the writer's clock (None: the real one), so receivers judge by the same instant. Each
    change is also logged as the metric `fact_changed{event_id, content_hash, result}`, so a fact
    announced twice with the same content (processed twice) can be counted from the logs.
    """
    if changes:
        for change in changes:
            metric("fact_changed", event_id=change.event_id, content_hash=change.content_hash,
                   result=change.result)
        fact_changed.send(changes=list(changes), now=now)


def is_database_locked(exc: BaseException) -> bool:
    """Whether an error is SQLite's "database is locked" (worth retrying)."""
    return "database is locked" in str(getattr(exc, "orig", exc)).lower()


def _log_metrics(result: UpsertResult, observed_via: str, installation_id: int | None) -> None:
    for name in ("inserted", "updated", "duplicates"):
        count = getattr(result, name)
        if count:
            outcome = "duplicate" if name == "duplicates" else name
            metric("fact.upserted", result=outcome, count=count, observed_via=observed_via)
    for change in result.changes:
        if change.result == "inserted":
            metric(
                "events_ingested",
                event_id=change.event_id,
                type=change.type,
                repo_id=change.repo_id,
                installation_id=installation_id,
            )
