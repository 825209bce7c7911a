"""Acquisition work: sync batches, ingestion jobs, webhook envelopes and the scheduler lease."""

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from gitpulse_app.core.tables.base import (
    RUNNING_BATCH_INDEX, _Row, _json_dict, _ts, _ts_now, _ts_opt, _updated_at,
)


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
