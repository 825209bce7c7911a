"""Every database table of GitPulse, on one `SQLModel.metadata` that Alembic owns.

Tables are plain `SQLModel` classes. Every constraint and index has a name (explicitly or through
the naming convention below) so that SQLite batch migrations and downgrades can address them.
Timestamps are `UTCDateTime` columns: naive datetimes are refused on write and come back aware UTC.

The module is longer than most because it is the whole schema in one place; splitting it would only
scatter the one metadata Alembic compares against.
"""

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.db import UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION

USERS_LOGIN_INDEX = "uq_users_lower_gh_login"
RUNNING_BATCH_INDEX = "uq_sync_batches_running_installation_id"
EVERY_DAY = "1234567"  # users.work_days default: every ISO weekday


# Column helpers: each call returns a fresh FieldInfo, so every table gets its own Column. ---------
def _ts(*, index: bool = False) -> Any:
    """A required timestamp."""
    return Field(sa_type=UTCDateTime, nullable=False, index=index)


def _ts_now(*, index: bool = False) -> Any:
    """A required timestamp that defaults to now."""
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=index)


def _ts_opt(*, index: bool = False) -> Any:
    """An optional timestamp."""
    return Field(default=None, sa_type=UTCDateTime, nullable=True, index=index)


def _updated_at() -> Any:
    return Field(
        default_factory=utcnow,
        sa_type=UTCDateTime,
        nullable=False,
        sa_column_kwargs={"onupdate": utcnow},
    )


def _json_dict() -> Any:
    return Field(default_factory=dict, sa_type=sa.JSON, nullable=False)


def _json_list() -> Any:
    return Field(default_factory=list, sa_type=sa.JSON, nullable=False)


def _sha256_hex(*, index: bool = False, unique: bool = False) -> Any:
    """A SHA-256 hex digest, 64 characters."""
    if unique:
        return Field(sa_type=sa.String(64), nullable=False, unique=True)
    return Field(sa_type=sa.String(64), nullable=False, index=index)


class _Row(SQLModel):
    """Columns every table with a surrogate key shares."""

    id: int | None = Field(default=None, primary_key=True)
    created_at: dt.datetime = _ts_now()
    updated_at: dt.datetime = _updated_at()


# Identity and sources -----------------------------------------------------------------------------
class User(_Row, table=True):
    """A GitHub identity; signed-up users also hold preferences and OAuth tokens (encrypted)."""

    __tablename__ = "users"
    __table_args__ = (
        sa.CheckConstraint(
            "gh_id IS NOT NULL OR gh_login IS NOT NULL OR git_email IS NOT NULL",
            name="has_identity",
        ),
    )

    gh_id: int | None = Field(default=None, sa_type=sa.BigInteger, unique=True)
    gh_login: str | None = None
    gh_node_id: str | None = None
    git_email: str | None = Field(default=None, unique=True)
    display_name: str | None = None
    email: str | None = None
    avatar_url: str | None = None
    bio: str | None = None
    company: str | None = None
    location: str | None = None
    blog: str | None = None
    twitter_username: str | None = None
    followers: int | None = None
    following: int | None = None
    public_repos: int | None = None
    timezone: str | None = None
    daily_reports_enabled: bool = True
    weekly_reports_enabled: bool = True
    email_reports_enabled: bool = True
    daily_enabled_at: dt.datetime | None = _ts_opt()
    weekly_enabled_at: dt.datetime | None = _ts_opt()
    week_start_day: int = Field(default=0, sa_type=sa.SmallInteger)
    # ISO weekday digits of the days the user works ("12345" = Monday–Friday); dailies are written
    # only for these days (docs/SCHEDULING.md).
    work_days: str = Field(default=EVERY_DAY, sa_column_kwargs={"server_default": EVERY_DAY})
    onboarding_completed_at: dt.datetime | None = _ts_opt()
    first_report_status: str | None = None
    signed_up_at: dt.datetime | None = _ts_opt()
    last_login_at: dt.datetime | None = _ts_opt()
    oauth_access_token_enc: str | None = None
    oauth_refresh_token_enc: str | None = None
    oauth_token_expires_at: dt.datetime | None = _ts_opt()
    is_demo: bool = False


# Logins are case-insensitive on GitHub. Kept in the model (not only in 0001) so PostgreSQL's drift
# check compares it; SQLite cannot reflect expression indexes, so Alembic skips it there.
sa.Index(USERS_LOGIN_INDEX, sa.func.lower(User.__table__.c.gh_login), unique=True)


