"""The report page's email line and the in-app unread state."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from gitpulse_app.core.models import EmailDelivery
from gitpulse_app.intelligence.delivery import (
    NOT_CONFIGURED,
    email_status,
    mark_opened,
    mask_address,
    unread_count,
)
from gitpulse_app.intelligence.delivery.status import describe
from tests.intelligence.delivery.conftest import ADDRESS, T0, make_owner, make_report


def _delivery(**values) -> EmailDelivery:
    return EmailDelivery(report_id=1, to_address=ADDRESS, next_attempt_at=T0, **values)


def test_status_lines():
    chicago = ZoneInfo("America/Chicago")
    at = dt.datetime(2025, 12, 5, 15, tzinfo=dt.UTC)
    sent = describe(_delivery(status="sent", sent_at=at), chicago)
    assert (sent.text, sent.can_retry) == (f"Emailed to {ADDRESS} at 9:00 AM", False)
    failed = describe(_delivery(status="failed", last_error="SMTP 554: nope"))
    assert (failed.text, failed.can_retry) == (f"Email to {ADDRESS} failed: SMTP 554: nope", True)
    assert describe(_delivery(status="pending")).text == f"Email to {ADDRESS} is queued"
    assert not describe(_delivery(status="pending", last_error="x")).can_retry
    skipped = describe(_delivery(status="skipped", last_error=NOT_CONFIGURED))
    assert (skipped.text, skipped.can_retry) == ("Email is not configured on this server", False)


def test_email_status_is_owner_only(session, owner):
    report = make_report(session, owner)
    session.add(EmailDelivery(report_id=report.id, to_address=ADDRESS, status="sent", sent_at=T0,
                              next_attempt_at=T0))
    session.commit()
    assert email_status(report.id, owner.id).text == f"Emailed to {ADDRESS} at 12:00 AM"
    stranger = make_owner(session, login="eve", email="eve@example.org")
    assert email_status(report.id, stranger.id) is None
    assert email_status(make_report(session, owner).id, owner.id) is None  # no delivery


def test_unread_count_counts_unopened_non_empty_non_deleted_reports(session, owner):
    unread = [make_report(session, owner), make_report(session, owner, kind="weekly")]
    make_report(session, owner, event_count=0)  # empty
    make_report(session, owner, deleted=True)
    other = make_owner(session, login="bob", email="b@example.org")
    make_report(session, other)
    assert unread_count(owner.id) == 2

    assert mark_opened(unread[0].id, other.id, T0) is False  # not the owner
    assert mark_opened(unread[0].id, owner.id, T0) is True
    assert mark_opened(unread[0].id, owner.id, T0 + dt.timedelta(hours=1)) is False  # once
    session.expire_all()
    assert session.get(type(unread[0]), unread[0].id).opened_at == T0
    assert unread_count(owner.id) == 1
    assert unread_count(other.id) == 1


def test_mask_address():
    assert mask_address("alice@example.com") == "a***@example.com"
    assert mask_address(None) == "" and mask_address("nope") == "***"
