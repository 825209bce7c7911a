"""What an instance operator sees on /ops: webhook envelopes (metadata only, never
payload bodies), sync batches and jobs with errors, scheduler runs, queue depths, provider
configuration with deep health, and recent email deliveries with masked addresses. The operator
actions (replaying dead-lettered envelopes, the server token) are in `service.py`.

Every function takes the caller's user id and answers `None` (or refuses) for anyone who is not an
operator, exactly as for a page that does not exist. Nothing here reads other users' reports or
tokens.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from gitpulse_app.core.config import get_settings
from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import (
    ChannelDelivery,
    DeliveryChannel,
    EmailDelivery,
    EmbeddingQueueItem,
    IngestionJob,
    Installation,
    ReportJobHistory,
    SyncBatch,
    User,
    WebhookEvent,
)
from gitpulse_app.experience.auth.operators import is_operator
from gitpulse_app.intelligence.delivery import mask_address
from gitpulse_app.intelligence.embeddings.providers import chain_models

ROWS = 50
ERROR_MAX = 300
NOT_FOUND = "Page not found"


def operator_allowed(user_id: int | None) -> bool:
    """Whether the signed-in user is an instance operator (`is_operator`)."""
    if user_id is None:
        return False
    with session_scope() as session:
        user = session.get(User, user_id)
        return user is not None and is_operator(user)


def _when(instant: dt.datetime | None) -> str:
    return instant.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if instant else "—"


def _short(text: str | None) -> str:
    if not text:
        return ""
    return text if len(text) <= ERROR_MAX else text[: ERROR_MAX - 1] + "…"


# Rows -------------------------------------------------------------------------------------------
@dataclass
class EnvelopeRow:
    envelope_id: int = 0
    delivery_id: str = ""
    event: str = ""
    status: str = ""
    received: str = ""
    attempts: int = 0
    error: str = ""
    installation: str = ""
    can_replay: bool = False


@dataclass
class BatchRow:
    batch_id: int = 0
    source: str = ""
    trigger: str = ""
    status: str = ""
    repos: str = ""
    started: str = ""
    finished: str = ""


@dataclass
class JobRow:
    job_id: int = 0
    batch_id: int = 0
    repo: str = ""
    status: str = ""
    attempts: int = 0
    error: str = ""
    updated: str = ""


@dataclass
class HistoryRow:
    kind: str = ""
    tick_at: str = ""
    users: int = 0
    generated: int = 0
    skipped: int = 0
    errors: int = 0
    duration: str = ""


@dataclass
class QueueRow:
    queue: str = ""
    pending: int = 0
    working: int = 0
    failed: int = 0


@dataclass
class ProviderRow:
    name: str = ""
    configuration: str = ""
    status: str = ""
    detail: str = ""


@dataclass
class DeliveryRow:
    report_id: int = 0
    address: str = ""
    status: str = ""
    attempts: int = 0
    sent: str = ""
    error: str = ""
    updated: str = ""


@dataclass
class ChannelProblemRow:
    """A disabled channel or a failed channel delivery (never a URL or a secret)."""

    status: str = ""
    channel: str = ""
    owner: str = ""
    report_id: int = 0
    detail: str = ""
    updated: str = ""


@dataclass
class OpsView:
    envelopes: list[EnvelopeRow] = field(default_factory=list)
    failed_envelopes: int = 0
    batches: list[BatchRow] = field(default_factory=list)
    jobs: list[JobRow] = field(default_factory=list)
    history: list[HistoryRow] = field(default_factory=list)
    queues: list[QueueRow] = field(default_factory=list)
    providers: list[ProviderRow] = field(default_factory=list)
    deliveries: list[DeliveryRow] = field(default_factory=list)
    channel_problems: list[ChannelProblemRow] = field(default_factory=list)


# Queries ----------------------------------------------------------------------------------------
def _source_labels(session: Session) -> tuple[dict[int, str], dict[int, str]]:
    """Labels of sources by our id and by GitHub installation id."""
    by_id: dict[int, str] = {}
    by_gh: dict[int, str] = {}
    for row in session.execute(sa.select(Installation.id, Installation.gh_installation_id,
                                          Installation.kind, Installation.account_login)):
        label = f"{row.account_login or 'server token'} ({row.kind})"
        by_id[row.id] = label
        if row.gh_installation_id is not None:
            by_gh[row.gh_installation_id] = label
    return by_id, by_gh


def envelopes(session: Session, by_gh: dict[int, str], limit: int = ROWS) -> list[EnvelopeRow]:
    """The newest envelopes (failed first), metadata only: the payload column is never read."""
    table = WebhookEvent.__table__
    columns = [table.c.id, table.c.delivery_id, table.c.event, table.c.action, table.c.status,
               table.c.received_at, table.c.attempts, table.c.error_message,
               table.c.installation_gh_id]
    failed_first = sa.case((table.c.status == "failed", 0), else_=1)
    rows = session.execute(sa.select(*columns).order_by(
        failed_first, table.c.received_at.desc(), table.c.id.desc()).limit(limit)).all()
    return [
        EnvelopeRow(
            envelope_id=row.id, delivery_id=row.delivery_id,
            event=f"{row.event}.{row.action}" if row.action else row.event,
            status=row.status, received=_when(row.received_at), attempts=row.attempts,
            error=_short(row.error_message),
            installation=by_gh.get(row.installation_gh_id, str(row.installation_gh_id or "—")),
            can_replay=row.status == "failed",
        )
        for row in rows
    ]


def batches_with_errors(session: Session, by_id: dict[int, str],
                        limit: int = ROWS) -> list[BatchRow]:
    rows = session.scalars(select(SyncBatch).where(
        sa.or_(SyncBatch.status == "failed", SyncBatch.failed_repos > 0))
        .order_by(SyncBatch.created_at.desc(), SyncBatch.id.desc()).limit(limit)).all()
    return [
        BatchRow(batch.id or 0, by_id.get(batch.installation_id, str(batch.installation_id)),
                 batch.trigger, batch.status,
                 f"{batch.completed_repos}/{batch.total_repos} done, {batch.failed_repos} failed",
                 _when(batch.created_at), _when(batch.completed_at))
        for batch in rows
    ]


def jobs_with_errors(session: Session, limit: int = ROWS) -> list[JobRow]:
    rows = session.execute(sa.select(
        IngestionJob.id, IngestionJob.batch_id, IngestionJob.repo_full_name, IngestionJob.status,
        IngestionJob.attempts, IngestionJob.error_message, IngestionJob.updated_at,
    ).where(sa.or_(IngestionJob.status == "failed", IngestionJob.error_message.is_not(None)))
        .order_by(IngestionJob.updated_at.desc(), IngestionJob.id.desc()).limit(limit)).all()
    return [JobRow(row.id, row.batch_id, row.repo_full_name, row.status, row.attempts,
                   _short(row.error_message), _when(row.updated_at)) for row in rows]


def job_history(session: Session, limit: int = ROWS) -> list[HistoryRow]:
    """The last 50 `report_job_history` rows, newest first."""
    rows = session.scalars(select(ReportJobHistory).order_by(
        ReportJobHistory.created_at.desc(), ReportJobHistory.id.desc()).limit(limit)).all()
    return [HistoryRow(row.kind, _when(row.tick_at), row.users_attempted, row.reports_generated,
                       row.reports_skipped, row.errors, f"{row.duration_ms} ms") for row in rows]


def _counts(session: Session, table: Any) -> dict[str, int]:
    return {status: count for status, count in session.execute(
        sa.select(table.c.status, sa.func.count()).group_by(table.c.status)).all()}


def queue_depths(session: Session) -> list[QueueRow]:
    """Pending, in-progress and failed rows of each work queue."""
    webhooks = _counts(session, WebhookEvent.__table__)
    embeddings = _counts(session, EmbeddingQueueItem.__table__)
    emails = _counts(session, EmailDelivery.__table__)
    chat = _counts(session, ChannelDelivery.__table__)
    jobs = _counts(session, IngestionJob.__table__)
    return [
        QueueRow("Webhook envelopes", webhooks.get("pending", 0), webhooks.get("processing", 0),
                 webhooks.get("failed", 0)),
        QueueRow("Embeddings", embeddings.get("pending", 0), embeddings.get("processing", 0),
                 embeddings.get("failed", 0)),
        QueueRow("Emails", emails.get("pending", 0), emails.get("sending", 0),
                 emails.get("failed", 0)),
        QueueRow("Sync jobs", jobs.get("pending", 0) + jobs.get("blocked", 0),
                 jobs.get("running", 0), jobs.get("failed", 0)),
        QueueRow("Channel messages", chat.get("pending", 0), chat.get("sending", 0),
                 chat.get("failed", 0)),
    ]


def recent_deliveries(session: Session, limit: int = ROWS) -> list[DeliveryRow]:
    """The last 50 email deliveries, every address masked."""
    rows = session.scalars(select(EmailDelivery).order_by(
        EmailDelivery.updated_at.desc(), EmailDelivery.id.desc()).limit(limit)).all()
    return [DeliveryRow(row.report_id, mask_address(row.to_address), row.status, row.attempts,
                        _when(row.sent_at), _short(row.last_error), _when(row.updated_at))
            for row in rows]


def channel_problems(session: Session, limit: int = ROWS) -> list[ChannelProblemRow]:
    """Disabled channels (with the endpoint's reason) and the last failed channel deliveries."""
    def label(channel: DeliveryChannel) -> str:
        return f"{channel.kind} · {channel.name} ({channel.url_hint})"

    logins = dict(session.execute(sa.select(User.id, User.gh_login)).all())
    rows = [ChannelProblemRow("disabled", label(channel), logins.get(channel.user_id) or "", 0,
                              _short(channel.disabled_reason), _when(channel.disabled_at))
            for channel in session.scalars(select(DeliveryChannel).where(
                DeliveryChannel.status == "disabled").order_by(
                DeliveryChannel.disabled_at.desc()).limit(limit))]
    failed = session.execute(
        select(ChannelDelivery, DeliveryChannel)
        .join(DeliveryChannel, DeliveryChannel.id == ChannelDelivery.channel_id)
        .where(ChannelDelivery.status == "failed")
        .order_by(ChannelDelivery.updated_at.desc(), ChannelDelivery.id.desc()).limit(limit))
    rows += [ChannelProblemRow("failed", label(channel), logins.get(channel.user_id) or "",
                               delivery.report_id, _short(delivery.last_error),
                               _when(delivery.updated_at)) for delivery, channel in failed]
    return rows


def provider_rows(health: dict[str, Any] | None) -> list[ProviderRow]:
    """What each provider is configured as (never a secret), with its deep-health status."""
    settings = get_settings()
    services = (health or {}).get("services", {})

    def status(name: str) -> tuple[str, str]:
        check = services.get(name) or {}
        return str(check.get("status", "unknown")), str(check.get("message") or "")

    llm = (f"OpenAI-compatible: {settings.llm_model}"
           + (f", fallback {settings.llm_fallback_model}" if settings.llm_fallback_model else "")
           + ", then the local writer") if settings.openai_enabled else "Local writer"
    github = ", ".join(part for part in (
        f"App {settings.github_app_slug or settings.github_app_id}"
        if settings.app_configured else "",
        "OAuth sign-in" if settings.oauth_configured else "",
        "server token" if settings.github_token else "",
        "demo mode" if settings.demo_enabled else "",
    ) if part) or "Not configured"
    email = "SMTP configured" if settings.email_enabled else "Not configured"
    rows = [
        ("Database", "PostgreSQL" if not settings.is_sqlite else "SQLite", "database"),
        ("Report writer", llm, "llm"),
        ("Embeddings", " → ".join(chain_models(settings)), "embeddings"),
        ("GitHub", f"{github} ({settings.github_api_url})", "github"),
        ("Email", email, "email"),
        ("Scheduler", "In-process leader", "scheduler"),
        ("Webhooks", "Receiver and processor", "webhooks"),
        ("Sync", "Backfill workers", "sync"),
    ]
    return [ProviderRow(name, configuration, *status(key)) for name, configuration, key in rows]


def load_ops(user_id: int | None, health: dict[str, Any] | None = None) -> OpsView | None:
    """Every /ops panel; None for anyone who is not an operator."""
    if not operator_allowed(user_id):
        return None
    with session_scope() as session:
        by_id, by_gh = _source_labels(session)
        failed = int(session.scalar(sa.select(sa.func.count()).select_from(WebhookEvent)
                                    .where(WebhookEvent.status == "failed")) or 0)
        return OpsView(
            envelopes=envelopes(session, by_gh),
            failed_envelopes=failed,
            batches=batches_with_errors(session, by_id),
            jobs=jobs_with_errors(session),
            history=job_history(session),
            queues=queue_depths(session),
            providers=provider_rows(health),
            deliveries=recent_deliveries(session),
            channel_problems=channel_problems(session),
        )
