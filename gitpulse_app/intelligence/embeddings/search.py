"""Semantic search over the facts a user can see (SPEC §7).

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
import contextlib
import datetime as dt
import logging
import threading
import weakref
from collections import OrderedDict
from collections.abc import Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Engine
from sqlmodel import Session

from gitpulse_app.core.db import utcnow
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
_HASH_CHARS = 64  # a SHA-256 hex digest (SPEC §3)
# Exact rescoring: the best max(limit × 4, 128) candidates by the int8 score (docs/SEARCH_MEMORY.md).
RESCORE_FACTOR, RESCORE_MIN = 4, 128
_SCORE_BLOCK = 256  # int8 rows widened to float32 per step: 1 MB, stays in cache
_PARALLEL_ROWS = 20_000  # from this many rows the scan runs in two threads
# Candidate lists kept per process and database, least recently used dropped first (~48 bytes each).
CANDIDATE_CACHE_ROWS = 400_000
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


def _quantized(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float32 rows → (int8 codes, float32 scales) with row ≈ codes × scale, |codes| ≤ 127."""
    block = np.asarray(block, dtype=np.float32)
    if not np.isfinite(block).all():  # never stored by us; must not poison a whole row's codes
        block = np.nan_to_num(block, nan=0.0, posinf=0.0, neginf=0.0)
    peak = np.maximum(block.max(axis=1, initial=0.0), -block.min(axis=1, initial=0.0))
    scales = (peak / 127).astype(np.float32)
    inverse = np.divide(np.float32(1), scales, out=np.zeros_like(scales), where=scales > 0)
    scaled = block * inverse[:, None]  # one float32 copy, rounded in place
    np.rint(scaled, out=scaled)
    return scaled.astype(np.int8), scales


def _grown(array: np.ndarray, capacity: int, count: int) -> np.ndarray:
    grown = np.zeros((capacity, *array.shape[1:]), dtype=array.dtype)
    grown[:count] = array[:count]
    return grown


