"""Semantic search over the facts a user can see (docs/decisions/search-matrix.md).

SQL selects only the candidates' ids and content hashes (newest first, at most 200,000), as two
comma-joined strings parsed by NumPy; each process keeps the list per search scope until the fact
version moves (a counter every fact write bumps, `core.fact_versions`). Each process keeps, per
database and model, every stored vector as one int8 row with a float32 scale (a quarter of the
float32 size) and each row's content hash as four uint64 words, refreshed incrementally (embedding
ids above the last one seen) before each search.
The query is scored approximately against the int8 rows, and the best candidates (at least 128, 4×
the limit) are scored again by exact float32 cosine from their stored vectors, so hits and scores
are those of an exact search (docs/SEARCH_MEMORY.md). Vectors of two models are never compared.
"""

from __future__ import annotations

import binascii
import datetime as dt
import logging
from collections.abc import Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlmodel import Session

from gitpulse_app.acquisition.access import visible_repo_ids
from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.fact_versions import fact_version
from gitpulse_app.core.models import Embedding, Event, Repo, User
from gitpulse_app.intelligence.embeddings.providers import (
    DIMENSIONS,
    MAX_TEXT_CHARS,
    ProviderError,
    chain_models,
    is_available,
    provider_for,
)
from gitpulse_app.intelligence.embeddings.batches import checked_vectors
from gitpulse_app.intelligence.embeddings.matrix import (
    HASH_CHARS,
    VECTOR_BYTES,
    CachedCandidates,
    Candidates,
    VectorStore,
    approximate_scores,
    hash_keys,
    store_for,
    words,
)
from gitpulse_app.intelligence.embeddings.queue import embed_facts_now
from gitpulse_app.normalization.text import cut, trim

log = logging.getLogger(__name__)

DEFAULT_LIMIT = 10
MAX_LIMIT = 256
MAX_CANDIDATES = 200_000
SYNC_EMBED_MAX = 2000
# Exact rescoring: the best max(limit × 4, 128) candidates by the int8 score (docs/SEARCH_MEMORY.md).
RESCORE_FACTOR, RESCORE_MIN = 4, 128


class SearchError(ValueError):
    """The search cannot run as asked; the message says what to change."""


@dataclass(frozen=True)
class SearchHit:
    """One fact found by a search, with its cosine score."""

    event_id: int
    score: float
    ts: dt.datetime
    type: str
    repo: str
    actor: str | None
    canonical_text: str
    source_url: str


# Candidates ---------------------------------------------------------------------------------------
def _candidates(
    session: Session, repo_ids: Collection[int], actor_logins: Sequence[str] | None,
    repo: str | None, types: Sequence[str] | None, start: dt.datetime | None,
    end: dt.datetime | None,
) -> Candidates:
    query = sa.select(Event.id, Event.content_hash, Event.ts).where(
        Event.repo_id.in_(sorted(repo_ids)))
    if actor_logins:
        lowered = sorted({login.lower() for login in actor_logins})
        query = query.where(Event.actor_id.in_(
            sa.select(User.id).where(sa.func.lower(User.gh_login).in_(lowered))
        ))
    if repo:
        query = query.where(Event.repo_id.in_(
            sa.select(Repo.id).where(sa.func.lower(Repo.full_name) == repo.lower())
        ))
    if types:
        query = query.where(Event.type.in_(sorted(set(types))))
    if start is not None:
        query = query.where(Event.ts >= start)
    if end is not None:
        query = query.where(Event.ts < end)
    # By ts alone, so an index on (repo_id, ts, content_hash) can answer without sorting; facts
    # sharing a timestamp have no defined order anyway.
    newest = query.order_by(Event.ts.desc()).limit(MAX_CANDIDATES)
    dialect = session.get_bind().dialect.name
    hashes, ids = session.connection().execute(_joined(newest, dialect)).one()
    parsed = _parse_candidates(hashes or "", ids or "")
    if parsed is not None:
        return parsed
    # Something in the list is not a plain digest (GitPulse never stores one): row by row.
    rows = session.connection().execute(newest).all()
    return Candidates(np.array([row[0] for row in rows], dtype=np.int64),
                       hash_keys([row[1] for row in rows]))


def _joined(newest: sa.Select, dialect: str) -> sa.Select:
    """The candidates' hashes and ids as two comma-joined strings, newest first.

    Two strings instead of 100,000 rows: building a Python row per candidate was most of a
    search's time.
    """
    ranked = newest.subquery()
    # An inline separator: SQLite re-reads a bound one for every row (~15 ms per 100,000).
    comma = sa.literal_column("','")
    columns = (ranked.c.content_hash, ranked.c.id)
    if dialect == "postgresql":
        newest_first = postgresql.aggregate_order_by(comma, ranked.c.ts.desc())
        return sa.select(*(sa.func.string_agg(sa.cast(c, sa.Text), newest_first)
                           for c in columns))
    # SQLite concatenates in the order its ordered subquery yields the rows.
    return sa.select(*(sa.func.group_concat(c, comma) for c in columns))


