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

import datetime as dt
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Engine
from sqlmodel import Session

from gitpulse_app.core.config import get_settings
from gitpulse_app.core.db import UTCDateTime, session_scope, utcnow
from gitpulse_app.core.fact_versions import mark_facts_written
from gitpulse_app.core.logging import get_logger, metric
from gitpulse_app.core.models import Event, User
from gitpulse_app.core.signals import fact_changed
from gitpulse_app.normalization.content_hash import content_hash
from gitpulse_app.normalization.identity import IdentityResolver, actor_of, is_same_identity
from gitpulse_app.normalization.models import ActorRef, Metrics, NormalizedFact, RepoRef

log = get_logger(__name__)

FactResult = Literal["inserted", "updated"]
Key = tuple[str, str]
T = TypeVar("T")

LOOKUP_CHUNK = 500
# A locked SQLite database: after the 5 s busy timeout, three more attempts.
LOCKED_RETRY_DELAYS_S = (0.1, 0.2, 0.4)

EVENTS = Event.__table__
# Columns a merge may change; the rest (ts, repo, observed_via, created_at) never change.
_MERGED_COLUMNS = (
    "actor_id",  # first: the UPDATE treats it apart
    "installation_id",
    "canonical_text",
    "additions",
    "deletions",
    "files_changed",
    "metadata",
    "content_hash",
    "gh_id",
    "gh_node_id",
    "source_updated_at",
)
_INSERT_COLUMNS = (
    "type",
    "source_url",
    "repo_id",
    "actor_id",
    "installation_id",
    "ts",
    "canonical_text",
    "additions",
    "deletions",
    "files_changed",
    "metadata",
    "content_hash",
    "gh_id",
    "gh_node_id",
    "observed_via",
    "source_updated_at",
    "created_at",
    "updated_at",
)
_STORED_COLUMNS = tuple(
    EVENTS.c[name] for name in ("id", "type", "source_url", "repo_id", "ts", *_MERGED_COLUMNS)
)


@dataclass
class FactChange:
    """A fact whose content a store call inserted or changed (the `fact_changed` payload).

    Attributes:
        event_id: The `events` row.
        result: "inserted" or "updated".
        content_hash: The fact's hash after the change (the embedding to queue).
        ts: When it happened (reports whose window contains it go stale).
        repo_id: Its repository.
        actor_id: Its actor after the change.
        type: Its fact type.
    """

    event_id: int
    result: FactResult
    content_hash: str
    ts: dt.datetime
    repo_id: int
    actor_id: int
    type: str


@dataclass
class UpsertResult:
    """What one store call did.

    Each observation is counted once: the first observation of a natural identity counts as that
    fact's outcome, further ones in the same call as duplicates. Facts rewritten by a repository
    rename count as updated.

    Attributes:
        inserted: New facts.
        updated: Stored facts whose content changed.
        duplicates: Observations that changed nothing (older, identical or repeated).
        changes: One `FactChange` per inserted or updated fact.
    """

    inserted: int = 0
    updated: int = 0
    duplicates: int = 0
    changes: list[FactChange] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Every counted outcome."""
        return self.inserted + self.updated + self.duplicates

    def merge(self, other: UpsertResult) -> UpsertResult:
        """Adds `other`'s counts and changes to this result (in place) and returns it."""
        self.inserted += other.inserted
        self.updated += other.updated
        self.duplicates += other.duplicates
        self.changes.extend(other.changes)
        return self


# The batch fold ----------------------------------------------------------------------------------