class Installation(_Row, table=True):
    """A source of facts: a GitHub App installation or a personal access token (PAT)."""

    __tablename__ = "installations"

    gh_installation_id: int | None = Field(default=None, sa_type=sa.BigInteger, unique=True)
    kind: str
    account_login: str | None = None
    account_type: str | None = None
    target_type: str | None = None
    repository_selection: str | None = None
    repositories: list[str] = _json_list()
    # GitHub ids of the listed repositories: visibility follows these, never the names
    # (docs/VISIBILITY.md).
    repository_ids: list[int] = Field(default_factory=list, sa_type=sa.JSON, nullable=False,
                                      sa_column_kwargs={"server_default": "[]"})
    status: str = "active"
    sync_status: str = "idle"
    last_synced_at: dt.datetime | None = _ts_opt()
    last_reconciled_at: dt.datetime | None = _ts_opt()
    last_manual_sync_at: dt.datetime | None = _ts_opt()
    next_sync_at: dt.datetime | None = _ts_opt()
    last_sync_error: str | None = None
    rate_limit_remaining: int | None = None
    rate_limit_limit: int | None = None
    rate_limit_reset: dt.datetime | None = _ts_opt()
    recovery_attempts: int = 0
    last_recovery_at: dt.datetime | None = _ts_opt()
    token_enc: str | None = None
    token_hint: str | None = None
    created_by_user_id: int | None = None


class UserInstallation(_Row, table=True):
    """The only link between a user and a source, with the user's role on it."""

    __tablename__ = "user_installations"
    __table_args__ = (sa.UniqueConstraint("user_id", "installation_id"),)

    user_id: int
    installation_id: int
    role: str
    claimed_at: dt.datetime = _ts_now()


class TrackedRepo(_Row, table=True):
    """A user's choice to track (or not) one repository of a source."""

    __tablename__ = "tracked_repos"
    __table_args__ = (sa.UniqueConstraint("user_id", "installation_id", "repo_full_name"),)

    user_id: int
    installation_id: int
    repo_full_name: str
    tracked: bool
    # The repository's GitHub id when known (as GitHub confirmed it); None for a name-only choice.
    repo_gh_id: int | None = Field(default=None, sa_type=sa.BigInteger)


class AuthSession(_Row, table=True):
    """A signed-in browser session; only the SHA-256 of the cookie token is stored."""

    __tablename__ = "auth_sessions"

    token_hash: str = _sha256_hex(unique=True)
    user_id: int
    expires_at: dt.datetime = _ts(index=True)
    last_seen_at: dt.datetime = _ts_now()
    user_agent: str | None = None


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


# Reports ------------------------------------------------------------------------------------------
class Report(_Row, table=True):
    """A generated report over a window [start_date, end_date) for its owner."""

    __tablename__ = "reports"
    __table_args__ = (
        # NULL schedule_type (custom reports) is exempt: both backends treat NULLs as distinct.
        sa.UniqueConstraint("user_id", "schedule_type", "start_date", "end_date"),
        sa.Index("ix_reports_user_id_end_date", "user_id", "end_date"),
        sa.Index("ix_reports_user_id_is_stale", "user_id", "is_stale"),
    )

    user_id: int = Field(foreign_key="users.id")
    kind: str
    schedule_type: str | None = None
    origin: str
    start_date: dt.datetime = _ts()
    end_date: dt.datetime = _ts()
    timezone: str
    scope_logins: list[str] = _json_list()
    scope_repo: str | None = None
    query: str | None = None
    title: str
    description: str
    sections: list[Any] = _json_list()
    markdown: str
    html: str
    citations: list[str] = _json_list()
    repos: list[str] = _json_list()
    prompt_version: str
    provider: str
    model: str
    generated_at: dt.datetime = _ts_now()
    cache_key: str = _sha256_hex(index=True)
    coverage_score: float | None = None
    coverage_breakdown: list[dict[str, Any]] = _json_list()
    event_count: int = 0
    citation_count: int = 0
    expected_citations: int = 0
    is_partial: bool = False
    is_stale: bool = False
    stale_detected_at: dt.datetime | None = _ts_opt()
    opened_at: dt.datetime | None = _ts_opt()
    deleted_at: dt.datetime | None = _ts_opt()
    latency_ms: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None


