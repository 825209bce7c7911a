"""The in-memory vectors of semantic search (docs/SEARCH_MEMORY.md).

Per database and model, every stored vector as one int8 row with a float32 scale, its
`embeddings.id` and its content hash as four uint64 words, refreshed incrementally from the
`embeddings` table; the candidate lists of recent search scopes, each valid for one fact version;
and the int8 scan that scores a query against the rows.
"""

from __future__ import annotations

import binascii
import contextlib
import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from gitpulse_app.core.models import Embedding
from gitpulse_app.intelligence.embeddings.providers import DIMENSIONS

_REFRESH_PAGE = 10_000
VECTOR_BYTES = DIMENSIONS * 4
HASH_CHARS = 64  # a content hash: a SHA-256 hex digest
_SCORE_BLOCK = 256  # int8 rows widened to float32 per step: 1 MB, stays in cache
_PARALLEL_ROWS = 20_000  # from this many rows the scan runs in two threads
# Candidate lists kept per process and database, least recently used dropped first (~48 bytes each).
CANDIDATE_CACHE_ROWS = 400_000


# The in-memory vectors ---------------------------------------------------------------------------
# The key of a hash that is not hex: it matches nothing (`ModelMatrix.rows_of`).
NO_KEY = np.iinfo(np.uint64).max


def words(raw: bytes) -> np.ndarray:
    """32-byte digests, concatenated → rows of four uint64 words (their big-endian value)."""
    return np.frombuffer(raw, dtype=">u8").reshape(-1, 4).astype(np.uint64)


def hash_keys(hashes: Sequence[str]) -> np.ndarray:
    """Each hex content hash as four uint64 words (shape n × 4): all of its 256 bits.

    A hash that is not 64 hex digits (GitPulse never writes one) gets `NO_KEY`, matching nothing.
    """
    if all(len(one) == HASH_CHARS for one in hashes):
        with contextlib.suppress(binascii.Error):  # one C call for the whole list
            return words(binascii.a2b_hex("".join(hashes).encode("ascii", "replace")))
    keys = np.full((len(hashes), 4), NO_KEY, dtype=np.uint64)
    for n, one in enumerate(hashes):  # something odd is in the list: item by item
        if len(one) == HASH_CHARS:
            with contextlib.suppress(binascii.Error, UnicodeEncodeError):
                keys[n] = words(binascii.a2b_hex(one.encode("ascii")))[0]
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


class ModelMatrix:
    """Every vector of one model: int8 rows with a scale each, addressed by content hash.

    Each row keeps its `embeddings.id` (to re-read the exact vector) and its hash as four uint64
    words (`hash_keys`). The rows sorted by the words' XOR answer a whole candidate list with one
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
        """Each key's row (−1 where the model has no vector for it); `keys` from `hash_keys`."""
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
        found &= (keys != NO_KEY).any(axis=1)
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
        self.keys[self.count:needed] = hash_keys(hashes)
        self.count = needed
        self._sorted = self._exact = None


class VectorStore:
    """The matrices of one database, kept in step with its `embeddings` table."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.last_id = 0
        self.models: dict[str, ModelMatrix] = {}
        self.candidates: OrderedDict[tuple, CachedCandidates] = OrderedDict()

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
                if len(vector) != VECTOR_BYTES:
                    continue  # never stored by us; a corrupt row must not shift every other row
                hashes, blobs, ids = by_model.setdefault(model, ([], [], []))
                hashes.append(content_hash)
                blobs.append(vector)
                ids.append(embedding_id)
            for model, (hashes, blobs, ids) in by_model.items():
                block = np.frombuffer(b"".join(blobs), dtype="<f4").reshape(-1, DIMENSIONS)
                self.models.setdefault(model, ModelMatrix()).append(hashes, block, ids)
            self.last_id = rows[-1][0]

    def cached(self, scope: tuple, version: int) -> CachedCandidates | None:
        """The candidates of `scope` if read at fact version `version` (caller holds the lock)."""
        entry = self.candidates.get(scope)
        if entry is None or entry.version != version:
            return None
        self.candidates.move_to_end(scope)
        return entry

    def remember(self, scope: tuple, entry: CachedCandidates) -> None:
        """Keep `entry`, dropping the least recently used lists beyond the row budget."""
        self.candidates.pop(scope, None)
        if len(entry.candidates) > CANDIDATE_CACHE_ROWS:
            return
        self.candidates[scope] = entry
        total = sum(len(kept.candidates) for kept in self.candidates.values())
        while total > CANDIDATE_CACHE_ROWS:
            _, dropped = self.candidates.popitem(last=False)
            total -= len(dropped.candidates)

    def rows(self, entry: CachedCandidates, model: str) -> np.ndarray:
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


_stores: weakref.WeakKeyDictionary[Engine, VectorStore] = weakref.WeakKeyDictionary()
_stores_lock = threading.Lock()


def store_for(session: Session) -> VectorStore:
    engine = session.get_bind()
    engine = engine.engine if hasattr(engine, "engine") else engine
    with _stores_lock:
        store = _stores.get(engine)
        if store is None:
            store = _stores[engine] = VectorStore()
    return store


@dataclass
class Candidates:
    """Candidate facts, newest first (position = recency rank)."""

    event_ids: np.ndarray  # int64
    keys: np.ndarray  # n × 4 uint64, `hash_keys` of each candidate's content hash

    def __len__(self) -> int:
        return len(self.event_ids)


@dataclass
class CachedCandidates:
    """A scope's candidates as of one fact version, with their rows per model once computed."""

    version: int
    candidates: Candidates
    rows: dict[str, tuple[ModelMatrix, int, np.ndarray]]


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


def approximate_scores(store: VectorStore, model: str, query_vector: np.ndarray,
                 rows: np.ndarray | None = None) -> np.ndarray:
    """Int8 scores of `rows` of the model's matrix (every row when None)."""
    with store.lock:
        matrix = store.models.get(model)
        codes, scales, count = (matrix.codes, matrix.scales, matrix.count) if matrix else (
            None, None, 0)
    if rows is not None and len(rows) * 2 > count:
        return approximate_scores(store, model, query_vector)[rows]  # a sequential scan is faster
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
