"""Provider calls for facts: batch budgets, halving, and checking what comes back.

Nothing here touches the database. A batch holds at most 128 texts and stays within the provider's
character budget (100,000 for Voyage, safe even at ~1 token per character; 240,000 for OpenAI), so
no tokenizer is downloaded. A vector of the wrong length is rejected, never padded.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from gitpulse_app.intelligence.embeddings.providers import (
    DIMENSIONS,
    EmbeddingProvider,
    FailureKind,
    ProviderError,
    is_available,
    mark_unavailable,
)

log = logging.getLogger(__name__)

BATCH_TEXTS = 128


@dataclass(frozen=True)
class FactText:
    """One fact's text to embed, with the queue row it came from (if any)."""

    event_id: int
    content_hash: str
    text: str
    row_id: int | None = None
    attempts: int = 0


def checked_vectors(matrix: np.ndarray, count: int) -> np.ndarray:
    """Validate a provider's answer and L2-normalise it; a wrong length is never padded."""
    if matrix.ndim != 2 or matrix.shape[0] != count:
        raise ProviderError(f"The provider returned {matrix.shape[0]} vectors for {count} texts.")
    if matrix.shape[1] != DIMENSIONS:
        raise ProviderError(
            f"The provider returned {matrix.shape[1]}-dimensional vectors; expected {DIMENSIONS}."
        )
    if not np.isfinite(matrix).all():
        raise ProviderError("The provider returned vectors with non-finite values.")
    norms = np.linalg.norm(matrix.astype(np.float64), axis=1, keepdims=True)
    normalised = np.divide(matrix, norms, out=np.zeros_like(matrix, dtype=np.float64),
                           where=norms > 0)
    return normalised.astype(np.float32)


def budget_batches(items: Sequence[FactText], max_chars: int | None,
                   max_rows: int = BATCH_TEXTS) -> list[list[FactText]]:
    """Split into provider calls of ≤ `max_rows` texts and ≤ `max_chars` characters."""
    batches: list[list[FactText]] = []
    current: list[FactText] = []
    chars = 0
    for item in items:
        size = len(item.text)
        if current and (len(current) >= max_rows or (max_chars and chars + size > max_chars)):
            batches.append(current)
            current, chars = [], 0
        current.append(item)
        chars += size
    if current:
        batches.append(current)
    return batches


def embed_batches(
    provider: EmbeddingProvider, items: Sequence[FactText], now: dt.datetime,
) -> Iterator[tuple[list[FactText], np.ndarray | ProviderError]]:
    """Embed `items` as documents, one call per budgeted batch.

    Yields each batch with its vectors or its error. A 400 naming a token or batch limit halves the
    batch and retries without counting an attempt. After an "unavailable" answer the provider is
    marked unavailable and the remaining batches fail without a call.
    """
    for batch in budget_batches(items, provider.max_batch_chars):
        yield from _embed_halving(provider, batch, now)


def _embed_halving(
    provider: EmbeddingProvider, batch: list[FactText], now: dt.datetime,
) -> Iterator[tuple[list[FactText], np.ndarray | ProviderError]]:
    if not is_available(provider.model, now):
        yield batch, ProviderError(
            f"{provider.name} is unavailable in this process (model {provider.model}).",
            FailureKind.UNAVAILABLE,
        )
        return
    try:
        raw = provider.embed([item.text for item in batch], input_type="document")
        vectors = checked_vectors(raw, len(batch))
    except ProviderError as exc:
        if exc.kind is FailureKind.TOO_LARGE and len(batch) > 1:
            middle = len(batch) // 2
            yield from _embed_halving(provider, batch[:middle], now)
            yield from _embed_halving(provider, batch[middle:], now)
            return
        if exc.kind is FailureKind.UNAVAILABLE:
            mark_unavailable(provider.model, now)
            log.warning("Embedding provider %s unavailable for 1 h: %s", provider.name, exc)
        yield batch, exc
        return
    yield batch, vectors
