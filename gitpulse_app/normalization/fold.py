"""One natural identity's fact while a batch is folded into it (the merge rules of `store.py`).

A fold starts from the stored row or from the first observation of the batch; each later
observation is merged in (`observe`); the fold then knows the row to insert or the update to run,
and the `FactChange` to announce.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gitpulse_app.core.models import User
from gitpulse_app.normalization.changes import FactChange, FactResult
from gitpulse_app.normalization.content_hash import content_hash
from gitpulse_app.normalization.fact_rows import INSERT_COLUMNS, MERGED_COLUMNS
from gitpulse_app.normalization.identity import actor_of, is_same_identity
from gitpulse_app.normalization.models import ActorRef, Metrics, NormalizedFact
from gitpulse_app.normalization.resolver import IdentityResolver


def _unchanged(value: Any) -> Any:
    return value


@dataclass(slots=True)  # slots: thousands per backfill batch, read in the hot loops
class Fold:
    """One natural identity's fact while a batch is folded into it, observation by observation."""

    type: str
    source_url: str
    repo_id: int
    actor: User
    actor_ref: ActorRef
    ts: dt.datetime
    metrics: Metrics
    metadata: dict[str, Any]
    gh_id: str | None
    gh_node_id: str | None
    installation_id: int | None
    source_updated_at: dt.datetime | None
    canonical_text: str
    content_hash: str
    stored: dict[str, Any] | None = None  # the row as loaded; None for a new fact
    resolved_from: ActorRef | None = None  # the observed actor `actor` was resolved from
    resolved_at: int = -1  # `IdentityResolver.resolutions` when `actor` was resolved
    observations: int = 0

    @classmethod
    def new(
        cls, fact: NormalizedFact, resolver: IdentityResolver, installation_id: int | None
    ) -> Fold:
        text = fact.canonical_text  # rendered once: `fact.content_hash` would render it again
        return cls(
            type=fact.type,
            source_url=fact.source_url,
            repo_id=resolver.repo(fact.repo).id,
            actor=resolver.actor(fact.actor),
            actor_ref=fact.actor,
            ts=fact.ts,
            metrics=fact.metrics,
            metadata=fact.metadata,  # copied when a later observation merges into it
            gh_id=fact.gh_id,
            gh_node_id=fact.gh_node_id,
            installation_id=installation_id,
            source_updated_at=fact.source_updated_at,
            canonical_text=text,
            content_hash=content_hash(text, fact.source_url, fact.metrics),
            resolved_from=fact.actor,
            resolved_at=resolver.resolutions,
            observations=1,
        )

    @classmethod
    def from_row(cls, row: dict[str, Any], actor: User) -> Fold:
        return cls(
            type=row["type"],
            source_url=row["source_url"],
            repo_id=row["repo_id"],
            actor=actor,
            actor_ref=actor_of(actor),
            ts=row["ts"],
            metrics=Metrics(row["additions"], row["deletions"], row["files_changed"]),
            metadata=dict(row["metadata"] or {}),
            gh_id=row["gh_id"],
            gh_node_id=row["gh_node_id"],
            installation_id=row["installation_id"],
            source_updated_at=row["source_updated_at"],
            canonical_text=row["canonical_text"],
            content_hash=row["content_hash"],
            stored=row,
        )

    def observe(
        self, fact: NormalizedFact, resolver: IdentityResolver, installation_id: int | None
    ) -> None:
        """Merges a later observation of the same fact; an older one changes nothing."""
        self.observations += 1
        newer = fact.source_updated_at
        if self.source_updated_at is not None and newer is not None:
            if newer < self.source_updated_at:
                return
            self.source_updated_at = newer
        elif newer is not None:
            self.source_updated_at = newer
        # A new dict: a new fold still shares its first observation's metadata.
        self.metadata = {
            **self.metadata, **{k: v for k, v in fact.metadata.items() if v is not None}
        }
        self.metrics = self.metrics.fill_missing_from(fact.metrics)
        if self.actor.gh_id is None and fact.actor.gh_id is not None:
            self.actor = resolver.actor(fact.actor)
            self.actor_ref = self.resolved_from = fact.actor
            self.resolved_at = resolver.resolutions
        elif is_same_identity(fact.actor, self.actor):
            # The observation names the stored actor as this very fact did (same git name).
            self.actor_ref = fact.actor
        else:
            # e.g. a reopen by someone else: the fact stays the opener's.
            self.actor_ref = actor_of(self.actor)
        self.gh_id = self.gh_id or fact.gh_id
        self.gh_node_id = self.gh_node_id or fact.gh_node_id
        if self.installation_id is None:
            self.installation_id = installation_id
        merged = NormalizedFact(
            type=self.type,
            repo=fact.repo,
            actor=self.actor_ref,
            ts=self.ts,
            source_url=self.source_url,
            metrics=self.metrics,
            metadata=self.metadata,
        )
        self.canonical_text = merged.canonical_text
        self.content_hash = content_hash(self.canonical_text, self.source_url, self.metrics)

    def refresh_actor(self, resolver: IdentityResolver) -> None:
        """Re-resolves the actor before writing: a later fact of the batch may have merged a
        login-only user into a GitHub account."""
        if self.resolved_from is not None and self.resolved_at != resolver.resolutions:
            self.actor = resolver.actor(self.resolved_from)
            self.resolved_at = resolver.resolutions

    @property
    def is_new(self) -> bool:
        return self.stored is None

    @property
    def content_changed(self) -> bool:
        """A new hash or another actor: the embedding or the reports need refreshing."""
        stored = self.stored or {}
        return (
            self.content_hash != stored.get("content_hash")
            or self.actor.id != stored.get("actor_id")
        )

    @property
    def row_changed(self) -> bool:
        """Anything the row stores differs (also metadata beyond the text, ids, ordering)."""
        stored = self.stored or {}
        return self.content_changed or any(
            stored.get(column) != value for column, value in self._merged_values().items()
        )

    def _merged_values(self) -> dict[str, Any]:
        return {
            "actor_id": self.actor.id,
            "installation_id": self.installation_id,
            "additions": self.metrics.additions,
            "deletions": self.metrics.deletions,
            "files_changed": self.metrics.files_changed,
            "metadata": self.metadata,
            "content_hash": self.content_hash,
            "gh_id": self.gh_id,
            "gh_node_id": self.gh_node_id,
            "source_updated_at": self.source_updated_at,
        }

    def insert_values(
        self,
        observed_via: str,
        now: Any,
        instant: Callable[[Any], Any] = _unchanged,
        as_json: Callable[[Any], Any] = _unchanged,
    ) -> tuple[Any, ...]:
        """The new row's values in `INSERT_COLUMNS` order.

        `now` is given as the caller binds it; `instant` binds the fact's own timestamps and
        `as_json` its metadata (unchanged by default: SQLAlchemy binds them)."""
        metrics = self.metrics
        return (
            self.type,
            self.source_url,
            self.repo_id,
            instant(self.ts),
            self.actor.id,
            self.installation_id,
            self.canonical_text,
            metrics.additions,
            metrics.deletions,
            metrics.files_changed,
            as_json(self.metadata),
            self.content_hash,
            self.gh_id,
            self.gh_node_id,
            instant(self.source_updated_at),
            observed_via,
            now,
            now,
        )

    def insert_row(self, observed_via: str, now: dt.datetime) -> dict[str, Any]:
        return dict(zip(INSERT_COLUMNS, self.insert_values(observed_via, now)))

    def update_row(self, now: dt.datetime) -> dict[str, Any]:
        values = {**self._merged_values(), "canonical_text": self.canonical_text}
        if self.actor.id == self.stored["actor_id"]:
            # Unchanged: leave the column alone (identity resolution may have moved it meanwhile).
            values["actor_id"] = None
        return {"b_id": self.stored["id"], "b_updated_at": now} | {
            f"b_{column}": values[column] for column in MERGED_COLUMNS
        }

    def change(self, event_id: int, result: FactResult) -> FactChange:
        return FactChange(
            event_id=event_id,
            result=result,
            content_hash=self.content_hash,
            ts=self.ts,
            repo_id=self.repo_id,
            actor_id=self.actor.id,
            type=self.type,
        )