@dataclass
class _Fold:
    """One natural identity's fact while a batch is folded into it, observation by observation."""

    type: str
    source_url: str
    repo_id: int
    actor: User
    actor_ref: ActorRef
    ts: dt.datetime
    metrics: Metrics
    metadata: dict[str, Any]
    gh_id: str | None
    gh_node_id: str | None
    installation_id: int | None
    source_updated_at: dt.datetime | None
    canonical_text: str
    content_hash: str
    stored: dict[str, Any] | None = None  # the row as loaded; None for a new fact
    resolved_from: ActorRef | None = None  # the observed actor `actor` was resolved from
    resolved_at: int = -1  # `IdentityResolver.resolutions` when `actor` was resolved
    observations: int = 0

    @classmethod
    def new(
        cls, fact: NormalizedFact, resolver: IdentityResolver, installation_id: int | None
    ) -> _Fold:
        text = fact.canonical_text  # rendered once: `fact.content_hash` would render it again
        return cls(
            type=fact.type,
            source_url=fact.source_url,
            repo_id=resolver.repo(fact.repo).id,
            actor=resolver.actor(fact.actor),
            actor_ref=fact.actor,
            ts=fact.ts,
            metrics=fact.metrics,
            metadata=fact.metadata,  # copied when a later observation merges into it
            gh_id=fact.gh_id,
            gh_node_id=fact.gh_node_id,
            installation_id=installation_id,
            source_updated_at=fact.source_updated_at,
            canonical_text=text,
            content_hash=content_hash(text, fact.source_url, fact.metrics),
            resolved_from=fact.actor,
            resolved_at=resolver.resolutions,
            observations=1,
        )

    @classmethod
    def from_row(cls, row: dict[str, Any], actor: User) -> _Fold:
        return cls(
            type=row["type"],
            source_url=row["source_url"],
            repo_id=row["repo_id"],
            actor=actor,
            actor_ref=actor_of(actor),
            ts=row["ts"],
            metrics=Metrics(row["additions"], row["deletions"], row["files_changed"]),
            metadata=dict(row["metadata"] or {}),
            gh_id=row["gh_id"],
            gh_node_id=row["gh_node_id"],
            installation_id=row["installation_id"],
            source_updated_at=row["source_updated_at"],
            canonical_text=row["canonical_text"],
            content_hash=row["content_hash"],
            stored=row,
        )

    def observe(
        self, fact: NormalizedFact, resolver: IdentityResolver, installation_id: int | None
    ) -> None:
        """Merges a later observation of the same fact; an older one changes nothing."""
        self.observations += 1
        newer = fact.source_updated_at
        if self.source_updated_at is not None and newer is not None:
            if newer < self.source_updated_at:
                return
            self.source_updated_at = newer
        elif newer is not None:
            self.source_updated_at = newer
        # A new dict: a new fold still shares its first observation's metadata.
        self.metadata = {
            **self.metadata, **{k: v for k, v in fact.metadata.items() if v is not None}
        }
        self.metrics = self.metrics.fill_missing_from(fact.metrics)
        if self.actor.gh_id is None and fact.actor.gh_id is not None:
            self.actor = resolver.actor(fact.actor)
            self.actor_ref = self.resolved_from = fact.actor
            self.resolved_at = resolver.resolutions
        elif is_same_identity(fact.actor, self.actor):
            # The observation names the stored actor as this very fact did (same git name).
            self.actor_ref = fact.actor
        else:
            # e.g. a reopen by someone else: the fact stays the opener's.
            self.actor_ref = actor_of(self.actor)
        self.gh_id = self.gh_id or fact.gh_id
        self.gh_node_id = self.gh_node_id or fact.gh_node_id
        if self.installation_id is None:
            self.installation_id = installation_id
        merged = NormalizedFact(
            type=self.type,
            repo=fact.repo,
            actor=self.actor_ref,
            ts=self.ts,
            source_url=self.source_url,
            metrics=self.metrics,
            metadata=self.metadata,
        )
        self.canonical_text = merged.canonical_text
        self.content_hash = content_hash(self.canonical_text, self.source_url, self.metrics)

    def refresh_actor(self, resolver: IdentityResolver) -> None:
        """Re-resolves the actor before writing: a later fact of the batch may have merged a
        login-only user into a GitHub account."""
        if self.resolved_from is not None and self.resolved_at != resolver.resolutions:
            self.actor = resolver.actor(self.resolved_from)
            self.resolved_at = resolver.resolutions

    @property
    def is_new(self) -> bool:
        return self.stored is None

    @property
    def content_changed(self) -> bool:
        """A new hash or another actor: the embedding or the reports need refreshing."""
        stored = self.stored or {}
        return (
            self.content_hash != stored.get("content_hash")
            or self.actor.id != stored.get("actor_id")
        )

    @property
    def row_changed(self) -> bool:
        """Anything the row stores differs (also metadata beyond the text, ids, ordering)."""
        stored = self.stored or {}
        return self.content_changed or any(
            stored.get(column) != value for column, value in self._merged_values().items()
        )

    def _merged_values(self) -> dict[str, Any]:
        return {
            "actor_id": self.actor.id,
            "installation_id": self.installation_id,
            "additions": self.metrics.additions,
            "deletions": self.metrics.deletions,
            "files_changed": self.metrics.files_changed,
            "metadata": self.metadata,
            "content_hash": self.content_hash,
            "gh_id": self.gh_id,
            "gh_node_id": self.gh_node_id,
            "source_updated_at": self.source_updated_at,
        }

    def insert_values(self, observed_via: str, now: Any) -> tuple[Any, ...]:
        """The new row's values in `_INSERT_COLUMNS` order (`now` as the caller binds it)."""
        metrics = self.metrics
        return (
            self.type,
            self.source_url,
            self.repo_id,
            self.actor.id,
            self.installation_id,
            self.ts,
            self.canonical_text,
            metrics.additions,
            metrics.deletions,
            metrics.files_changed,
            self.metadata,
            self.content_hash,
            self.gh_id,
            self.gh_node_id,
            observed_via,
            self.source_updated_at,
            now,
            now,
        )

    def insert_row(self, observed_via: str, now: dt.datetime) -> dict[str, Any]:
        return dict(zip(_INSERT_COLUMNS, self.insert_values(observed_via, now)))

    def update_row(self, now: dt.datetime) -> dict[str, Any]:
        values = {**self._merged_values(), "canonical_text": self.canonical_text}
        if self.actor.id == self.stored["actor_id"]:
            # Unchanged: leave the column alone (identity resolution may have moved it meanwhile).
            values["actor_id"] = None
        return {"b_id": self.stored["id"], "b_updated_at": now} | {
            f"b_{column}": values[column] for column in _MERGED_COLUMNS
        }

    def change(self, event_id: int, result: FactResult) -> FactChange:
        return FactChange(
            event_id=event_id,
            result=result,
            content_hash=self.content_hash,
            ts=self.ts,
            repo_id=self.repo_id,
            actor_id=self.actor.id,
            type=self.type,
        )


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
    now = _aware_now(now)
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
) -> dict[Key, _Fold]:
    """Folds the batch into one `_Fold` per natural identity, starting from the stored rows."""
    stored = _load_stored(session, {(fact.type, fact.source_url) for fact in facts})
    actors = resolver.users({row["actor_id"] for row in stored.values()})
    folds: dict[Key, _Fold] = {}
    for fact in facts:
        key = (fact.type, fact.source_url)
        fold = folds.get(key)
        if fold is None and key in stored:
            row = stored[key]
            fold = folds[key] = _Fold.from_row(row, actors[row["actor_id"]])
        if fold is None:
            folds[key] = _Fold.new(fact, resolver, installation_id)
        else:
            fold.observe(fact, resolver, installation_id)
    return folds


