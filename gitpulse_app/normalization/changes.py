"""What a store call reports: one `FactChange` per inserted or changed fact, counted in an
`UpsertResult` (the `fact_changed` payload is the list of changes)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

FactResult = Literal["inserted", "updated"]


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