def _parse_candidates(hashes: str, ids: str) -> Candidates | None:
    """Both joined strings parsed by NumPy; None when a hash is not 64 hex digits."""
    if not ids:
        return Candidates(np.zeros(0, dtype=np.int64), np.zeros((0, 4), dtype=np.uint64))
    event_ids = np.fromstring(ids, dtype=np.int64, sep=",")
    width = HASH_CHARS + 1
    digits = np.frombuffer(hashes.encode("ascii", "replace") + b",", dtype=np.uint8)
    if digits.size != event_ids.size * width:
        return None
    digits = digits.reshape(-1, width)
    if not (digits[:, HASH_CHARS] == ord(",")).all():
        return None
    try:
        raw = binascii.a2b_hex(digits[:, :HASH_CHARS].tobytes())
    except binascii.Error:
        return None
    return Candidates(event_ids, words(raw))


# Search -------------------------------------------------------------------------------------------
# Embedding the query and the full-matrix product run here while the candidate SQL runs: NumPy and
# network calls release the GIL, so on two cores they cost almost nothing extra.
_executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="gitpulse-search")


def _embed_query(model: str, text: str, now: dt.datetime) -> np.ndarray | None:
    provider = provider_for(model)
    if provider is None or not is_available(model, now):
        return None
    try:
        return checked_vectors(provider.embed([text], input_type="query"), 1)[0]
    except ProviderError as exc:
        log.warning("Embedding the search query with %s failed: %s", model, exc)
        return None


def _embed_and_score(store: VectorStore, model: str, text: str, now: dt.datetime
                     ) -> tuple[np.ndarray, np.ndarray] | None:
    """The query vector and the int8 scores of every row of the model (speculative, threaded)."""
    query_vector = _embed_query(model, text, now)
    if query_vector is None:
        return None
    return query_vector, approximate_scores(store, model, query_vector)


def _best(scores: np.ndarray, limit: int) -> np.ndarray:
    """Indices of the best `limit` scores: score desc, then position (newest) first."""
    candidates = np.arange(scores.size)
    if scores.size > limit:
        # Keep every score tied with the limit-th best so the recency tie-break stays exact.
        threshold = np.partition(scores, scores.size - limit)[scores.size - limit]
        candidates = np.flatnonzero(scores >= threshold)
    order = np.lexsort((candidates, -scores[candidates]))
    return candidates[order][:limit]


def _top(scores: np.ndarray, limit: int) -> np.ndarray:
    """Indices of the best `limit` positive scores: score desc, then position (newest) first."""
    positive = np.flatnonzero(scores > 0)
    return positive[_best(scores[positive], limit)]


def _exact(session: Session, store: VectorStore, model: str, rows: np.ndarray,
           query_vector: np.ndarray, approximate: np.ndarray) -> np.ndarray:
    """Exact float32 cosine of `rows`, from their stored vectors (the int8 score where none)."""
    with store.lock:
        matrix = store.models.get(model)
        if matrix is None or not rows.size or rows.max() >= matrix.count:
            return approximate.astype(np.float32, copy=True)  # the store started over meanwhile
        ids = matrix.ids[rows]
    blobs = dict(session.execute(
        sa.select(Embedding.id, Embedding.vector).where(Embedding.id.in_(ids.tolist()))).all())
    exact = approximate.astype(np.float32, copy=True)
    found = [n for n, i in enumerate(ids.tolist()) if len(blobs.get(i) or b"") == VECTOR_BYTES]
    if found:
        vectors = np.frombuffer(b"".join(blobs[int(ids[n])] for n in found),
                                dtype="<f4").reshape(-1, DIMENSIONS)
        exact[found] = vectors @ np.asarray(query_vector, dtype=np.float32)
    return exact


def _scope(repo_ids: Collection[int], actor_logins: Sequence[str] | None, repo: str | None,
           types: Sequence[str] | None, start: dt.datetime | None, end: dt.datetime | None
           ) -> tuple:
    """What decides the candidate list, as a hashable key of the per-process cache."""
    return (tuple(sorted(repo_ids)), tuple(sorted({a.lower() for a in actor_logins or ()})),
            repo.lower() if repo else None, tuple(sorted(set(types or ()))), start, end)


