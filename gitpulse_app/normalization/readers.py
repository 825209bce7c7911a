"""Typed readers of GitHub's JSON: each checks the type of what it reads and answers None otherwise.

The canonicalizers and the repository upsert read payloads only through these, so no input shape
can make them raise: a missing or mistyped field just reads as None.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from gitpulse_app.normalization.text import WHITESPACE_CHARS, cut

BODY_STORED_LENGTH = 2000


def _typed(obj: Any, key: str, types: type | tuple[type, ...]) -> Any:
    # `type(obj) is dict` first: decoded JSON is always a dict, and the ABC check is slow.
    if type(obj) is not dict and not isinstance(obj, Mapping):
        return None
    value = obj.get(key)
    return value if isinstance(value, types) else None


def get_dict(obj: Any, key: str) -> Mapping[str, Any] | None:
    """Returns `obj[key]` when `obj` is an object and the value is an object."""
    if type(obj) is dict:  # the hot readers test the exact JSON types before the general checks
        value = obj.get(key)
        if type(value) is dict:
            return value
    return _typed(obj, key, Mapping)


def get_str(obj: Any, key: str) -> str | None:
    """Returns `obj[key]` when it is a string."""
    if type(obj) is dict:
        value = obj.get(key)
        return value if isinstance(value, str) else None
    return _typed(obj, key, str)


def get_int(obj: Any, key: str) -> int | None:
    """Returns `obj[key]` when it is an integer (JSON booleans are not integers)."""
    if type(obj) is dict:
        value = obj.get(key)
        if type(value) is int:
            return value
    value = _typed(obj, key, int)
    return None if isinstance(value, bool) else value


def get_bool(obj: Any, key: str) -> bool | None:
    """Returns `obj[key]` when it is a boolean."""
    return _typed(obj, key, bool)


def get_list(obj: Any, key: str) -> list[Any] | None:
    """Returns `obj[key]` when it is an array."""
    return _typed(obj, key, list)


def get_text(obj: Any, key: str) -> str | None:
    """Returns `obj[key]` when it is a non-blank string."""
    if type(obj) is dict:
        value = obj.get(key)
        if not isinstance(value, str):
            return None
    else:
        value = _typed(obj, key, str)
    # `is_blank` inlined: the hottest reader of canonicalization
    return value if value and value.strip(WHITESPACE_CHARS) else None


def id_text(obj: Any, key: str) -> str | None:
    """Returns a GitHub id (integer or string) as text."""
    number = get_int(obj, key)
    if number is not None:
        return str(number)
    return get_text(obj, key)


def parse_timestamp(value: Any) -> datetime | None:
    """Parses an ISO-8601 instant with `Z` or an offset into aware UTC; anything else is None."""
    if type(value) is not str and not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            return None
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def first_timestamp(obj: Any, *keys: str) -> datetime | None:
    """Returns the first of `keys` holding a valid timestamp (`a ?? b`)."""
    if type(obj) is not dict and not isinstance(obj, Mapping):
        return None
    for key in keys:
        parsed = parse_timestamp(obj.get(key))
        if parsed is not None:
            return parsed
    return None


def stored_body(obj: Any, key: str = "body") -> str | None:
    """A body as metadata stores it: cut to 2000 code points."""
    body = get_str(obj, key)
    return None if body is None else cut(body, BODY_STORED_LENGTH)