def _load_stored(session: Session, keys: Iterable[Key]) -> dict[Key, dict[str, Any]]:
    urls_by_type: dict[str, list[str]] = {}
    for fact_type, url in keys:
        urls_by_type.setdefault(fact_type, []).append(url)
    stored: dict[Key, dict[str, Any]] = {}
    for fact_type, urls in urls_by_type.items():
        for chunk in _chunks(urls, LOOKUP_CHUNK):
            query = sa.select(*_STORED_COLUMNS).where(
                EVENTS.c.type == fact_type, EVENTS.c.source_url.in_(chunk)
            )
            for row in session.execute(query).mappings():
                stored[(row["type"], row["source_url"])] = dict(row)
    return stored


def _insert(
    session: Session, folds: list[_Fold], observed_via: str, now: dt.datetime
) -> dict[Key, int]:
    """Inserts new facts in one statement; a row another writer inserted first is skipped."""
    if not folds:
        return {}
    if session.get_bind().dialect.name == "sqlite":
        return _insert_sqlite(session, folds, observed_via, now)
    rows = [fold.insert_row(observed_via, now) for fold in folds]
    statement = (
        postgresql.insert(EVENTS)
        .on_conflict_do_nothing(index_elements=["type", "source_url"])
        .returning(EVENTS.c.id, EVENTS.c.type, EVENTS.c.source_url)
    )
    returned = session.execute(statement, rows)
    return {(row.type, row.source_url): row.id for row in returned}


# Rows per multi-row INSERT on SQLite: 18 columns x 1,000 stays under its 32,766 variables.
SQLITE_INSERT_CHUNK = 1000


def _insert_sqlite(
    session: Session, folds: list[_Fold], observed_via: str, now: dt.datetime
) -> dict[Key, int]:
    """The same INSERT … ON CONFLICT DO NOTHING RETURNING as multi-row VALUES statements.

    Values go through each column type's own bind processor, as SQLAlchemy would apply them,
    without its per-row parameter bookkeeping.
    """
    connection = session.connection()
    mark_facts_written(session)  # driver-level SQL: the fact version's hooks do not see it
    converters = []
    instants: dict[dt.datetime, Any] = {}  # shared: `source_updated_at` is usually `ts`
    for index, column in enumerate(_INSERT_COLUMNS):
        column_type = EVENTS.c[column].type
        processor = column_type._cached_bind_processor(connection.dialect)
        if processor is not None:
            if isinstance(column_type, UTCDateTime):
                processor = _per_instant(processor, instants)
            converters.append((index, processor))
    head = f"INSERT INTO events ({', '.join(_INSERT_COLUMNS)}) VALUES "
    one = f"({', '.join('?' * len(_INSERT_COLUMNS))})"
    tail = " ON CONFLICT (type, source_url) DO NOTHING RETURNING id, type, source_url"
    inserted: dict[Key, int] = {}
    for start in range(0, len(folds), SQLITE_INSERT_CHUNK):
        chunk = folds[start : start + SQLITE_INSERT_CHUNK]
        values: list[Any] = []
        for fold in chunk:
            row = list(fold.insert_values(observed_via, now))
            for index, processor in converters:
                row[index] = processor(row[index])
            values.extend(row)
        sql = head + ", ".join([one] * len(chunk)) + tail
        for event_id, fact_type, url in connection.exec_driver_sql(sql, tuple(values)).all():
            inserted[(fact_type, url)] = event_id
    return inserted


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