class ReportRegeneration(_Row, table=True):
    """Progress of one user-requested (re)generation of a report."""

    __tablename__ = "report_regenerations"
    __table_args__ = (
        sa.Index("ix_report_regenerations_report_id_created_at", "report_id", "created_at"),
        sa.Index("ix_report_regenerations_user_id_created_at", "user_id", "created_at"),
    )

    # The request outlives the report it replaced.
    report_id: int | None = Field(default=None, foreign_key="reports.id", ondelete="SET NULL")
    user_id: int
    kind: str
    start_date: dt.datetime = _ts()
    end_date: dt.datetime = _ts()
    scope: dict[str, Any] = _json_dict()
    status: str = "queued"
    progress: int = 0
    message: str | None = None
    error_message: str | None = None
    error_stage: str | None = None
    new_report_id: int | None = None
    completed_at: dt.datetime | None = _ts_opt()


class CoverageCandidate(_Row, table=True):
    """A fact that was eligible for a report's coverage, and whether the report cited it."""

    __tablename__ = "coverage_candidates"
    __table_args__ = (
        sa.UniqueConstraint("report_id", "event_id"),
        sa.Index("ix_coverage_candidates_scope_key_window_start", "scope_key", "window_start"),
    )

    # Candidates are a detail of their report and fact.
    report_id: int = Field(foreign_key="reports.id", ondelete="CASCADE")
    event_id: int = Field(foreign_key="events.id", ondelete="CASCADE")
    scope_key: str
    report_kind: str
    window_start: dt.datetime = _ts()
    window_end: dt.datetime = _ts()
    cited: bool = False


class ReportJobHistory(_Row, table=True):
    """One scheduler tick's outcome for one report kind."""

    __tablename__ = "report_job_history"
    __table_args__ = (sa.Index("ix_report_job_history_kind_created_at", "kind", "created_at"),)

    kind: str
    tick_at: dt.datetime = _ts()
    users_attempted: int = 0
    reports_generated: int = 0
    reports_skipped: int = 0
    errors: int = 0
    duration_ms: int = 0
    started_at: dt.datetime = _ts()
    completed_at: dt.datetime = _ts()


class EmailDelivery(_Row, table=True):
    """The once-only email of a scheduled report (claimable)."""

    __tablename__ = "email_deliveries"
    __table_args__ = (sa.UniqueConstraint("report_id", "channel"),)

    report_id: int
    channel: str = "email"
    to_address: str
    status: str = "pending"
    attempts: int = 0
    next_attempt_at: dt.datetime = _ts_now()
    last_error: str | None = None
    message_id: str | None = None
    sent_at: dt.datetime | None = _ts_opt()
    claimed_by: str | None = None


# Acquisition work ---------------------------------------------------------------------------------
class SyncBatch(_Row, table=True):
    """One sync request for a source; at most one runs per source (enforced by the database)."""

    __tablename__ = "sync_batches"
    __table_args__ = (
        sa.Index(
            RUNNING_BATCH_INDEX,
            "installation_id",
            unique=True,
            sqlite_where=sa.text("status = 'running'"),
            postgresql_where=sa.text("status = 'running'"),
        ),
    )

    installation_id: int
    trigger: str
    requested_by_user_id: int | None = None
    status: str = "running"
    total_repos: int = 0
    completed_repos: int = 0
    failed_repos: int = 0
    events_ingested: int = 0
    missed_facts: int = 0
    since: dt.datetime | None = _ts_opt()
    until: dt.datetime | None = _ts_opt()
    completed_at: dt.datetime | None = _ts_opt()


class IngestionJob(_Row, table=True):
    """The backfill of one repository within a batch (claimable)."""

    __tablename__ = "ingestion_jobs"
    __table_args__ = (
        sa.Index("ix_ingestion_jobs_installation_id_status", "installation_id", "status"),
    )

    # Jobs are parts of their batch; retention removes them together.
    batch_id: int = Field(foreign_key="sync_batches.id", ondelete="CASCADE", index=True)
    installation_id: int = Field(foreign_key="installations.id")
    requested_by_user_id: int | None = None
    repo_full_name: str
    trigger: str
    status: str = Field(default="pending", index=True)
    progress: int = 0
    since: dt.datetime = _ts()
    until: dt.datetime | None = _ts_opt()
    not_before: dt.datetime = _ts_now()
    # none_as_null: "no cursor" is SQL NULL, not the JSON value null.
    cursor: dict[str, Any] | None = Field(
        default=None, sa_type=sa.JSON(none_as_null=True), nullable=True
    )
    attempts: int = 0
    blocked_until: dt.datetime | None = _ts_opt(index=True)
    heartbeat_at: dt.datetime | None = _ts_opt()
    events_ingested: int = 0
    events_updated: int = 0
    duplicates: int = 0
    detail_requests: int = 0
    error_message: str | None = None
    rate_limit_remaining: int | None = None
    rate_limit_reset: dt.datetime | None = _ts_opt()
    started_at: dt.datetime | None = _ts_opt()
    completed_at: dt.datetime | None = _ts_opt()
    claimed_by: str | None = None


