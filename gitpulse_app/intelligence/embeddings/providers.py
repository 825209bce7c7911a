"""Embedding providers behind one small protocol, and the provider chain.

The chain is Voyage (when `VOYAGE_API_KEY` is set) → OpenAI (when `OPENAI_API_KEY` is set) → the
local hashing provider, which needs nothing and never fails. Every provider returns one float32 row
per text; checking the length and normalising is the caller's job, so a provider that answers with
the wrong dimension is caught in one place. SDK errors are translated into `ProviderError` with a
`kind` that tells the queue what to do next.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import threading
from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Protocol

import numpy as np

from gitpulse_app.core.config import Settings, get_settings
from gitpulse_app.core.provider_calls import EMBEDDINGS, record_call

DIMENSIONS = 1024
LOCAL_MODEL = "local-hash-v1"
OPENAI_MODEL = "text-embedding-3-small"
# Texts are cut to this many characters before they reach any provider (facts and queries alike).
MAX_TEXT_CHARS = 8000
REQUEST_TIMEOUT_S = 60.0

_TOKEN = re.compile(r"\w+")
_TOKEN_LIMIT = re.compile(r"token|batch", re.IGNORECASE)
_MODEL_PROBLEM = re.compile(
    r"model.*(not found|not exist|does not exist|unknown|invalid|not supported|unsupported|"
    r"not available|no access|do not have access)|"
    r"(unknown|invalid|unsupported) model",
    re.IGNORECASE,
)


class FailureKind(StrEnum):
    """What a failed provider call means for the rows in it."""

    TRANSIENT = "transient"  # count an attempt and back off
    TOO_LARGE = "too_large"  # halve the batch, no attempt counted
    UNAVAILABLE = "unavailable"  # the provider or model is gone: fail at once, next provider


class ProviderError(Exception):
    """A provider call failed; `kind` says how the queue reacts."""

    def __init__(self, message: str, kind: FailureKind = FailureKind.TRANSIENT) -> None:
        super().__init__(message)
        self.kind = kind


class EmbeddingProvider(Protocol):
    """Something that turns texts into vectors with one model."""

    name: str  # voyage | openai | local
    model: str
    max_batch_chars: int | None  # None: no character budget per call

    def embed(self, texts: Sequence[str], *, input_type: str) -> np.ndarray:
        """One row per text, in order. `input_type` is "document" (facts) or "query"."""
        ...


def classify_http_error(status: int | None, message: str, model: str) -> FailureKind:
    """Map a provider's HTTP error to what the queue does.

    A 404, or an error naming the model, makes the provider unavailable; a 400 naming a token or
    batch limit halves the batch; anything else counts as an attempt.
    """
    if status == 404:
        return FailureKind.UNAVAILABLE
    # Checked before the model rule: Voyage's batch-limit message names the model too.
    if status == 400 and _TOKEN_LIMIT.search(message):
        return FailureKind.TOO_LARGE
    if status in (400, 403, 422) and (
        _MODEL_PROBLEM.search(message) or model.lower() in message.lower()
    ):
        return FailureKind.UNAVAILABLE
    return FailureKind.TRANSIENT


def _as_matrix(rows: Sequence[Sequence[float]], expected: int) -> np.ndarray:
    if len(rows) != expected:
        raise ProviderError(f"The provider returned {len(rows)} vectors for {expected} texts.")
    lengths = {len(row) for row in rows}
    if len(lengths) > 1:
        raise ProviderError(f"The provider returned vectors of mixed lengths {sorted(lengths)}.")
    return np.asarray(rows, dtype=np.float32).reshape(expected, -1)


def recorded(call: Callable[[], np.ndarray]) -> np.ndarray:
    """Run a paid provider's call and record its outcome for the deep health check."""
    try:
        vectors = call()
    except ProviderError as exc:
        record_call(EMBEDDINGS, False, str(exc))
        raise
    record_call(EMBEDDINGS, True)
    return vectors


class VoyageProvider:
    """Voyage AI through its SDK; `VOYAGE_BASE_URL` is honoured and the SDK never retries."""

    name = "voyage"
    # Safe even at ~1 token per character; no tokenizer is downloaded.
    max_batch_chars: int | None = 100_000

    def __init__(self, api_key: str, model: str, base_url: str | None = None) -> None:
        import voyageai

        self.model = model
        self._client = voyageai.Client(
            api_key=api_key, max_retries=0, timeout=REQUEST_TIMEOUT_S, base_url=base_url
        )

    def embed(self, texts: Sequence[str], *, input_type: str) -> np.ndarray:
        return recorded(lambda: self._embed(texts, input_type))

    def _embed(self, texts: Sequence[str], input_type: str) -> np.ndarray:
        from voyageai import error as voyage_error

        try:
            result = self._client.embed(list(texts), model=self.model, input_type=input_type)
        except voyage_error.VoyageError as exc:
            status = getattr(exc, "http_status", None)
            message = f"Voyage error{f' {status}' if status else ''}: {exc}"
            raise ProviderError(message, classify_http_error(status, str(exc), self.model)) from exc
        except Exception as exc:  # a malformed answer the SDK could not parse
            raise ProviderError(f"Voyage returned an unusable answer: {exc!r}") from exc
        return _as_matrix(result.embeddings, len(texts))