_UPDATE = (
    sa.update(EVENTS)
    .where(EVENTS.c.id == sa.bindparam("b_id"))
    .values(
        updated_at=sa.bindparam("b_updated_at"),
        **{column: sa.bindparam(f"b_{column}") for column in _MERGED_COLUMNS[1:]},
        actor_id=sa.func.coalesce(sa.bindparam("b_actor_id"), EVENTS.c.actor_id),
    )
)


def _update(session: Session, folds: list[_Fold], now: dt.datetime) -> None:
    if folds:
        session.execute(_UPDATE, [fold.update_row(now) for fold in folds])


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _aware_now(now: dt.datetime | None) -> dt.datetime:
    if now is None:
        return utcnow()
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("`now` must be a timezone-aware datetime; naive times are never stored.")
    return now.astimezone(dt.UTC)


# Renames -----------------------------------------------------------------------------------------


def rewrite_repo_urls(
    session: Session,
    repo_id: int,
    old_full_name: str,
    new_full_name: str,
    *,
    github_url: str,
    now: dt.datetime | None = None,
) -> list[FactChange]:
    """Moves a renamed repository's facts to the new URL prefix, re-rendered and re-hashed.

    `{github_url}/{old}/…` becomes `{github_url}/{new}/…` in the repository's facts. A fact whose
    new URL another fact already holds keeps its old URL (logged): merging two rows is not a
    rename's business.

    Args:
        session: The caller's session (the repo upsert's transaction).
        repo_id: The renamed repository.
        old_full_name: Its previous `full_name`.
        new_full_name: Its new `full_name`.
        github_url: Web base of fact URLs.
        now: The write time (aware); defaults to now.

    Returns:
        One "updated" `FactChange` per rewritten fact.
    """
    now = _aware_now(now)
    base = github_url.rstrip("/")
    old_prefix, new_prefix = f"{base}/{old_full_name}/", f"{base}/{new_full_name}/"
    query = (
        sa.select(*_STORED_COLUMNS)
        .where(EVENTS.c.repo_id == repo_id)
        .where(EVENTS.c.source_url.startswith(old_prefix, autoescape=True))
    )
    rows = [dict(row) for row in session.execute(query).mappings()]
    rows = [row for row in rows if row["source_url"].startswith(old_prefix)]
    if not rows:
        return []
    for row in rows:
        row["new_url"] = new_prefix + row["source_url"][len(old_prefix) :]
    taken = _load_stored(session, {(row["type"], row["new_url"]) for row in rows})
    actors = {
        user.id: user
        for user in session.scalars(
            sa.select(User).where(User.id.in_({row["actor_id"] for row in rows}))
        )
    }
    repo = RepoRef(gh_id=0, full_name=new_full_name, owner="", name="")
    params, changes = [], []
    for row in rows:
        if (row["type"], row["new_url"]) in taken:
            log.warning(
                "A renamed repository's fact kept its URL: the new URL is already stored",
                extra={"event_id": row["id"], "repo_id": repo_id},
            )
            continue
        fact = NormalizedFact(
            type=row["type"],
            repo=repo,
            actor=actor_of(actors[row["actor_id"]]),
            ts=row["ts"],
            source_url=row["new_url"],
            metrics=Metrics(row["additions"], row["deletions"], row["files_changed"]),
            metadata=row["metadata"] or {},
        )
        text = fact.canonical_text
        digest = content_hash(text, fact.source_url, fact.metrics)
        params.append(
            {
                "b_id": row["id"],
                "b_source_url": row["new_url"],
                "b_canonical_text": text,
                "b_content_hash": digest,
                "b_updated_at": now,
            }
        )
        changes.append(
            FactChange(
                event_id=row["id"],
                result="updated",
                content_hash=digest,
                ts=row["ts"],
                repo_id=repo_id,
                actor_id=row["actor_id"],
                type=row["type"],
            )
        )
    if params:
        session.execute(_RENAME_UPDATE, params)
    return changes


_RENAME_UPDATE = (
    sa.update(EVENTS)
    .where(EVENTS.c.id == sa.bindparam("b_id"))
    .values(
        source_url=sa.bindparam("b_source_url"),
        canonical_text=sa.bindparam("b_canonical_text"),
        content_hash=sa.bindparam("b_content_hash"),
        updated_at=sa.bindparam("b_updated_at"),
    )
)


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
