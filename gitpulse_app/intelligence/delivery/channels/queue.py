"""The channel queue: enqueue, claim, send, retry and the at-most-once sweep (docs/CHANNELS.md).

It mirrors the email queue (delivery/queue.py). A `channel_deliveries` row is unique per report
and channel, so a report reaches a channel at most once whatever re-saves it. Machine: pending →
sending (a conditional UPDATE records `claimed_by` and `attempts+1`, committed before anything is
posted) → sent | pending (429: after the asked wait, not counted as a try; 5xx, timeout: after
1 min, then 5 min) | failed (after the third try, a refusal or a gone destination, with
`last_error`); failed → pending on Retry; `skipped` is final. A row left in `sending` — older than
10 minutes or claimed by a process of this host that is gone — becomes failed "Delivery outcome
unknown" and never goes back to pending by itself: after a crash mid-send the owner sees that
failure with Retry instead of a second message.

`X-GitPulse-Delivery` is the row's `delivery_uuid`, fixed when the row is made, so a receiver
sees the same id on every try. Log lines name delivery, channel and report ids only, never a URL.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session

from gitpulse_app.core.claims import holder_is_dead
from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.config import get_settings
from gitpulse_app.core.crypto import decrypt_token
from gitpulse_app.core.db import in_session, insert_ignore, session_scope
from gitpulse_app.core.logging import log_fields, metric
from gitpulse_app.core.models import ChannelDelivery, DeliveryChannel, Report
from gitpulse_app.intelligence.delivery.channels import answers, render, transport
from gitpulse_app.intelligence.delivery.channels.guard import ChannelURLError, check_url
from gitpulse_app.intelligence.delivery.claiming import claim_next, finish_claim, send_due

log = logging.getLogger(__name__)

RETRY_DELAYS = (dt.timedelta(minutes=1), dt.timedelta(minutes=5))
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1  # three tries in all
MAX_RATE_LIMIT_WAITS = 10
STALE_AFTER = dt.timedelta(minutes=10)
OUTCOME_UNKNOWN = "Delivery outcome unknown"
REPORT_GONE = "Report was deleted before it was sent"
CHANNEL_GONE = "The channel was removed before it was sent"
NO_ACTIVITY = "No activity in this window"
URL_UNREADABLE = ("The channel URL can no longer be read (the server key changed); remove the "
                  "channel and add it again")

_table = ChannelDelivery.__table__
_channels = DeliveryChannel.__table__


def is_sendable(report: Report) -> bool:
    """A scheduled, final (non-partial), non-empty, non-deleted report."""
    return (report.origin == "scheduled" and not report.is_partial and report.event_count > 0
            and report.deleted_at is None)


def add_delivery(session: Session, report_id: int, channel_id: int, now: dt.datetime, *,
                 status: str = "pending", note: str | None = None) -> bool:
    """Insert the report × channel row unless it exists; True when this call made it."""
    values = {"report_id": report_id, "channel_id": channel_id,
              "delivery_uuid": str(uuid.uuid4()), "status": status, "attempts": 0,
              "rate_limit_waits": 0, "next_attempt_at": now, "last_error": note,
              "created_at": now, "updated_at": now}
    # RETURNING tells a new row from a conflict on both backends (PostgreSQL's rowcount is -1).
    inserted = session.execute(insert_ignore(
        session, _table, ["report_id", "channel_id"], values).returning(_table.c.id)).first() is not None
    if inserted:
        log_fields(log, logging.INFO, "Channel message queued", report_id=report_id,
                   channel_id=channel_id, status=status)
    return bool(inserted)


def _enqueue_personal(session: Session, report_id: int, now: dt.datetime) -> int:
    report = session.get(Report, report_id)
    # Personal channels get the owner's own standard reports; team digests are queued by
    # channels/scheduled.py.
    if report is None or not is_sendable(report) or report.schedule_type is None:
        return 0
    channel_ids = session.scalars(sa.select(_channels.c.id).where(
        _channels.c.user_id == report.user_id, _channels.c.scope == "personal",
        _channels.c.status == "active")).all()
    kinds = {row.id: row.report_kinds for row in session.execute(
        sa.select(_channels.c.id, _channels.c.report_kinds).where(
            _channels.c.id.in_(channel_ids)))}
    return sum(add_delivery(session, report_id, channel_id, now)
               for channel_id in channel_ids if report.kind in (kinds.get(channel_id) or []))


def enqueue_report_channels(report_id: int, *, now: dt.datetime | None = None,
                            session: Session | None = None) -> int:
    """Queue a saved scheduled report for each of its owner's active personal channels.

    The reports pipeline calls this after saving a scheduled, non-partial, non-empty report;
    the conditions are checked here again. Returns how many rows this call added.
    """
    now = now or utcnow()
    return in_session(session, lambda s: _enqueue_personal(s, report_id, now))


# Recovery ----------------------------------------------------------------------------------------
def recover_stale(session: Session, *, now: dt.datetime | None = None) -> int:
    """`sending` rows claimed over 10 min ago, or by a dead holder → failed, outcome unknown."""
    now = now or utcnow()
    sending = _table.c.status == "sending"
    stale = set(session.scalars(sa.select(_table.c.id).where(
        sending, _table.c.updated_at < now - STALE_AFTER)).all())
    holders = session.scalars(sa.select(_table.c.claimed_by).where(sending).distinct()).all()
    dead = [holder for holder in holders if holder_is_dead(holder)]
    if dead:
        stale |= set(session.scalars(sa.select(_table.c.id).where(
            sending, _table.c.claimed_by.in_(dead))).all())
    if not stale:
        return 0
    count = session.execute(sa.update(_table).where(_table.c.id.in_(stale), sending).values(
        status="failed", last_error=OUTCOME_UNKNOWN, claimed_by=None, updated_at=now)).rowcount
    for delivery_id in sorted(stale):
        log_fields(log, logging.WARNING, "Channel delivery outcome unknown; marked failed",
                   delivery_id=delivery_id)
    return count or 0


# Claiming and sending ----------------------------------------------------------------------------
@dataclass(frozen=True)
class _Claimed:
    id: int
    report_id: int
    channel_id: int
    delivery_uuid: str
    attempts: int
    rate_limit_waits: int


def _claim_one(session: Session, now: dt.datetime, holder: str) -> _Claimed | None:
    row = claim_next(session, _table, now, holder,
                     (_table.c.id, _table.c.report_id, _table.c.channel_id,
                      _table.c.delivery_uuid, _table.c.attempts, _table.c.rate_limit_waits))
    return None if row is None else _Claimed(*row)


def _finish(claimed: _Claimed, holder: str, now: dt.datetime, **values: object) -> bool:
    """Record the outcome, only if this process still holds the claim."""
    return finish_claim(_table, claimed.id, holder, now, **values)


@dataclass(frozen=True)
class Outgoing:
    """A built request: where it goes and the exact bytes."""

    kind: str
    url: str
    body: bytes
    headers: dict[str, str]


def disable_channel(session: Session, channel_id: int, reason: str, now: dt.datetime) -> None:
    """Turn a channel off with the reason its owner sees in Settings (and operators on /ops)."""
    session.execute(sa.update(_channels).where(_channels.c.id == channel_id).values(
        status="disabled", disabled_reason=reason, disabled_at=now, updated_at=now))
    log_fields(log, logging.WARNING, "Channel disabled", channel_id=channel_id, reason=reason)


def _build(claimed: _Claimed) -> tuple[Outgoing | None, str | None, str | None]:
    """(request, skip reason, permanent failure)."""
    with session_scope() as session:
        channel = session.get(DeliveryChannel, claimed.channel_id)
        if channel is None:
            return None, CHANNEL_GONE, None
        if channel.status != "active":
            return None, f"The channel is disabled: {channel.disabled_reason or 'turned off'}", None
        report = session.get(Report, claimed.report_id)
        if report is None or report.deleted_at is not None:
            return None, REPORT_GONE, None
        url = decrypt_token(channel.url_enc)
        if url is None:
            return None, None, URL_UNREADABLE
        try:  # the scheme rule again (the setting may have changed); addresses at connect time
            check_url(url, allow_private=get_settings().channels_allow_private,
                      resolve_host=False)
        except ChannelURLError as exc:
            return None, None, str(exc)
        if channel.kind == "webhook":
            secret = decrypt_token(channel.secret_enc) or ""
            body = render.webhook_body(report)
            headers = render.webhook_headers(render.WEBHOOK_EVENT, claimed.delivery_uuid,
                                             secret, body)
        else:
            body = render.chat_body(channel.kind, render.digest_of(report))
            headers = dict(render.CHAT_HEADERS)
        return Outgoing(channel.kind, url, body, headers), None, None


def _settle(claimed: _Claimed, holder: str, now: dt.datetime, verdict: answers.Verdict,
            status_code: int | None) -> str:
    base = {"response_status": status_code}
    if verdict.action == answers.SENT:
        _finish(claimed, holder, now, status="sent", sent_at=now, last_error=None, **base)
        metric("channel.sent", delivery_id=claimed.id, channel_id=claimed.channel_id,
               attempts=claimed.attempts)
        return "sent"
    if verdict.action == answers.RATE_LIMITED and claimed.rate_limit_waits < MAX_RATE_LIMIT_WAITS:
        wait = dt.timedelta(seconds=verdict.wait_s)
        # A 429 is the endpoint asking to wait, not a failed try.
        _finish(claimed, holder, now, status="pending", next_attempt_at=now + wait,
                attempts=claimed.attempts - 1, rate_limit_waits=claimed.rate_limit_waits + 1,
                last_error=f"{verdict.reason}; retrying in {verdict.wait_s:g} s", **base)
        return "retrying"
    if verdict.action == answers.RETRY and claimed.attempts < MAX_ATTEMPTS:
        delay = RETRY_DELAYS[claimed.attempts - 1]
        _finish(claimed, holder, now, status="pending", next_attempt_at=now + delay,
                last_error=verdict.reason, **base)
        log_fields(log, logging.WARNING, "Channel send failed; will retry",
                   delivery_id=claimed.id, channel_id=claimed.channel_id,
                   attempts=claimed.attempts, error=verdict.reason)
        return "retrying"
    reason = verdict.reason
    if verdict.action in (answers.RETRY, answers.RATE_LIMITED):
        reason = f"{reason} (gave up after {claimed.attempts} tries)"
    _finish(claimed, holder, now, status="failed", last_error=reason, **base)
    if verdict.action == answers.DISABLE:
        with session_scope() as session:
            disable_channel(session, claimed.channel_id, verdict.reason, now)
    log_fields(log, logging.ERROR, "Channel send failed", delivery_id=claimed.id,
               channel_id=claimed.channel_id, attempts=claimed.attempts, error=reason)
    return "failed"


def _send_claimed(claimed: _Claimed, holder: str, now: dt.datetime) -> str:
    try:
        outgoing, skip, broken = _build(claimed)
    except Exception as exc:  # a bad report must fail the try, not wedge the row
        outgoing, skip, broken = None, None, f"Could not build the message: {type(exc).__name__}"
    if skip is not None:
        _finish(claimed, holder, now, status="skipped", last_error=skip)
        return "skipped"
    if outgoing is None:
        _finish(claimed, holder, now, status="failed", last_error=broken)
        return "failed"
    try:
        answer = transport.post(outgoing.url, outgoing.body, outgoing.headers, now=now,
                                allow_private=get_settings().channels_allow_private)
    except Exception as exc:
        # Unknown failure mid-request: it may have arrived, so never retry alone.
        _finish(claimed, holder, now, status="failed", last_error=OUTCOME_UNKNOWN)
        log_fields(log, logging.ERROR, "Channel send crashed; outcome unknown",
                   delivery_id=claimed.id, error_type=type(exc).__name__)
        return "failed"
    return _settle(claimed, holder, now, answers.judge(outgoing.kind, answer), answer.status)


def drain(now: dt.datetime | None = None, limit: int = 10_000) -> int:
    """Sweep stale claims, then send due channel messages until none is due or `limit` handled.

    Args:
        now: Injected clock (`tick --at`); None reads the real clock for each row.
        limit: The most rows handled in this call.

    Returns:
        The number of messages delivered.
    """
    with session_scope() as session:
        recover_stale(session, now=now or utcnow())
    return send_due(_claim_one, _send_claimed, now, limit)


# Retry -------------------------------------------------------------------------------------------
def retry_channel_delivery(delivery_id: int, user_id: int | None, *,
                           now: dt.datetime | None = None) -> bool:
    """The Retry button: a failed delivery of the user's channel → pending, due now.

    `user_id` None is an operator (no ownership check). Returns False when there is nothing to
    retry (not failed, not the user's channel, or the channel is disabled).
    """
    now = now or utcnow()
    with session_scope() as session:
        owned = sa.select(_channels.c.id).where(_channels.c.status == "active")
        if user_id is not None:
            owned = owned.where(_channels.c.user_id == user_id)
        updated = session.execute(
            sa.update(_table).where(_table.c.id == delivery_id, _table.c.status == "failed",
                                    _table.c.channel_id.in_(owned.scalar_subquery()))
            .values(status="pending", attempts=0, rate_limit_waits=0, next_attempt_at=now,
                    last_error=None, claimed_by=None, updated_at=now)).rowcount
    if updated:
        log_fields(log, logging.INFO, "Channel delivery retry requested", delivery_id=delivery_id)
    return bool(updated)