class OpenAIProvider:
    """OpenAI `text-embedding-3-small` asked for 1024 dimensions; `OPENAI_BASE_URL` is honoured."""

    name = "openai"
    max_batch_chars: int | None = 240_000

    def __init__(self, api_key: str, base_url: str | None = None) -> None:
        import openai

        self.model = OPENAI_MODEL
        self._client = openai.OpenAI(
            api_key=api_key, base_url=base_url, max_retries=0, timeout=REQUEST_TIMEOUT_S
        )

    def embed(self, texts: Sequence[str], *, input_type: str) -> np.ndarray:
        return recorded(lambda: self._embed(texts))

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        import openai

        try:
            response = self._client.embeddings.create(
                input=list(texts), model=self.model, dimensions=DIMENSIONS,
                encoding_format="float",
            )
        except openai.APIStatusError as exc:
            message = f"OpenAI error {exc.status_code}: {exc.message}"
            raise ProviderError(
                message, classify_http_error(exc.status_code, str(exc.message), self.model)
            ) from exc
        except openai.OpenAIError as exc:
            raise ProviderError(f"OpenAI request failed: {exc}") from exc
        data = sorted(response.data, key=lambda item: item.index)
        return _as_matrix([item.embedding for item in data], len(texts))


class LocalProvider:
    """Deterministic feature hashing of words and word pairs; never fails.

    Lower-cased `\\w+` tokens plus adjacent-token bigrams ("a b"); each feature's SHA-256 picks the
    index (first 4 bytes big-endian mod 1024) and the sign (+ when the 5th byte is even), weight 1
    for a token and 0.5 for a bigram; the sum is L2-normalised (all zero for text without words).
    """

    name = "local"
    model = LOCAL_MODEL
    max_batch_chars: int | None = None

    def embed(self, texts: Sequence[str], *, input_type: str) -> np.ndarray:
        return np.stack([local_vector(text) for text in texts]) if texts else np.zeros(
            (0, DIMENSIONS), dtype=np.float32
        )


def _feature(token: str) -> tuple[int, float]:
    digest = hashlib.sha256(token.encode("utf-8")).digest()
    index = int.from_bytes(digest[:4], "big") % DIMENSIONS
    return index, 1.0 if digest[4] % 2 == 0 else -1.0


def local_vector(text: str) -> np.ndarray:
    """The local provider's vector of `text` (1024 float32, unit length or all zero)."""
    tokens = _TOKEN.findall(text.lower())
    # Summed in float64 and in a fixed order, so every process gets the same bytes.
    vector = np.zeros(DIMENSIONS, dtype=np.float64)
    for token in tokens:
        index, sign = _feature(token)
        vector[index] += sign
    for left, right in zip(tokens, tokens[1:]):
        index, sign = _feature(f"{left} {right}")
        vector[index] += 0.5 * sign
    norm = float(np.sqrt(np.dot(vector, vector)))
    if norm > 0:
        vector /= norm
    return vector.astype(np.float32)


def provider_chain(settings: Settings | None = None) -> list[EmbeddingProvider]:
    """The configured providers in fallback order; the local provider is always last."""
    settings = settings or get_settings()
    chain: list[EmbeddingProvider] = []
    if settings.voyage_api_key:
        chain.append(
            VoyageProvider(settings.voyage_api_key, settings.embedding_model,
                           settings.voyage_base_url)
        )
    if settings.openai_api_key:
        chain.append(OpenAIProvider(settings.openai_api_key, settings.openai_base_url))
    chain.append(LocalProvider())
    return chain


def chain_models(settings: Settings | None = None) -> list[str]:
    """The models of the chain, in order, without building SDK clients."""
    settings = settings or get_settings()
    models: list[str] = []
    if settings.voyage_api_key:
        models.append(settings.embedding_model)
    if settings.openai_api_key:
        models.append(OPENAI_MODEL)
    models.append(LOCAL_MODEL)
    # Voyage configured with OpenAI's model name would repeat it; keep the first.
    return list(dict.fromkeys(models))


def primary_model(settings: Settings | None = None) -> str:
    """The first configured provider's model: new facts are queued for it."""
    return chain_models(settings)[0]


def next_model(model: str, settings: Settings | None = None) -> str | None:
    """The model a fact moves on to when its row for `model` ends failed (None after local).

    A model no longer in the chain (configuration changed) hands over to the primary model.
    """
    models = chain_models(settings)
    if model not in models:
        return models[0]
    position = models.index(model)
    return models[position + 1] if position + 1 < len(models) else None


def provider_for(model: str, settings: Settings | None = None) -> EmbeddingProvider | None:
    """The configured provider of `model`, or None when no provider in the chain serves it."""
    settings = settings or get_settings()
    key = (
        settings.voyage_api_key, settings.voyage_base_url, settings.embedding_model,
        settings.openai_api_key, settings.openai_base_url,
    )
    with _providers_lock:
        chain = _providers.get(key)
        if chain is None:
            chain = _providers[key] = provider_chain(settings)
    return next((provider for provider in chain if provider.model == model), None)


# Per-process availability: a provider that answered 404 or rejected its model rests for an hour.
UNAVAILABLE_FOR = dt.timedelta(hours=1)
_unavailable_until: dict[str, dt.datetime] = {}
_providers: dict[tuple[str | None, ...], list[EmbeddingProvider]] = {}
_providers_lock = threading.Lock()


def mark_unavailable(model: str, now: dt.datetime) -> None:
    """Stop using `model` in this process for `UNAVAILABLE_FOR`."""
    _unavailable_until[model] = now + UNAVAILABLE_FOR


def is_available(model: str, now: dt.datetime) -> bool:
    until = _unavailable_until.get(model)
    return until is None or now >= until


def reset_providers() -> None:
    """Forget cached clients and unavailability (tests, configuration changes)."""
    with _providers_lock:
        _providers.clear()
    _unavailable_until.clear()
