"""Initial schema: every table of `core/models.py` at the time.

Revision ID: 0001
Revises:
Create Date: 2025-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from gitpulse_app.core.db import UTCDateTime

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Created in this order so every foreign key's target exists; dropped in reverse.
TABLES = (
    "auth_sessions",
    "email_deliveries",
    "embeddings",
    "installations",
    "report_job_history",
    "repos",
    "scheduler_leases",
    "sync_batches",
    "tracked_repos",
    "user_installations",
    "users",
    "webhook_events",
    "events",
    "ingestion_jobs",
    "reports",
    "coverage_candidates",
    "embedding_queue",
    "report_regenerations",
)


def upgrade() -> None:
    op.create_table(
        "auth_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", UTCDateTime(), nullable=False),
        sa.Column("user_agent", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_auth_sessions_token_hash")),
    )
    op.create_index(op.f("ix_auth_sessions_expires_at"), "auth_sessions", ["expires_at"])

    op.create_table(
        "email_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("to_address", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.Column("message_id", sa.String(), nullable=True),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.Column("claimed_by", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_deliveries")),
        sa.UniqueConstraint(
            "report_id",
            "channel",
            name=op.f("uq_email_deliveries_report_id_channel"),
        ),
    )
    op.create_table(
        "embeddings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(), nullable=False),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("dimensions", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_embeddings")),
        sa.UniqueConstraint("content_hash", "model", name=op.f("uq_embeddings_content_hash_model")),
    )
    op.create_index(op.f("ix_embeddings_content_hash"), "embeddings", ["content_hash"])

    op.create_table(
        "installations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("gh_installation_id", sa.BigInteger(), nullable=True),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("account_login", sa.String(), nullable=True),
        sa.Column("account_type", sa.String(), nullable=True),
        sa.Column("target_type", sa.String(), nullable=True),
        sa.Column("repository_selection", sa.String(), nullable=True),
        sa.Column("repositories", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("sync_status", sa.String(), nullable=False),
        sa.Column("last_synced_at", UTCDateTime(), nullable=True),
        sa.Column("last_reconciled_at", UTCDateTime(), nullable=True),
        sa.Column("last_manual_sync_at", UTCDateTime(), nullable=True),
        sa.Column("next_sync_at", UTCDateTime(), nullable=True),
        sa.Column("last_sync_error", sa.String(), nullable=True),
        sa.Column("rate_limit_remaining", sa.Integer(), nullable=True),
        sa.Column("rate_limit_limit", sa.Integer(), nullable=True),
        sa.Column("rate_limit_reset", UTCDateTime(), nullable=True),
        sa.Column("recovery_attempts", sa.Integer(), nullable=False),
        sa.Column("last_recovery_at", UTCDateTime(), nullable=True),
        sa.Column("token_enc", sa.String(), nullable=True),
        sa.Column("token_hint", sa.String(), nullable=True),
        sa.Column("created_by_user_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_installations")),
        sa.UniqueConstraint("gh_installation_id", name=op.f("uq_installations_gh_installation_id")),
    )
    op.create_table(
        "report_job_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("tick_at", UTCDateTime(), nullable=False),
        sa.Column("users_attempted", sa.Integer(), nullable=False),
        sa.Column("reports_generated", sa.Integer(), nullable=False),
        sa.Column("reports_skipped", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("completed_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_job_history")),
    )
    op.create_index(
        "ix_report_job_history_kind_created_at",
        "report_job_history",
        ["kind", "created_at"],
    )

    op.create_table(
        "repos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("gh_id", sa.BigInteger(), nullable=False),
        sa.Column("gh_node_id", sa.String(), nullable=True),
        sa.Column("full_name", sa.String(), nullable=False),
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("description", sa.String(), nullable=True),
        sa.Column("html_url", sa.String(), nullable=True),
        sa.Column("homepage", sa.String(), nullable=True),
        sa.Column("language", sa.String(), nullable=True),
        sa.Column("default_branch", sa.String(), nullable=True),
        sa.Column("is_private", sa.Boolean(), nullable=False),
        sa.Column("is_fork", sa.Boolean(), nullable=False),
        sa.Column("is_archived", sa.Boolean(), nullable=False),
        sa.Column("stars", sa.Integer(), nullable=True),
        sa.Column("forks", sa.Integer(), nullable=True),
        sa.Column("open_issues", sa.Integer(), nullable=True),
        sa.Column("watchers", sa.Integer(), nullable=True),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("gh_created_at", UTCDateTime(), nullable=True),
        sa.Column("gh_updated_at", UTCDateTime(), nullable=True),
        sa.Column("gh_pushed_at", UTCDateTime(), nullable=True),
        sa.Column("etags", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_repos")),
        sa.UniqueConstraint("full_name", name=op.f("uq_repos_full_name")),
        sa.UniqueConstraint("gh_id", name=op.f("uq_repos_gh_id")),
    )
    op.create_table(
        "scheduler_leases",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("holder", sa.String(), nullable=False),
        sa.Column("acquired_at", UTCDateTime(), nullable=False),
        sa.Column("heartbeat_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_scheduler_leases")),
    )
    op.create_table(
        "sync_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("installation_id", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(), nullable=False),
        sa.Column("requested_by_user_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("total_repos", sa.Integer(), nullable=False),
        sa.Column("completed_repos", sa.Integer(), nullable=False),
        sa.Column("failed_repos", sa.Integer(), nullable=False),
        sa.Column("events_ingested", sa.Integer(), nullable=False),
        sa.Column("missed_facts", sa.Integer(), nullable=False),
        sa.Column("since", UTCDateTime(), nullable=True),
        sa.Column("until", UTCDateTime(), nullable=True),
        sa.Column("completed_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_batches")),
    )
    op.create_index(
        "uq_sync_batches_running_installation_id",
        "sync_batches",
        ["installation_id"],
        unique=True,
        sqlite_where=sa.text("status = 'running'"),
        postgresql_where=sa.text("status = 'running'"),
    )

    op.create_table(
        "tracked_repos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("installation_id", sa.Integer(), nullable=False),
        sa.Column("repo_full_name", sa.String(), nullable=False),
        sa.Column("tracked", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracked_repos")),
        sa.UniqueConstraint(
            "user_id",
            "installation_id",
            "repo_full_name",
            name=op.f("uq_tracked_repos_user_id_installation_id_repo_full_name"),
        ),
    )
    op.create_table(
        "user_installations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("installation_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("claimed_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_installations")),
        sa.UniqueConstraint(
            "user_id",
            "installation_id",
            name=op.f("uq_user_installations_user_id_installation_id"),
        ),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("gh_id", sa.BigInteger(), nullable=True),
        sa.Column("gh_login", sa.String(), nullable=True),
        sa.Column("gh_node_id", sa.String(), nullable=True),
        sa.Column("git_email", sa.String(), nullable=True),
        sa.Column("display_name", sa.String(), nullable=True),
        sa.Column("email", sa.String(), nullable=True),
        sa.Column("avatar_url", sa.String(), nullable=True),
        sa.Column("bio", sa.String(), nullable=True),
        sa.Column("company", sa.String(), nullable=True),
        sa.Column("location", sa.String(), nullable=True),
        sa.Column("blog", sa.String(), nullable=True),
        sa.Column("twitter_username", sa.String(), nullable=True),
        sa.Column("followers", sa.Integer(), nullable=True),
        sa.Column("following", sa.Integer(), nullable=True),
        sa.Column("public_repos", sa.Integer(), nullable=True),
        sa.Column("timezone", sa.String(), nullable=True),
        sa.Column("daily_reports_enabled", sa.Boolean(), nullable=False),
        sa.Column("weekly_reports_enabled", sa.Boolean(), nullable=False),
        sa.Column("email_reports_enabled", sa.Boolean(), nullable=False),
        sa.Column("daily_enabled_at", UTCDateTime(), nullable=True),
        sa.Column("weekly_enabled_at", UTCDateTime(), nullable=True),
        sa.Column("week_start_day", sa.SmallInteger(), nullable=False),
        sa.Column("onboarding_completed_at", UTCDateTime(), nullable=True),
        sa.Column("first_report_status", sa.String(), nullable=True),
        sa.Column("signed_up_at", UTCDateTime(), nullable=True),
        sa.Column("last_login_at", UTCDateTime(), nullable=True),
        sa.Column("oauth_access_token_enc", sa.String(), nullable=True),
        sa.Column("oauth_refresh_token_enc", sa.String(), nullable=True),
        sa.Column("oauth_token_expires_at", UTCDateTime(), nullable=True),
        sa.Column("is_demo", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "gh_id IS NOT NULL OR gh_login IS NOT NULL OR git_email IS NOT NULL",
            name=op.f("ck_users_has_identity"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("gh_id", name=op.f("uq_users_gh_id")),
        sa.UniqueConstraint("git_email", name=op.f("uq_users_git_email")),
    )
    # Written by hand: autogenerate cannot see expression indexes on SQLite.
    op.create_index(
        op.f("uq_users_lower_gh_login"), "users", [sa.text("lower(gh_login)")], unique=True
    )
    op.create_table(
        "webhook_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("delivery_id", sa.String(), nullable=False),
        sa.Column("event", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=True),
        sa.Column("installation_gh_id", sa.BigInteger(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("error_message", sa.String(), nullable=True),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("processed_at", UTCDateTime(), nullable=True),
        sa.Column("claimed_by", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_events")),
        sa.UniqueConstraint("delivery_id", name=op.f("uq_webhook_events_delivery_id")),
    )
    op.create_index(op.f("ix_webhook_events_received_at"), "webhook_events", ["received_at"])
    op.create_index(
        "ix_webhook_events_status_next_attempt_at",
        "webhook_events",
        ["status", "next_attempt_at"],
    )

    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column("repo_id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=False),
        sa.Column("installation_id", sa.Integer(), nullable=True),
        sa.Column("ts", UTCDateTime(), nullable=False),
        sa.Column("canonical_text", sa.String(), nullable=False),
        sa.Column("source_url", sa.String(), nullable=False),
        sa.Column("additions", sa.Integer(), nullable=True),
        sa.Column("deletions", sa.Integer(), nullable=True),
        sa.Column("files_changed", sa.Integer(), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("gh_id", sa.String(), nullable=True),
        sa.Column("gh_node_id", sa.String(), nullable=True),
        sa.Column("observed_via", sa.String(), nullable=False),
        sa.Column("source_updated_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"], name=op.f("fk_events_actor_id_users")),
        sa.ForeignKeyConstraint(
            ["installation_id"],
            ["installations.id"],
            name=op.f("fk_events_installation_id_installations"),
        ),
        sa.ForeignKeyConstraint(["repo_id"], ["repos.id"], name=op.f("fk_events_repo_id_repos")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("type", "source_url", name=op.f("uq_events_type_source_url")),
    )
    op.create_index("ix_events_actor_id_ts", "events", ["actor_id", "ts"])
    op.create_index(op.f("ix_events_content_hash"), "events", ["content_hash"])
    op.create_index("ix_events_repo_id_ts", "events", ["repo_id", "ts"])
    op.create_index("ix_events_ts", "events", ["ts"])
    op.create_index("ix_events_type_ts", "events", ["type", "ts"])

    op.create_table(
        "ingestion_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("installation_id", sa.Integer(), nullable=False),
        sa.Column("requested_by_user_id", sa.Integer(), nullable=True),
        sa.Column("repo_full_name", sa.String(), nullable=False),
        sa.Column("trigger", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("since", UTCDateTime(), nullable=False),
        sa.Column("until", UTCDateTime(), nullable=True),
        sa.Column("not_before", UTCDateTime(), nullable=False),
        sa.Column("cursor", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("blocked_until", UTCDateTime(), nullable=True),
        sa.Column("heartbeat_at", UTCDateTime(), nullable=True),
        sa.Column("events_ingested", sa.Integer(), nullable=False),
        sa.Column("events_updated", sa.Integer(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.Column("detail_requests", sa.Integer(), nullable=False),
        sa.Column("error_message", sa.String(), nullable=True),
        sa.Column("rate_limit_remaining", sa.Integer(), nullable=True),
        sa.Column("rate_limit_reset", UTCDateTime(), nullable=True),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("completed_at", UTCDateTime(), nullable=True),
        sa.Column("claimed_by", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["sync_batches.id"],
            name=op.f("fk_ingestion_jobs_batch_id_sync_batches"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["installation_id"],
            ["installations.id"],
            name=op.f("fk_ingestion_jobs_installation_id_installations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingestion_jobs")),
    )
    op.create_index(op.f("ix_ingestion_jobs_batch_id"), "ingestion_jobs", ["batch_id"])
    op.create_index(op.f("ix_ingestion_jobs_blocked_until"), "ingestion_jobs", ["blocked_until"])
    op.create_index(
        "ix_ingestion_jobs_installation_id_status",
        "ingestion_jobs",
        ["installation_id", "status"],
    )
    op.create_index(op.f("ix_ingestion_jobs_status"), "ingestion_jobs", ["status"])

    op.create_table(
        "reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("schedule_type", sa.String(), nullable=True),
        sa.Column("origin", sa.String(), nullable=False),
        sa.Column("start_date", UTCDateTime(), nullable=False),
        sa.Column("end_date", UTCDateTime(), nullable=False),
        sa.Column("timezone", sa.String(), nullable=False),
        sa.Column("scope_logins", sa.JSON(), nullable=False),
        sa.Column("scope_repo", sa.String(), nullable=True),
        sa.Column("query", sa.String(), nullable=True),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("description", sa.String(), nullable=False),
        sa.Column("sections", sa.JSON(), nullable=False),
        sa.Column("markdown", sa.String(), nullable=False),
        sa.Column("html", sa.String(), nullable=False),
        sa.Column("citations", sa.JSON(), nullable=False),
        sa.Column("repos", sa.JSON(), nullable=False),
        sa.Column("prompt_version", sa.String(), nullable=False),
        sa.Column("provider", sa.String(), nullable=False),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("generated_at", UTCDateTime(), nullable=False),
        sa.Column("cache_key", sa.String(length=64), nullable=False),
        sa.Column("coverage_score", sa.Float(), nullable=True),
        sa.Column("coverage_breakdown", sa.JSON(), nullable=False),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("citation_count", sa.Integer(), nullable=False),
        sa.Column("expected_citations", sa.Integer(), nullable=False),
        sa.Column("is_partial", sa.Boolean(), nullable=False),
        sa.Column("is_stale", sa.Boolean(), nullable=False),
        sa.Column("stale_detected_at", UTCDateTime(), nullable=True),
        sa.Column("opened_at", UTCDateTime(), nullable=True),
        sa.Column("deleted_at", UTCDateTime(), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=True),
        sa.Column("input_tokens", sa.Integer(), nullable=True),
        sa.Column("output_tokens", sa.Integer(), nullable=True),
        sa.Column("cost_usd", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_reports_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reports")),
        sa.UniqueConstraint(
            "user_id",
            "schedule_type",
            "start_date",
            "end_date",
            name=op.f("uq_reports_user_id_schedule_type_start_date_end_date"),
        ),
    )
    op.create_index(op.f("ix_reports_cache_key"), "reports", ["cache_key"])
    op.create_index("ix_reports_user_id_end_date", "reports", ["user_id", "end_date"])
    op.create_index("ix_reports_user_id_is_stale", "reports", ["user_id", "is_stale"])

    op.create_table(
        "coverage_candidates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("scope_key", sa.String(), nullable=False),
        sa.Column("report_kind", sa.String(), nullable=False),
        sa.Column("window_start", UTCDateTime(), nullable=False),
        sa.Column("window_end", UTCDateTime(), nullable=False),
        sa.Column("cited", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_coverage_candidates_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["reports.id"],
            name=op.f("fk_coverage_candidates_report_id_reports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coverage_candidates")),
        sa.UniqueConstraint(
            "report_id",
            "event_id",
            name=op.f("uq_coverage_candidates_report_id_event_id"),
        ),
    )
    op.create_index(
        "ix_coverage_candidates_scope_key_window_start",
        "coverage_candidates",
        ["scope_key", "window_start"],
    )

    op.create_table(
        "embedding_queue",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("last_attempt_at", UTCDateTime(), nullable=True),
        sa.Column("error_message", sa.String(), nullable=True),
        sa.Column("claimed_by", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_embedding_queue_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_embedding_queue")),
        sa.UniqueConstraint(
            "content_hash",
            "model",
            name=op.f("uq_embedding_queue_content_hash_model"),
        ),
    )
    op.create_index(
        "ix_embedding_queue_status_next_attempt_at",
        "embedding_queue",
        ["status", "next_attempt_at"],
    )

    op.create_table(
        "report_regenerations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("start_date", UTCDateTime(), nullable=False),
        sa.Column("end_date", UTCDateTime(), nullable=False),
        sa.Column("scope", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("message", sa.String(), nullable=True),
        sa.Column("error_message", sa.String(), nullable=True),
        sa.Column("error_stage", sa.String(), nullable=True),
        sa.Column("new_report_id", sa.Integer(), nullable=True),
        sa.Column("completed_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["reports.id"],
            name=op.f("fk_report_regenerations_report_id_reports"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_regenerations")),
    )
    op.create_index(
        "ix_report_regenerations_report_id_created_at",
        "report_regenerations",
        ["report_id", "created_at"],
    )
    op.create_index(
        "ix_report_regenerations_user_id_created_at",
        "report_regenerations",
        ["user_id", "created_at"],
    )


def downgrade() -> None:
    # Dropping a table drops its indexes and constraints with it, on SQLite and PostgreSQL alike.
    for table in reversed(TABLES):
        op.drop_table(table)
