"""Semantic search over the facts a user can see (docs/decisions/search-matrix.md).

SQL selects only the candidates' ids and content hashes (newest first, at most 200,000), as two
comma-joined strings parsed by NumPy. Each process keeps, per database and model, one float32
matrix of every stored vector with each row's content hash as four uint64 words, refreshed
incrementally (embedding ids above the last one seen) before each search.
The query is scored by exact cosine: one matrix-vector product over the whole matrix, then masked
to the candidates. Vectors of two models are never compared.
"""

from __future__ import annotations

import binascii
import contextlib
import datetime as dt
import logging
import threading
import weakref
from collections.abc import Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Engine
from sqlmodel import Session

from gitpulse_app.core.db import utcnow
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
from gitpulse_app.intelligence.embeddings.queue import embed_facts_now
from gitpulse_app.intelligence.visibility import visible_repo_ids
from gitpulse_app.normalization.text import cut, trim

log = logging.getLogger(__name__)

DEFAULT_LIMIT = 10
MAX_LIMIT = 256
MAX_CANDIDATES = 200_000
SYNC_EMBED_MAX = 2000
_REFRESH_PAGE = 10_000
_VECTOR_BYTES = DIMENSIONS * 4
_HASH_CHARS = 64  # a SHA-256 hex digest
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


# The in-memory vectors ---------------------------------------------------------------------------
# The key of a hash that is not hex: it matches nothing (`_ModelMatrix.rows_of`).
_NO_KEY = np.iinfo(np.uint64).max


def _words(raw: bytes) -> np.ndarray:
    """32-byte digests, concatenated → rows of four uint64 words (their big-endian value)."""
    return np.frombuffer(raw, dtype=">u8").reshape(-1, 4).astype(np.uint64)


def _hash_keys(hashes: Sequence[str]) -> np.ndarray:
    """Each hex content hash as four uint64 words (shape n × 4): all of its 256 bits.

    A hash that is not 64 hex digits (GitPulse never writes one) gets `_NO_KEY`, matching nothing.
    """
    if all(len(one) == _HASH_CHARS for one in hashes):
        with contextlib.suppress(binascii.Error):  # one C call for the whole list
            return _words(binascii.a2b_hex("".join(hashes).encode("ascii", "replace")))
    keys = np.full((len(hashes), 4), _NO_KEY, dtype=np.uint64)
    for n, one in enumerate(hashes):  # something odd is in the list: item by item
        if len(one) == _HASH_CHARS:
            with contextlib.suppress(binascii.Error, UnicodeEncodeError):
                keys[n] = _words(binascii.a2b_hex(one.encode("ascii")))[0]
    return keys


