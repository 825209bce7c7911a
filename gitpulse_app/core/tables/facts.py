"""Repositories and facts, their embeddings and the fact-version counter search caches by."""

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from gitpulse_app.core.tables.base import _Row, _json_dict, _sha256_hex, _ts, _ts_now, _ts_opt


# Repositories and facts ---------------------------------------------------------------------------
class Repo(_Row, table=True):
    """A GitHub repository; global, with visibility decided per user."""

    __tablename__ = "repos"

    gh_id: int = Field(sa_type=sa.BigInteger, unique=True)
    gh_node_id: str | None = None
    full_name: str = Field(unique=True)
    owner: str
    name: str
    description: str | None = None
    html_url: str | None = None
    homepage: str | None = None
    language: str | None = None
    default_branch: str | None = None
    is_private: bool = False
    is_fork: bool = False
    is_archived: bool = False
    stars: int | None = None
    forks: int | None = None
    open_issues: int | None = None
    watchers: int | None = None
    size: int | None = None
    gh_created_at: dt.datetime | None = _ts_opt()
    gh_updated_at: dt.datetime | None = _ts_opt()
    gh_pushed_at: dt.datetime | None = _ts_opt()
    etags: dict[str, str] = _json_dict()


class Event(_Row, table=True):
    """A fact: one thing that happened in a repository, identified by (type, source_url)."""

    __tablename__ = "events"
    __table_args__ = (
        sa.UniqueConstraint("type", "source_url"),
        sa.Index("ix_events_repo_id_ts", "repo_id", "ts"),
        sa.Index("ix_events_actor_id_ts", "actor_id", "ts"),
        sa.Index("ix_events_type_ts", "type", "ts"),
        sa.Index("ix_events_ts", "ts"),
        # Covering index for search candidates (alembic 0002).
        sa.Index("ix_events_repo_id_ts_content_hash", "repo_id", "ts", "content_hash"),
        # Which repositories a source delivered facts for (visibility, alembic 0006).
        sa.Index("ix_events_installation_id_repo_id", "installation_id", "repo_id"),
    )

    type: str
    repo_id: int = Field(foreign_key="repos.id")
    actor_id: int = Field(foreign_key="users.id")
    installation_id: int | None = Field(default=None, foreign_key="installations.id")
    ts: dt.datetime = _ts()
    canonical_text: str
    source_url: str
    additions: int | None = None
    deletions: int | None = None
    files_changed: int | None = None
    # SQLAlchemy reserves the attribute name `metadata`; the column is still named `metadata`.
    meta: dict[str, Any] = Field(
        default_factory=dict, sa_column=sa.Column("metadata", sa.JSON, nullable=False)
    )
    content_hash: str = _sha256_hex(index=True)
    gh_id: str | None = None
    gh_node_id: str | None = None
    observed_via: str
    source_updated_at: dt.datetime | None = _ts_opt()


class Embedding(_Row, table=True):
    """The vector of one canonical text (by content hash) under one model."""

    __tablename__ = "embeddings"
    __table_args__ = (sa.UniqueConstraint("content_hash", "model"),)

    content_hash: str = _sha256_hex(index=True)
    provider: str
    model: str
    dimensions: int = 1024
    vector: bytes = Field(sa_type=sa.LargeBinary, nullable=False)


class EmbeddingQueueItem(_Row, table=True):
    """A fact waiting to be embedded with a target model (claimable)."""

    __tablename__ = "embedding_queue"
    __table_args__ = (
        sa.UniqueConstraint("content_hash", "model"),
        sa.Index("ix_embedding_queue_status_next_attempt_at", "status", "next_attempt_at"),
    )

    # A queue row is meaningless once its fact is gone.
    event_id: int = Field(foreign_key="events.id", ondelete="CASCADE")
    content_hash: str = _sha256_hex()
    model: str
    status: str = "pending"
    attempts: int = 0
    next_attempt_at: dt.datetime = _ts_now()
    last_attempt_at: dt.datetime | None = _ts_opt()
    error_message: str | None = None
    claimed_by: str | None = None



# Search support -----------------------------------------------------------------------------------
class FactVersion(SQLModel, table=True):
    """One counter that every transaction writing `events` bumps (alembic 0007).

    Search caches each user's candidate facts until it changes, in every process
    (docs/SEARCH_MEMORY.md); a single row, `id` 1.
    """

    __tablename__ = "fact_versions"

    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    version: int = Field(default=0, sa_type=sa.BigInteger)