class WebhookEvent(_Row, table=True):
    """A received webhook delivery (envelope) and its processing state (claimable)."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        sa.Index("ix_webhook_events_status_next_attempt_at", "status", "next_attempt_at"),
    )

    delivery_id: str = Field(unique=True)
    event: str
    action: str | None = None
    installation_gh_id: int | None = Field(default=None, sa_type=sa.BigInteger)
    payload: dict[str, Any] = _json_dict()
    status: str = "pending"
    attempts: int = 0
    next_attempt_at: dt.datetime = _ts_now()
    error_message: str | None = None
    received_at: dt.datetime = _ts_now(index=True)
    started_at: dt.datetime | None = _ts_opt()
    processed_at: dt.datetime | None = _ts_opt()
    claimed_by: str | None = None


class SchedulerLease(SQLModel, table=True):
    """A named lease: scheduler leadership on SQLite and the scheduler heartbeat everywhere."""

    __tablename__ = "scheduler_leases"

    name: str = Field(primary_key=True)
    holder: str
    acquired_at: dt.datetime = _ts()
    heartbeat_at: dt.datetime = _ts()
    expires_at: dt.datetime = _ts()
    created_at: dt.datetime = _ts_now()
    updated_at: dt.datetime = _updated_at()


# Personal API tokens (docs/API.md) ----------------------------------------------------------------
class ApiToken(_Row, table=True):
    """A personal API token: it acts as its user; only the SHA-256 of the secret is stored."""

    __tablename__ = "api_tokens"

    user_id: int = Field(index=True)
    name: str
    scope: str = "read"  # read | write
    token_hash: str = _sha256_hex(unique=True)
    prefix: str  # the first characters of the secret, shown in lists to tell tokens apart
    last_used_at: dt.datetime | None = _ts_opt()
    expires_at: dt.datetime | None = _ts_opt()
    revoked_at: dt.datetime | None = _ts_opt()


# Chat and webhook channels (docs/CHANNELS.md) ------------------------------------------------------
class DeliveryChannel(_Row, table=True):
    """A Slack, Discord or signed-webhook destination of a user's reports.

    The URL and the webhook secret are stored encrypted (core/crypto.py); `url_hint` (`…/last4`)
    is all the UI ever shows of them.
    """

    __tablename__ = "delivery_channels"

    user_id: int = Field(foreign_key="users.id", index=True)
    kind: str
    name: str
    scope: str = "personal"
    scope_logins: list[str] = _json_list()
    scope_repo: str | None = None
    report_kinds: list[str] = _json_list()
    url_enc: str
    url_hint: str
    secret_enc: str | None = None
    status: str = "active"
    disabled_reason: str | None = None
    disabled_at: dt.datetime | None = _ts_opt()
    last_test_at: dt.datetime | None = _ts_opt()
    last_test_result: str | None = None


class ChannelDelivery(_Row, table=True):
    """The once-only message of one report to one channel (claimable, like `email_deliveries`)."""

    __tablename__ = "channel_deliveries"
    __table_args__ = (
        sa.UniqueConstraint("report_id", "channel_id"),
        sa.Index("ix_channel_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
    )

    report_id: int
    channel_id: int = Field(foreign_key="delivery_channels.id", index=True)
    delivery_uuid: str = Field(sa_type=sa.String(36), unique=True)
    status: str = "pending"
    attempts: int = 0
    rate_limit_waits: int = 0
    next_attempt_at: dt.datetime = _ts_now()
    last_error: str | None = None
    response_status: int | None = None
    sent_at: dt.datetime | None = _ts_opt()
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


# Every session bumps `fact_versions` when it writes facts (imported here so every process has it).
import gitpulse_app.core.fact_versions  # noqa: E402,F401
