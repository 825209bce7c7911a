"""The content hash of a fact: the original's exact formula.

`sha256_hex(trim(canonical_text) + "::" + trim(source_url) + "::" + M)`, where `M` is "" without
metrics and otherwise the metrics object as JavaScript's `JSON.stringify` writes it with sorted
keys. Type, ts, actor and repo are deliberately not hashed.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gitpulse_app.normalization.text import trim

if TYPE_CHECKING:
    from gitpulse_app.normalization.models import Metrics

# Accepted spellings of each metric, mapped to the camelCase key the original hashed.
_METRIC_KEYS = {
    "additions": "additions",
    "deletions": "deletions",
    "files_changed": "filesChanged",
    "filesChanged": "filesChanged",
}


def content_hash(
    canonical_text: str, source_url: str, metrics: Metrics | Mapping[str, Any] | None = None
) -> str:
    """Computes a fact's content hash.

    Args:
        canonical_text: The rendered canonical text (surrounding whitespace is ignored).
        source_url: The fact's source URL (surrounding whitespace is ignored).
        metrics: `Metrics`, a mapping with `additions`/`deletions`/`files_changed` (or
            `filesChanged`) keys, or None. Absent or null values are omitted; an empty object hashes
            like no metrics.

    Returns:
        64 lower-case hex characters.
    """
    suffix = _metrics_json(metrics)
    payload = f"{trim(canonical_text)}::{trim(source_url)}::{suffix}"
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _metrics_json(metrics: Metrics | Mapping[str, Any] | None) -> str:
    """`stable_json(metrics_object(metrics))`, "" without values. `Metrics` of plain integers (the
    usual case) are written directly: their hashed keys are already in sorted order."""
    if metrics is not None and not isinstance(metrics, Mapping):
        additions, deletions, files = metrics.additions, metrics.deletions, metrics.files_changed
        if additions is None and deletions is None and files is None:
            return ""
        if {type(additions), type(deletions), type(files)} <= _PLAIN:
            members = []
            if additions is not None:
                members.append(f'"additions":{additions}')
            if deletions is not None:
                members.append(f'"deletions":{deletions}')
            if files is not None:
                members.append(f'"filesChanged":{files}')
            return "{" + ",".join(members) + "}"
    hashed_metrics = metrics_object(metrics)
    return stable_json(hashed_metrics) if hashed_metrics else ""


_PLAIN = frozenset({int, type(None)})


def metrics_object(metrics: Metrics | Mapping[str, Any] | None) -> dict[str, Any]:
    """Returns the camelCase metrics object that is hashed, without absent values."""
    if metrics is None:
        return {}
    if isinstance(metrics, Mapping):
        values = {_METRIC_KEYS.get(key, key): value for key, value in metrics.items()}
    else:
        values = {
            "additions": metrics.additions,
            "deletions": metrics.deletions,
            "filesChanged": metrics.files_changed,
        }
    return {key: value for key, value in values.items() if value is not None}


def stable_json(value: Any) -> str:
    """Serialises like JavaScript's `JSON.stringify`, with object keys sorted and no spaces.

    Integral floats are written without ".0", non-finite numbers as `null`, non-ASCII characters
    unescaped; arrays keep their order.
    """
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return "null"
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping):
        items = sorted(((str(key), item) for key, item in value.items()), key=lambda pair: pair[0])
        members = (f"{stable_json(key)}:{stable_json(item)}" for key, item in items)
        return "{" + ",".join(members) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(stable_json(item) for item in value) + "]"
    raise TypeError(f"Cannot serialise {type(value).__name__} as JSON.")