class _ModelMatrix:
    """Every vector of one model: rows of a growable float32 matrix, addressed by content hash.

    Each row keeps its hash as four uint64 words (`_hash_keys`). The rows sorted by the words'
    XOR answer a whole candidate list with one `searchsorted`; the words are then compared in
    full, so a shared XOR never mixes up two facts.
    """

    def __init__(self) -> None:
        self.vectors = np.zeros((0, DIMENSIONS), dtype=np.float32)
        self.count = 0
        self.keys = np.zeros((0, 4), dtype=np.uint64)
        self._sorted: tuple[np.ndarray, np.ndarray] | None = None  # (folded keys, rows)
        self._exact: dict[bytes, int] | None = None

    def rows_of(self, keys: np.ndarray) -> np.ndarray:
        """Each key's row (−1 where the model has no vector for it); `keys` from `_hash_keys`."""
        if self._sorted is None:
            folded = np.bitwise_xor.reduce(self.keys[: self.count], axis=1)
            order = np.argsort(folded, kind="stable")
            self._sorted = (folded[order], order)
        folds, order = self._sorted
        if not folds.size or not keys.size:
            return np.full(len(keys), -1, dtype=np.int64)
        wanted = np.bitwise_xor.reduce(keys, axis=1)
        at = np.minimum(np.searchsorted(folds, wanted), folds.size - 1)
        rows = order[at]
        same_fold = folds[at] == wanted
        found = same_fold & (self.keys[rows] == keys).all(axis=1)
        # Two stored hashes with one XOR (odds ~n²/2⁶⁵ for real digests): look those up exactly.
        for i in np.flatnonzero(same_fold & ~found):
            row = self._exact_rows().get(keys[i].tobytes())
            if row is not None:
                rows[i], found[i] = row, True
        found &= (keys != _NO_KEY).any(axis=1)
        return np.where(found, rows, -1)

    def _exact_rows(self) -> dict[bytes, int]:
        if self._exact is None:
            self._exact = {}
            for row in range(self.count):
                self._exact.setdefault(self.keys[row].tobytes(), row)
        return self._exact

    def append(self, hashes: Sequence[str], block: np.ndarray) -> None:
        needed = self.count + len(hashes)
        if needed > self.vectors.shape[0]:
            # Amortised growth; searches hold a reference to the old array and stay valid.
            capacity = max(needed, self.vectors.shape[0] * 3 // 2)
            grown = np.empty((capacity, DIMENSIONS), dtype=np.float32)
            grown[: self.count] = self.vectors[: self.count]
            self.vectors = grown
        if needed > self.keys.shape[0]:
            grown_keys = np.zeros((self.vectors.shape[0], 4), dtype=np.uint64)
            grown_keys[: self.count] = self.keys[: self.count]
            self.keys = grown_keys
        self.vectors[self.count:needed] = block
        self.keys[self.count:needed] = _hash_keys(hashes)
        self.count = needed
        self._sorted = self._exact = None


class _VectorStore:
    """The matrices of one database, kept in step with its `embeddings` table."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.last_id = 0
        self.models: dict[str, _ModelMatrix] = {}

    def refresh(self, session: Session) -> None:
        """Load embedding rows with an id above the last one seen (caller holds the lock)."""
        newest = session.scalar(sa.select(sa.func.max(Embedding.id))) or 0
        if newest < self.last_id:  # the table was emptied or replaced: start over
            self.last_id, self.models = 0, {}
        while newest > self.last_id:
            rows = session.execute(
                sa.select(Embedding.id, Embedding.model, Embedding.content_hash, Embedding.vector)
                .where(Embedding.id > self.last_id)
                .order_by(Embedding.id)
                .limit(_REFRESH_PAGE)
            ).all()
            if not rows:
                break
            by_model: dict[str, tuple[list[str], list[bytes]]] = {}
            for _, model, content_hash, vector in rows:
                if len(vector) != _VECTOR_BYTES:
                    continue  # never stored by us; a corrupt row must not shift every other row
                hashes, blobs = by_model.setdefault(model, ([], []))
                hashes.append(content_hash)
                blobs.append(vector)
            for model, (hashes, blobs) in by_model.items():
                block = np.frombuffer(b"".join(blobs), dtype="<f4").reshape(-1, DIMENSIONS)
                self.models.setdefault(model, _ModelMatrix()).append(hashes, block)
            self.last_id = rows[-1][0]


_stores: weakref.WeakKeyDictionary[Engine, _VectorStore] = weakref.WeakKeyDictionary()
_stores_lock = threading.Lock()


def _store_for(session: Session) -> _VectorStore:
    engine = session.get_bind()
    engine = engine.engine if hasattr(engine, "engine") else engine
    with _stores_lock:
        store = _stores.get(engine)
        if store is None:
            store = _stores[engine] = _VectorStore()
    return store


# Candidates ---------------------------------------------------------------------------------------
@dataclass
class _Candidates:
    """Candidate facts, newest first (position = recency rank)."""

    event_ids: np.ndarray  # int64
    keys: np.ndarray  # n × 4 uint64, `_hash_keys` of each candidate's content hash

    def __len__(self) -> int:
        return len(self.event_ids)


def _candidates(
    session: Session, repo_ids: Collection[int], actor_logins: Sequence[str] | None,
    repo: str | None, types: Sequence[str] | None, start: dt.datetime | None,
    end: dt.datetime | None,
) -> _Candidates:
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
    return _Candidates(np.array([row[0] for row in rows], dtype=np.int64),
                       _hash_keys([row[1] for row in rows]))


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


def _parse_candidates(hashes: str, ids: str) -> _Candidates | None:
    """Both joined strings parsed by NumPy; None when a hash is not 64 hex digits."""
    if not ids:
        return _Candidates(np.zeros(0, dtype=np.int64), np.zeros((0, 4), dtype=np.uint64))
    event_ids = np.fromstring(ids, dtype=np.int64, sep=",")
    width = _HASH_CHARS + 1
    digits = np.frombuffer(hashes.encode("ascii", "replace") + b",", dtype=np.uint8)
    if digits.size != event_ids.size * width:
        return None
    digits = digits.reshape(-1, width)
    if not (digits[:, _HASH_CHARS] == ord(",")).all():
        return None
    try:
        raw = binascii.a2b_hex(digits[:, :_HASH_CHARS].tobytes())
    except binascii.Error:
        return None
    return _Candidates(event_ids, _words(raw))


def _rows_in(matrix: _ModelMatrix | None, keys: np.ndarray) -> np.ndarray:
    """Each candidate's row in `matrix`, −1 where the model has no vector for it."""
    if matrix is None:
        return np.full(len(keys), -1, dtype=np.int64)
    return matrix.rows_of(keys)


# Search -------------------------------------------------------------------------------------------
# Embedding the query and the full-matrix product run here while the candidate SQL runs: NumPy and
# network calls release the GIL, so on two cores they cost almost nothing extra.
_executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="gitpulse-search")