class _ModelMatrix:
    """Every vector of one model: int8 rows with a scale each, addressed by content hash.

    Each row keeps its `embeddings.id` (to re-read the exact vector) and its hash as four uint64
    words (`_hash_keys`). The rows sorted by the words' XOR answer a whole candidate list with one
    `searchsorted`; the words are then compared in full, so a shared XOR never mixes up two facts.
    """

    def __init__(self) -> None:
        self.codes = np.zeros((0, DIMENSIONS), dtype=np.int8)
        self.scales = np.zeros(0, dtype=np.float32)
        self.ids = np.zeros(0, dtype=np.int64)
        self.keys = np.zeros((0, 4), dtype=np.uint64)
        self.count = 0
        self._sorted: tuple[np.ndarray, np.ndarray] | None = None  # (folded keys, rows)
        self._exact: dict[bytes, int] | None = None

    @property
    def nbytes(self) -> int:
        """Bytes held for this model, allocated capacity and the sorted index included."""
        held = self.codes.nbytes + self.scales.nbytes + self.ids.nbytes + self.keys.nbytes
        return held + (sum(a.nbytes for a in self._sorted) if self._sorted else 0)

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

    def append(self, hashes: Sequence[str], block: np.ndarray,
               ids: Sequence[int] | None = None) -> None:
        needed = self.count + len(hashes)
        if needed > self.codes.shape[0]:
            # Amortised growth; searches hold references to the old arrays and stay valid.
            capacity = max(needed, self.codes.shape[0] * 3 // 2)
            self.codes = _grown(self.codes, capacity, self.count)
            self.scales = _grown(self.scales, capacity, self.count)
            self.ids = _grown(self.ids, capacity, self.count)
            self.keys = _grown(self.keys, capacity, self.count)
        codes, scales = _quantized(block)
        self.codes[self.count:needed] = codes
        self.scales[self.count:needed] = scales
        self.ids[self.count:needed] = ids if ids is not None else 0
        self.keys[self.count:needed] = _hash_keys(hashes)
        self.count = needed
        self._sorted = self._exact = None


class _VectorStore:
    """The matrices of one database, kept in step with its `embeddings` table."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.last_id = 0
        self.models: dict[str, _ModelMatrix] = {}
        self.candidates: OrderedDict[tuple, _CachedCandidates] = OrderedDict()

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
            by_model: dict[str, tuple[list[str], list[bytes], list[int]]] = {}
            for embedding_id, model, content_hash, vector in rows:
                if len(vector) != _VECTOR_BYTES:
                    continue  # never stored by us; a corrupt row must not shift every other row
                hashes, blobs, ids = by_model.setdefault(model, ([], [], []))
                hashes.append(content_hash)
                blobs.append(vector)
                ids.append(embedding_id)
            for model, (hashes, blobs, ids) in by_model.items():
                block = np.frombuffer(b"".join(blobs), dtype="<f4").reshape(-1, DIMENSIONS)
                self.models.setdefault(model, _ModelMatrix()).append(hashes, block, ids)
            self.last_id = rows[-1][0]

    def cached(self, scope: tuple, version: int) -> _CachedCandidates | None:
        """The candidates of `scope` if read at fact version `version` (caller holds the lock)."""
        entry = self.candidates.get(scope)
        if entry is None or entry.version != version:
            return None
        self.candidates.move_to_end(scope)
        return entry

    def remember(self, scope: tuple, entry: _CachedCandidates) -> None:
        """Keep `entry`, dropping the least recently used lists beyond the row budget."""
        self.candidates.pop(scope, None)
        if len(entry.candidates) > CANDIDATE_CACHE_ROWS:
            return
        self.candidates[scope] = entry
        total = sum(len(kept.candidates) for kept in self.candidates.values())
        while total > CANDIDATE_CACHE_ROWS:
            _, dropped = self.candidates.popitem(last=False)
            total -= len(dropped.candidates)

    def rows(self, entry: _CachedCandidates, model: str) -> np.ndarray:
        """Each candidate's row in `model`'s matrix, −1 where it has none (caller holds the lock).

        Remembered per matrix and row count: appended rows can fill a −1, nothing else changes.
        """
        matrix = self.models.get(model)
        if matrix is None:
            return np.full(len(entry.candidates), -1, dtype=np.int64)
        known = entry.rows.get(model)
        if known is not None and known[0] is matrix and known[1] == matrix.count:
            return known[2]
        rows = matrix.rows_of(entry.candidates.keys)
        entry.rows[model] = (matrix, matrix.count, rows)
        return rows


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


@dataclass
class _CachedCandidates:
    """A scope's candidates as of one fact version, with their rows per model once computed."""

    version: int
    candidates: _Candidates
    rows: dict[str, tuple[_ModelMatrix, int, np.ndarray]]


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


# The int8 scan's second thread (NumPy releases the GIL); never waits on another task.
_scan_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gitpulse-scan")


def _scan(codes: np.ndarray, rows: np.ndarray | None, query: np.ndarray, scores: np.ndarray,
          low: int, high: int) -> None:
    """`scores[low:high]` = the int8 rows (or `codes[rows]`) × query, unscaled, block by block.

    Each block is widened to float32 in a small buffer and multiplied there, so the scan reads
    the int8 rows once and never builds a float32 copy of the matrix.
    """
    buffer = np.empty((_SCORE_BLOCK, DIMENSIONS), dtype=np.float32)
    for start in range(low, high, _SCORE_BLOCK):
        stop = min(start + _SCORE_BLOCK, high)
        block = buffer[: stop - start]
        block[...] = codes[start:stop] if rows is None else codes[rows[start:stop]]
        np.dot(block, query, out=scores[start:stop])


def _approximate(store: _VectorStore, model: str, query_vector: np.ndarray,
                 rows: np.ndarray | None = None) -> np.ndarray:
    """Int8 scores of `rows` of the model's matrix (every row when None)."""
    with store.lock:
        matrix = store.models.get(model)
        codes, scales, count = (matrix.codes, matrix.scales, matrix.count) if matrix else (
            None, None, 0)
    if rows is not None and len(rows) * 2 > count:
        return _approximate(store, model, query_vector)[rows]  # a sequential scan is faster
    size = count if rows is None else len(rows)
    scores = np.zeros(size, dtype=np.float32)
    if codes is None or not size:
        return scores
    query = np.ascontiguousarray(query_vector, dtype=np.float32)
    half = size // 2 if size >= _PARALLEL_ROWS else size
    other = (_scan_executor.submit(_scan, codes, rows, query, scores, half, size)
             if half < size else None)
    _scan(codes, rows, query, scores, 0, half)
    if other is not None:
        other.result()
    scores *= scales[:count] if rows is None else scales[rows]
    return scores


def _embed_and_score(store: _VectorStore, model: str, text: str, now: dt.datetime
                     ) -> tuple[np.ndarray, np.ndarray] | None:
    """The query vector and the int8 scores of every row of the model (speculative, threaded)."""
    query_vector = _embed_query(model, text, now)
    if query_vector is None:
        return None
    return query_vector, _approximate(store, model, query_vector)


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


def _exact(session: Session, store: _VectorStore, model: str, rows: np.ndarray,
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
    found = [n for n, i in enumerate(ids.tolist()) if len(blobs.get(i) or b"") == _VECTOR_BYTES]
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
        repo_ids: The repositories the searching user can see (SPEC §11); nothing else is searched.
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
        entry = _CachedCandidates(
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
    session: Session, store: _VectorStore, model: str, entry: _CachedCandidates,
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
        approximate = _approximate(store, model, query_vector, wanted)
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
