"""Non-table types of the normalization layer: references and the normalized fact.

A canonicalizer turns one observation of a GitHub object into `NormalizedFact`s. They carry
everything the fact store needs (repo and actor to resolve, natural identity `(type, source_url)`,
metrics, metadata) and render their own canonical text and content hash, so a merged fact can be
re-rendered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from gitpulse_app.normalization.content_hash import content_hash
from gitpulse_app.normalization.text import collapse, render_canonical_text, trim


class FactType(StrEnum):
    """The `events.type` values."""

    PR_OPENED = "pr_opened"
    PR_MERGED = "pr_merged"
    PR_CLOSED = "pr_closed"
    REVIEW_SUBMITTED = "review_submitted"
    REVIEW_COMMENT = "review_comment"
    ISSUE_OPENED = "issue_opened"
    ISSUE_CLOSED = "issue_closed"
    ISSUE_COMMENT = "issue_comment"
    COMMIT = "commit"
    RELEASE = "release"


@dataclass(frozen=True)
class RepoRef:
    """The repository a fact belongs to.

    Attributes:
        gh_id: GitHub's numeric repository id (the upsert key).
        full_name: `owner/name` as observed.
        owner: The owner's login.
        name: The repository name.
        raw: The repository object as GitHub sent it, for the repos upsert; not compared.
    """

    gh_id: int
    full_name: str
    owner: str
    name: str
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class ActorRef:
    """Who did it: a GitHub account, a login known only by name, or a git-only commit author.

    Attributes:
        gh_id: GitHub's numeric user id, when known.
        login: GitHub login, when known.
        node_id: GitHub node id, when known.
        git_email: Commit author email, lower-cased (identity of authors without an account).
        git_name: Commit author name as written in the commit.
        avatar_url: Avatar URL, when known.
    """

    gh_id: int | None = None
    login: str | None = None
    node_id: str | None = None
    git_email: str | None = None
    git_name: str | None = None
    avatar_url: str | None = None

    def __post_init__(self) -> None:
        if self.git_email is not None:
            email = trim(self.git_email).lower()
            object.__setattr__(self, "git_email", email or None)

    @property
    def has_identity(self) -> bool:
        """True when the actor can be resolved to a user (gh_id, login or git email)."""
        return self.gh_id is not None or bool(self.login) or bool(self.git_email)

    @property
    def is_git_only(self) -> bool:
        """True for a commit author known only by git name and email."""
        return self.gh_id is None and not self.login

    @property
    def display_login(self) -> str | None:
        """The login written in texts: the GitHub login, else the collapsed git name, else the
        local part of the git email."""
        if self.login:
            return self.login
        name = collapse(self.git_name)
        if name:
            return name
        if self.git_email:
            return self.git_email.split("@", 1)[0] or None
        return None


@dataclass(frozen=True)
class Metrics:
    """Size of a change; any value may be unknown."""

    additions: int | None = None
    deletions: int | None = None
    files_changed: int | None = None

    @classmethod
    def of(
        cls,
        additions: int | None = None,
        deletions: int | None = None,
        files_changed: int | None = None,
    ) -> Metrics:
        """These metrics; all unknown (most facts) is the one shared `NO_METRICS` (immutable, so
        a backfill batch does not hold thousands of empty copies)."""
        if additions is None and deletions is None and files_changed is None:
            return NO_METRICS
        return cls(additions, deletions, files_changed)

    @property
    def is_empty(self) -> bool:
        """True when no value is known (hashes like no metrics)."""
        return self.additions is None and self.deletions is None and self.files_changed is None

    def fill_missing_from(self, other: Metrics | None) -> Metrics:
        """Keeps the known values and fills the missing ones from `other` (the store's merge)."""
        if other is None:
            return self
        return Metrics(
            additions=self.additions if self.additions is not None else other.additions,
            deletions=self.deletions if self.deletions is not None else other.deletions,
            files_changed=(
                self.files_changed if self.files_changed is not None else other.files_changed
            ),
        )


NO_METRICS = Metrics()


@dataclass(frozen=True)
class NormalizedFact:
    """One fact as a canonicalizer produced it, before the fact store resolves repo and actor.

    Attributes:
        type: A `FactType` value.
        repo: The repository.
        actor: Who did it.
        ts: When it happened (aware UTC).
        source_url: The GitHub page it came from; with `type` the natural identity.
        metrics: Additions, deletions, files changed (possibly all unknown).
        metadata: Type-specific snake_case keys, JSON-serialisable.
        gh_id: The GitHub object's id as text (a commit's sha).
        gh_node_id: The GitHub object's node id.
        source_updated_at: The object's own `updated_at`, else `ts`; orders observations.
    """

    type: str
    repo: RepoRef
    actor: ActorRef
    ts: datetime
    source_url: str
    metrics: Metrics = field(default_factory=Metrics)
    metadata: dict[str, Any] = field(default_factory=dict)
    gh_id: str | None = None
    gh_node_id: str | None = None
    source_updated_at: datetime | None = None

    def __post_init__(self) -> None:
        # Already aware UTC is the usual case (the canonicalizers' timestamps): nothing to do.
        if self.ts is not None and self.ts.tzinfo is not UTC:
            object.__setattr__(self, "ts", _aware_utc(self.ts, "ts"))
        updated = self.source_updated_at
        if updated is None:
            object.__setattr__(self, "source_updated_at", self.ts)
        elif updated.tzinfo is not UTC:
            object.__setattr__(self, "source_updated_at", _aware_utc(updated, "source_updated_at"))

    @property
    def canonical_text(self) -> str:
        """The text rendered from this fact's type, actor, metrics and metadata."""
        return render_canonical_text(self)

    @property
    def content_hash(self) -> str:
        """SHA-256 hex of the canonical text, source URL and metrics."""
        return content_hash(self.canonical_text, self.source_url, self.metrics)


def _aware_utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"NormalizedFact.{name} must be timezone-aware.")
    return value.astimezone(UTC)