@dataclass
class _Scored:
    """A query embedded with one model and scored against that model's whole matrix."""

    query_vector: np.ndarray
    scores: np.ndarray  # one per matrix row at the time of scoring


def _embed_query(model: str, text: str, now: dt.datetime) -> np.ndarray | None:
    provider = provider_for(model)
    if provider is None or not is_available(model, now):
        return None
    try:
        return checked_vectors(provider.embed([text], input_type="query"), 1)[0]
    except ProviderError as exc:
        log.warning("Embedding the search query with %s failed: %s", model, exc)
        return None


def _score_all(store: _VectorStore, model: str, query_vector: np.ndarray) -> np.ndarray:
    with store.lock:
        matrix = store.models.get(model)
        vectors, count = (matrix.vectors, matrix.count) if matrix else (None, 0)
    if vectors is None:
        return np.zeros(0, dtype=np.float32)
    return vectors[:count] @ query_vector


def _embed_and_score(store: _VectorStore, model: str, text: str, now: dt.datetime
                     ) -> _Scored | None:
    query_vector = _embed_query(model, text, now)
    if query_vector is None:
        return None
    return _Scored(query_vector, _score_all(store, model, query_vector))


def _top(scores: np.ndarray, limit: int) -> np.ndarray:
    """Indices of the best `limit` positive scores: score desc, then position (newest) first."""
    positive = np.flatnonzero(scores > 0)
    if positive.size > limit:
        # Keep every score tied with the limit-th best so the recency tie-break stays exact.
        threshold = np.partition(scores[positive], positive.size - limit)[positive.size - limit]
        positive = positive[scores[positive] >= threshold]
    order = np.lexsort((positive, -scores[positive]))
    return positive[order][:limit]


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
    store = _store_for(session)
    with store.lock:
        store.refresh(session)
        sizes = {m: store.models[m].count if m in store.models else 0 for m in models}
    # Bet on the model with the most vectors; the bet is checked once the candidates are known.
    guess = max(models, key=lambda m: sizes[m])
    speculative = _executor.submit(_embed_and_score, store, guess, text, now)
    candidates = _candidates(session, repo_ids, actor_logins, repo, types, start, end)
    if not len(candidates):
        return []
    with store.lock:
        rows = {m: _rows_in(store.models.get(m), candidates.keys) for m in models}
    coverage = {m: int((rows[m] >= 0).sum()) for m in models}
    # Most-covering model first; ties keep the chain order (Python's sort is stable).
    for model in sorted(models, key=lambda m: -coverage[m]):
        scored = speculative.result() if model == guess else _embed_and_score(
            store, model, text, now)
        if scored is not None:
            return _score(session, store, model, candidates, rows[model], scored, limit, now)
    return []


def _score(
    session: Session, store: _VectorStore, model: str, candidates: _Candidates,
    rows: np.ndarray, scored: _Scored, limit: int, now: dt.datetime,
) -> list[SearchHit]:
    missing = np.flatnonzero(rows < 0)[:SYNC_EMBED_MAX]
    if missing.size:
        embedded = embed_facts_now(session, candidates.event_ids[missing].tolist(), model, now=now)
        if embedded:
            with store.lock:
                store.refresh(session)
                rows = _rows_in(store.models.get(model), candidates.keys)
    scores = scored.scores
    if rows.size and rows.max() >= scores.size:  # the matrix grew since it was scored
        scores = _score_all(store, model, scored.query_vector)
    present = np.flatnonzero(rows >= 0)
    candidate_scores = scores[rows[present]]
    chosen = _top(candidate_scores, limit)
    best = dict(zip(candidates.event_ids[present[chosen]].tolist(),
                    candidate_scores[chosen].tolist()))
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