def search_facts(
    session: Session,
    query: str,
    *,
    repo_ids: Collection[int],
    actor_logins: Sequence[str] | None = None,
    repo: str | None = None,
    types: Sequence[str] | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    limit: int = DEFAULT_LIMIT,
    now: dt.datetime | None = None,
) -> list[SearchHit]:
    """Rank the facts of `repo_ids` by cosine similarity to `query`.

    Candidates lacking a vector of the search model are embedded first (the newest 2,000 at most),
    so results never depend on a running backend; `session` is committed when that happens.

    Args:
        session: A session on the database to search.
        query: What to look for; cut to 8000 characters.
        repo_ids: The repositories the searching user can see; nothing else is searched.
        actor_logins: Only facts by these GitHub logins (case-insensitive).
        repo: Only facts of this repository (`owner/name`, case-insensitive).
        types: Only facts of these types.
        start: Only facts at or after this instant.
        end: Only facts before this instant.
        limit: How many hits at most (default 10, capped at 256).
        now: An injected clock for availability checks and stored timestamps.

    Returns:
        Hits with a positive score, best first; equal scores newest first.

    Raises:
        SearchError: The query is empty.
    """
    text = cut(trim(query), MAX_TEXT_CHARS)
    if not text:
        raise SearchError("The search text is empty. Type a few words to search for.")
    limit = min(max(int(limit), 1), MAX_LIMIT)
    now = now or utcnow()
    models = [m for m in chain_models() if is_available(m, now)]
    if not repo_ids or not models:
        return []
    store = store_for(session)
    scope = _scope(repo_ids, actor_logins, repo, types, start, end)
    # Read before the candidates: a fact written in between makes the next search read again.
    version = fact_version(session)
    with store.lock:
        store.refresh(session)
        sizes = {m: store.models[m].count if m in store.models else 0 for m in models}
        entry = store.cached(scope, version)
    # Bet on the model with the most vectors; the bet is checked once the candidates are known.
    guess = max(models, key=lambda m: sizes[m])
    if entry is None:
        # Unknown candidates: score the whole matrix while the candidate SQL runs.
        speculative = _executor.submit(_embed_and_score, store, guess, text, now)
        entry = CachedCandidates(
            version, _candidates(session, repo_ids, actor_logins, repo, types, start, end), {})
        with store.lock:
            store.remember(scope, entry)
    else:
        speculative = _executor.submit(_embed_query, guess, text, now)
    if not len(entry.candidates):
        return []
    with store.lock:
        rows = {m: store.rows(entry, m) for m in models}
    coverage = {m: int((rows[m] >= 0).sum()) for m in models}
    # Most-covering model first; ties keep the chain order (Python's sort is stable).
    for model in sorted(models, key=lambda m: -coverage[m]):
        found = speculative.result() if model == guess else _embed_query(model, text, now)
        if found is None:
            continue
        query_vector, scores = found if isinstance(found, tuple) else (found, None)
        return _score(session, store, model, entry, rows[model], query_vector, scores, limit,
                      now)
    return []


def _score(
    session: Session, store: VectorStore, model: str, entry: CachedCandidates,
    rows: np.ndarray, query_vector: np.ndarray, scores: np.ndarray | None, limit: int,
    now: dt.datetime,
) -> list[SearchHit]:
    candidates = entry.candidates
    missing = np.flatnonzero(rows < 0)[:SYNC_EMBED_MAX]
    if missing.size:
        embedded = embed_facts_now(session, candidates.event_ids[missing].tolist(), model, now=now)
        if embedded:
            with store.lock:
                store.refresh(session)
                rows = store.rows(entry, model)
    present = np.flatnonzero(rows >= 0)
    if not present.size:
        return []
    wanted = rows[present]
    if scores is not None and wanted.max() < scores.size:
        approximate = scores[wanted]
    else:  # scored nothing yet (a cached list), or the matrix grew since
        approximate = approximate_scores(store, model, query_vector, wanted)
    pool = np.sort(_best(approximate, max(limit * RESCORE_FACTOR, RESCORE_MIN)))
    exact = _exact(session, store, model, wanted[pool], query_vector, approximate[pool])
    chosen = _top(exact, limit)
    best = dict(zip(candidates.event_ids[present[pool[chosen]]].tolist(),
                    exact[chosen].tolist()))
    return _hits(session, best)


def _hits(session: Session, scores: dict[int, float]) -> list[SearchHit]:
    """Load the hits' details, keeping the order of `scores`."""
    if not scores:
        return []
    rows = session.execute(
        sa.select(Event.id, Event.ts, Event.type, Repo.full_name, User.gh_login,
                  Event.canonical_text, Event.source_url)
        .join(Repo, Repo.id == Event.repo_id)
        .join(User, User.id == Event.actor_id)
        .where(Event.id.in_(list(scores)))
    ).all()
    by_id = {row.id: row for row in rows}
    return [
        SearchHit(event_id, score, row.ts, row.type, row.full_name, row.gh_login,
                  row.canonical_text, row.source_url)
        for event_id, score in scores.items()
        if (row := by_id.get(event_id)) is not None
    ]


def search_for_user(session: Session, user_id: int, query: str,
                    **filters: object) -> list[SearchHit]:
    """`search_facts` over the repositories `user_id` can see (the UI, the CLI, report focus)."""
    return search_facts(session, query, repo_ids=visible_repo_ids(session, user_id),
                        **filters)  # type: ignore[arg-type]
