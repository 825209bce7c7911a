"""The `events` table as the fact store reads and writes it: its columns, the lookup of stored
rows by natural identity `(type, source_url)`, and the write-time rule."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.models import Event

Key = tuple[str, str]

LOOKUP_CHUNK = 500

EVENTS = Event.__table__
# Columns a merge may change; the rest (ts, repo, observed_via, created_at) never change.
MERGED_COLUMNS = (
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
# A new row's columns, in the order `Fold.insert_values` gives them.
INSERT_COLUMNS = (
    "type", "source_url", "repo_id", "ts", *MERGED_COLUMNS, "observed_via", "created_at", "updated_at"
)
STORED_COLUMNS = tuple(
    EVENTS.c[name] for name in ("id", "type", "source_url", "repo_id", "ts", *MERGED_COLUMNS)
)


def update_by_id(**values: Any) -> sa.Update:
    """An executemany UPDATE of `events` rows by the parameter `b_id`, setting `values`."""
    return sa.update(EVENTS).where(EVENTS.c.id == sa.bindparam("b_id")).values(**values)


def load_stored(session: Session, keys: Iterable[Key]) -> dict[Key, dict[str, Any]]:
    """The stored rows (`STORED_COLUMNS`) of these natural identities, one SELECT per fact type
    and `LOOKUP_CHUNK` URLs."""
    urls_by_type: dict[str, list[str]] = {}
    for fact_type, url in keys:
        urls_by_type.setdefault(fact_type, []).append(url)
    stored: dict[Key, dict[str, Any]] = {}
    for fact_type, urls in urls_by_type.items():
        for chunk in chunks(urls, LOOKUP_CHUNK):
            query = sa.select(*STORED_COLUMNS).where(
                EVENTS.c.type == fact_type, EVENTS.c.source_url.in_(chunk)
            )
            for row in session.execute(query).mappings():
                stored[(row["type"], row["source_url"])] = dict(row)
    return stored


def chunks(items: list[str], size: int) -> Iterator[list[str]]:
    """`items` in consecutive slices of at most `size`."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def aware_now(now: dt.datetime | None) -> dt.datetime:
    """The write time: `now` in UTC, or the clock's now; a naive `now` is a ValueError."""
    if now is None:
        return utcnow()
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("`now` must be a timezone-aware datetime; naive times are never stored.")
    return now.astimezone(dt.UTC)
