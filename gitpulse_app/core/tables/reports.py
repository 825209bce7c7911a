"""Reports, their regenerations and history, and their delivery by email and channels."""

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

from gitpulse_app.core.tables.base import (
    _Row, _json_dict, _json_list, _sha256_hex, _ts, _ts_now, _ts_opt,
)


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
