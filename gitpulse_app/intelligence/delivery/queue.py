"""The email queue: enqueue, claim, send, retry and the at-most-once sweep.

Why at most once: docs/decisions/at-most-once-delivery.md.

Machine of an `email_deliveries` row: pending → sending (claimed by a conditional UPDATE that
records `claimed_by`, `attempts+1`) → sent | pending (retry after 1 m, 5 m, 15 m) | failed (after
the fourth failed attempt, with `last_error`); failed → pending on Retry; `skipped` is final.

Delivery is at most once: the claim is committed before the message is handed to SMTP, and a row
left in `sending` — older than 10 minutes, or claimed by a process on this host that is gone — is
marked failed "Delivery outcome unknown" and never goes back to pending by itself. After a crash
mid-send the owner sees that failure with a Retry button instead of receiving two messages.

Rows are claimed one at a time, so a crash can leave at most one row with an unknown outcome. SMTP
work never runs inside a database transaction. Log lines name delivery and report ids only; the
recipient's address is never logged.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from email.message import EmailMessage

import sqlalchemy as sa
from sqlmodel import Session, select

from gitpulse_app.core.claims import holder_is_dead
from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.config import get_settings
from gitpulse_app.core.db import get_row, in_session, session_scope, try_insert
from gitpulse_app.core.logging import log_fields, metric
from gitpulse_app.core.models import EmailDelivery, Report, User
from gitpulse_app.intelligence.delivery.claiming import claim_next, finish_claim, send_due
from gitpulse_app.intelligence.delivery.compose import compose_message
from gitpulse_app.intelligence.delivery.smtp import (
    SMTPConfigError,
    SMTPDeliveryError,
    SMTPOutcomeUnknown,
    send_message,
)

log = logging.getLogger(__name__)

CHANNEL = "email"
RETRY_DELAYS = (dt.timedelta(minutes=1), dt.timedelta(minutes=5), dt.timedelta(minutes=15))
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1  # the first send plus three retries
STALE_AFTER = dt.timedelta(minutes=10)
NOT_CONFIGURED = "Email is not configured on this server"
OUTCOME_UNKNOWN = "Delivery outcome unknown"
REPORT_GONE = "Report was deleted before it was sent"
EMAIL_TURNED_OFF = "Email reports were turned off before it was sent"

_table = EmailDelivery.__table__


def _get(session: Session, report_id: int) -> EmailDelivery | None:
    statement = (
        select(EmailDelivery)
        .where(EmailDelivery.report_id == report_id, EmailDelivery.channel == CHANNEL)
        .execution_options(populate_existing=True)
    )
    return session.exec(statement).first()


def is_mailable(report: Report) -> bool:
    """A scheduled, final (non-partial), non-empty, non-deleted standard report.

    Team digests written for channels are scheduled too, but not standard: they are not mailed.
    """
    return (
        report.origin == "scheduled"
        and report.schedule_type is not None
        and not report.is_partial
        and report.event_count > 0
        and report.deleted_at is None
    )


# Enqueueing --------------------------------------------------------------------------------------
def _enqueue(session: Session, report_id: int, now: dt.datetime) -> EmailDelivery | None:
    report = session.get(Report, report_id)
    if report is None or not is_mailable(report):
        return None
    owner = session.get(User, report.user_id)
    address = (owner.email or "").strip() if owner is not None else ""
    if owner is None or not owner.email_reports_enabled or not address:
        return None
    configured = get_settings().email_enabled
    values = {
        "report_id": report_id,
        "channel": CHANNEL,
        "to_address": address,
        "status": "pending" if configured else "skipped",
        "attempts": 0,
        "next_attempt_at": now,
        "last_error": None if configured else NOT_CONFIGURED,
        "created_at": now,
        "updated_at": now,
    }
    # Insert-or-ignore on UNIQUE(report_id, channel): a report is mailed once, whatever re-saves it.
    inserted = try_insert(session, _table, values, ["report_id", "channel"])
    session.flush()
    row = _get(session, report_id)
    if inserted and row is not None:
        log_fields(log, logging.INFO, "Report email queued", report_id=report_id,
                   delivery_id=row.id, status=row.status)
    return row


def enqueue_report_email(
    report_id: int, *, now: dt.datetime | None = None, session: Session | None = None
) -> EmailDelivery | None:
    """Queue the once-only email of a saved report.

    The reports pipeline calls this after saving a scheduled, non-partial, non-empty report. It
    checks those conditions itself, then the owner's email toggle and address.

    Args:
        report_id: The saved report.
        now: Injected clock (`tick --at`) for `next_attempt_at` and row timestamps.
        session: Join the caller's transaction (not committed here); else a session of its own.

    Returns:
        The report's delivery row — new (`pending`, or `skipped` "Email is not configured on this
        server" when `SMTP_URL` is unset) or the one that already existed (never a second row) —
        or None when no email applies (not mailable, email turned off, no address).
    """
    now = now or utcnow()
    return in_session(session, lambda s: _enqueue(s, report_id, now))


# Recovery ----------------------------------------------------------------------------------------
def recover_stale(session: Session, *, now: dt.datetime | None = None) -> int:
    """`sending` rows claimed more than 10 min ago, or by a dead holder → failed, outcome unknown.

    Never back to pending: the message may have left before the holder died (at most once).
    """
    now = now or utcnow()
    failed = {"status": "failed", "last_error": OUTCOME_UNKNOWN, "claimed_by": None,
              "updated_at": now}
    sending = _table.c.status == "sending"
    stale_ids = list(session.scalars(
        sa.select(_table.c.id).where(sending, _table.c.updated_at < now - STALE_AFTER)
    ).all())
    holders = session.scalars(sa.select(_table.c.claimed_by).where(sending).distinct()).all()
    dead = [holder for holder in holders if holder_is_dead(holder)]
    if dead:
        stale_ids += session.scalars(
            sa.select(_table.c.id).where(sending, _table.c.claimed_by.in_(dead))
        ).all()
    if not stale_ids:
        return 0
    count = session.execute(
        sa.update(_table).where(_table.c.id.in_(set(stale_ids)), sending).values(**failed)
    ).rowcount or 0
    for delivery_id in sorted(set(stale_ids)):
        log_fields(log, logging.WARNING, "Email delivery outcome unknown; marked failed",
                   delivery_id=delivery_id)
    return count


# Claiming and sending ----------------------------------------------------------------------------
@dataclass(frozen=True)
class _Claimed:
    id: int
    report_id: int
    to_address: str
    attempts: int


def _claim_one(session: Session, now: dt.datetime, holder: str) -> _Claimed | None:
    """Claim the next due pending row (oldest due first); None when none is due."""
    row = claim_next(session, _table, now, holder,
                     (_table.c.id, _table.c.report_id, _table.c.to_address, _table.c.attempts))
    return None if row is None else _Claimed(row.id, row.report_id, row.to_address, row.attempts)


def _finish(delivery_id: int, holder: str, now: dt.datetime, **values: object) -> bool:
    """Record the outcome, only if this process still holds the claim."""
    return finish_claim(_table, delivery_id, holder, now, **values)


def _fail_attempt(claimed: _Claimed, holder: str, now: dt.datetime, error: str) -> str:
    if claimed.attempts < MAX_ATTEMPTS:
        delay = RETRY_DELAYS[claimed.attempts - 1]
        _finish(claimed.id, holder, now, status="pending", next_attempt_at=now + delay,
                last_error=error)
        log_fields(log, logging.WARNING, "Email send failed; will retry", delivery_id=claimed.id,
                   report_id=claimed.report_id, attempts=claimed.attempts, error=error,
                   retry_in_s=int(delay.total_seconds()))
        return "retrying"
    _finish(claimed.id, holder, now, status="failed", last_error=error)
    log_fields(log, logging.ERROR, "Email send failed; giving up", delivery_id=claimed.id,
               report_id=claimed.report_id, attempts=claimed.attempts, error=error)
    return "failed"


_Built = tuple[EmailMessage | None, str | None, str | None]


def _build(claimed: _Claimed, now: dt.datetime) -> _Built:
    """(message, skip reason, build error): the report still mailable and the message built?"""
    with session_scope() as session:
        report = session.get(Report, claimed.report_id)
        if report is None or report.deleted_at is not None:
            return None, REPORT_GONE, None
        owner = session.get(User, report.user_id)
        if owner is None or not owner.email_reports_enabled:
            return None, EMAIL_TURNED_OFF, None
        try:
            message = compose_message(report, claimed.to_address, settings=get_settings(), now=now)
        except Exception as exc:  # a bad address or report must fail the attempt, not wedge the row
            return None, None, f"Could not build the message: {type(exc).__name__}"
    return message, None, None


def _send_claimed(claimed: _Claimed, holder: str, now: dt.datetime, smtp_url: str) -> str:
    """Send one claimed row; returns sent | retrying | failed | skipped."""
    message, skip_reason, build_error = _build(claimed, now)
    if skip_reason is not None:
        _finish(claimed.id, holder, now, status="skipped", last_error=skip_reason)
        log_fields(log, logging.INFO, "Email skipped", delivery_id=claimed.id,
                   report_id=claimed.report_id, reason=skip_reason)
        return "skipped"
    if message is None:
        return _fail_attempt(claimed, holder, now, build_error or "Could not build the message")
    try:
        send_message(message, smtp_url)
    except (SMTPDeliveryError, SMTPConfigError) as exc:
        return _fail_attempt(claimed, holder, now, str(exc))
    except SMTPOutcomeUnknown as exc:
        # The server may hold the message already: at most once means no retry (Retry is manual).
        _finish(claimed.id, holder, now, status="failed", last_error=OUTCOME_UNKNOWN)
        log_fields(log, logging.WARNING, "Email outcome unknown; not retried",
                   delivery_id=claimed.id, report_id=claimed.report_id, error=str(exc))
        return "failed"
    except Exception as exc:
        # Unknown failure mid-conversation: the server may have accepted it, so never retry alone.
        _finish(claimed.id, holder, now, status="failed", last_error=OUTCOME_UNKNOWN)
        log_fields(log, logging.ERROR, "Email send crashed; outcome unknown",
                   delivery_id=claimed.id, report_id=claimed.report_id,
                   error_type=type(exc).__name__)
        return "failed"
    recorded = _finish(claimed.id, holder, now, status="sent", sent_at=now, last_error=None,
                       message_id=str(message["Message-ID"]))
    if not recorded:
        log_fields(log, logging.WARNING, "Email sent but its claim was lost",
                   delivery_id=claimed.id, report_id=claimed.report_id)
    log_fields(log, logging.INFO, "Report email sent", delivery_id=claimed.id,
               report_id=claimed.report_id, attempts=claimed.attempts)
    metric("email.sent", delivery_id=claimed.id, report_id=claimed.report_id,
           attempts=claimed.attempts)
    return "sent"


def drain(now: dt.datetime | None = None, limit: int = 10_000) -> int:
    """Sweep stale claims, then send due emails until none is due or `limit` were handled.

    Does nothing (rows stay pending) while `SMTP_URL` is unset in this process.

    Args:
        now: Injected clock (`tick --at`): due checks, backoffs and timestamps all use it. None
            reads the real clock for each row.
        limit: The most rows handled in this call.

    Returns:
        The number of messages sent.
    """
    with session_scope() as session:
        recover_stale(session, now=now or utcnow())
    smtp_url = get_settings().smtp_url
    if not smtp_url:
        return 0
    return send_due(_claim_one, lambda claimed, holder, moment: _send_claimed(
        claimed, holder, moment, smtp_url), now, limit)


# Retry -------------------------------------------------------------------------------------------
def retry_delivery(
    report_id: int, user_id: int, *, now: dt.datetime | None = None
) -> EmailDelivery | None:
    """The Retry button: the owner's failed delivery → pending, due now, attempts reset.

    Returns:
        The reset row, or None when the report is not the user's (or deleted) or its delivery is
        not failed.
    """
    now = now or utcnow()
    with session_scope() as session:
        report = get_row(session, Report, report_id)
        if report is None or report.user_id != user_id or report.deleted_at is not None:
            return None
        updated = session.execute(
            sa.update(_table)
            .where(_table.c.report_id == report_id, _table.c.channel == CHANNEL,
                   _table.c.status == "failed")
            .values(status="pending", attempts=0, next_attempt_at=now, last_error=None,
                    claimed_by=None, updated_at=now)
        ).rowcount
        if not updated:
            return None
        row = _get(session, report_id)
        log_fields(log, logging.INFO, "Email delivery retry requested", report_id=report_id,
                   delivery_id=row.id if row else None)
        return row
