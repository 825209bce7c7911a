"""What the UI shows about delivery: the report page's email status and in-app unread state.

`email_status` gives the report page its line ("Emailed to {address} at {time}", the failure with a
Retry flag, …). The address appears only there, to the report's owner; `mask_address` is for
places that show other people's deliveries (the ops panel). In-app: a report is unread while its
`opened_at` is NULL; the header counts unread, non-empty, non-deleted reports.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, select

from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.db import get_row, in_session
from gitpulse_app.core.models import EmailDelivery, Report, User
from gitpulse_app.intelligence.delivery.queue import CHANNEL
from gitpulse_app.intelligence.formatting import format_time
from gitpulse_app.intelligence.windows import ZoneLike


@dataclass(frozen=True)
class EmailStatus:
    """The report page's email line.

    Attributes:
        status: The delivery's status (pending, sending, sent, failed, skipped).
        text: The sentence to show.
        can_retry: Show the Retry button (failed deliveries only).
        address: The recipient (the owner's own address).
        sent_at: When it was sent, if it was.
        last_error: The stored error, if any.
    """

    status: str
    text: str
    can_retry: bool
    address: str
    sent_at: dt.datetime | None = None
    last_error: str | None = None


def mask_address(address: str | None) -> str:
    """`alice@example.com` → `a***@example.com` (for views of other people's deliveries)."""
    if not address:
        return ""
    local, at, domain = address.partition("@")
    if not at:
        return "***"
    return f"{local[:1]}***@{domain}"


def describe(delivery: EmailDelivery, tz: ZoneLike = None) -> EmailStatus:
    """The status line of one delivery, times in `tz`."""
    address, error = delivery.to_address, delivery.last_error
    if delivery.status == "sent":
        when = format_time(delivery.sent_at, tz) if delivery.sent_at else "an unknown time"
        text = f"Emailed to {address} at {when}"
    elif delivery.status == "failed":
        text = f"Email to {address} failed: {error or 'unknown error'}"
    elif delivery.status == "skipped":
        text = error or "Email was not sent"
    elif delivery.status == "sending":
        text = f"Sending email to {address}…"
    elif error:
        text = (f"Email to {address} failed ({error}); retrying at "
                f"{format_time(delivery.next_attempt_at, tz)}")
    else:
        text = f"Email to {address} is queued"
    return EmailStatus(
        status=delivery.status,
        text=text,
        can_retry=delivery.status == "failed",
        address=address,
        sent_at=delivery.sent_at,
        last_error=error,
    )


def _email_status(session: Session, report_id: int, user_id: int) -> EmailStatus | None:
    report = get_row(session, Report, report_id)
    if report is None or report.user_id != user_id or report.deleted_at is not None:
        return None
    delivery = session.exec(
        select(EmailDelivery).where(
            EmailDelivery.report_id == report_id, EmailDelivery.channel == CHANNEL
        )
    ).first()
    if delivery is None:
        return None
    owner = session.get(User, user_id)
    return describe(delivery, (owner.timezone if owner else None) or report.timezone)


def email_status(
    report_id: int, user_id: int, *, session: Session | None = None
) -> EmailStatus | None:
    """The email line of the owner's report page; None when there is no delivery (or no access)."""
    return in_session(session, lambda s: _email_status(s, report_id, user_id))


def unread_count(user_id: int, *, session: Session | None = None) -> int:
    """Unread (`opened_at` NULL), non-empty (`event_count > 0`), non-deleted reports of the user."""
    statement = sa.select(sa.func.count()).select_from(Report).where(
        Report.user_id == user_id,
        Report.opened_at.is_(None),  # type: ignore[union-attr]
        Report.event_count > 0,
        Report.deleted_at.is_(None),  # type: ignore[union-attr]
    )
    return in_session(session, lambda s: int(s.execute(statement).scalar_one()))


def mark_opened(
    report_id: int, user_id: int, now: dt.datetime | None = None, *, session: Session | None = None
) -> bool:
    """Opening the report page: set `opened_at` once, for the owner of a non-deleted report.

    Returns:
        True when the report changed from unread to read.
    """
    now = now or utcnow()
    statement = (
        sa.update(Report)
        .where(
            Report.id == report_id,
            Report.user_id == user_id,
            Report.opened_at.is_(None),  # type: ignore[union-attr]
            Report.deleted_at.is_(None),  # type: ignore[union-attr]
        )
        .values(opened_at=now, updated_at=now)
    )
    return in_session(session, lambda s: bool(s.execute(statement).rowcount))
