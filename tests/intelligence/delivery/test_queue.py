"""Enqueue rules, sending, retries, Retry and the at-most-once sweep."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from gitpulse_app.core.claims import claim_id
from gitpulse_app.core.logging import JsonFormatter
from gitpulse_app.core.models import EmailDelivery, Report
from gitpulse_app.intelligence.delivery import (
    NOT_CONFIGURED,
    OUTCOME_UNKNOWN,
    drain,
    email_status,
    enqueue_report_email,
    recover_stale,
    retry_delivery,
)
from tests.intelligence.delivery.conftest import (
    ADDRESS,
    BASE_URL,
    DAY_START,
    T0,
    WEEK_START,
    make_owner,
    make_report,
)

MIN = dt.timedelta(minutes=1)


def _rows(session: Session) -> list[EmailDelivery]:
    session.expire_all()
    return list(session.exec(select(EmailDelivery)).all())


def _row(session: Session, report_id: int) -> EmailDelivery:
    session.expire_all()
    return session.exec(select(EmailDelivery).where(EmailDelivery.report_id == report_id)).one()


# Enqueue rules ------------------------------------------------------------------------------------
def test_one_email_per_scheduled_report_even_when_enqueue_and_drain_run_twice(
    session, owner, smtp_env
):
    report = make_report(session, owner, start=DAY_START)
    first = enqueue_report_email(report.id, now=T0)
    second = enqueue_report_email(report.id, now=T0 + MIN)
    assert first is not None and second is not None and first.id == second.id
    assert (first.status, first.to_address, first.attempts) == ("pending", ADDRESS, 0)
    assert drain(now=T0) == 1
    assert drain(now=T0) == 0
    # A later regeneration re-saves the report and asks again: nothing new, nothing re-sent.
    again = enqueue_report_email(report.id, now=T0 + 10 * MIN)
    assert again is not None and again.status == "sent"
    assert drain(now=T0 + 10 * MIN) == 0
    assert len(_rows(session)) == 1

    [message] = smtp_env.messages
    assert message.rcpt_tos == [ADDRESS]
    assert message.message["To"] == ADDRESS
    assert message.mail_from == "reports@localhost"
    assert message.subject == "GitPulse daily standup \u2014 December 5, 2025"
    assert message.message["Message-ID"] == f"<report-{report.id}@gitpulse.example.com>"
    assert f"View in GitPulse: {BASE_URL}/reports/{report.id}" in message.text
    assert f'href="{BASE_URL}/reports/{report.id}"' in message.html
    assert 'href="https://github.com/acme/app/pull/42"' in message.html
    row = _row(session, report.id)
    assert (row.status, row.attempts, row.sent_at, row.claimed_by) == ("sent", 1, T0, None)
    assert row.message_id == f"<report-{report.id}@gitpulse.example.com>"


def test_weekly_report_email_subject(session, owner, smtp_env):
    report = make_report(session, owner, kind="weekly", start=WEEK_START)
    enqueue_report_email(report.id, now=T0)
    assert drain(now=T0) == 1
    assert smtp_env.messages[0].subject == "GitPulse weekly retro \u2014 Dec 1 - Dec 7, 2025"


def test_empty_report_gets_no_row(session, owner, smtp_env):
    report = make_report(session, owner, event_count=0,
                         sections=[{"title": "Work Completed", "bullets": ["No activity recorded"],
                                    "citations": []}])
    assert enqueue_report_email(report.id, now=T0) is None
    assert _rows(session) == []


def test_partial_report_gets_none_until_the_final_version(session, owner, smtp_env):
    report = make_report(session, owner, origin="post_sync", is_partial=True)
    assert enqueue_report_email(report.id, now=T0) is None
    assert _rows(session) == []
    # The first tick after the day's end re-saves it non-partial as scheduled: now it is mailed.
    report.is_partial, report.origin = False, "scheduled"
    session.add(report)
    session.commit()
    assert enqueue_report_email(report.id, now=T0).status == "pending"
    assert drain(now=T0) == 1 and len(smtp_env.messages) == 1


@pytest.mark.parametrize("origin", ["post_sync", "onboarding", "manual", "backfill", "demo"])
def test_only_scheduled_reports_are_mailed(session, owner, smtp_env, origin):
    report = make_report(session, owner, origin=origin)
    assert enqueue_report_email(report.id, now=T0) is None
    assert _rows(session) == []


def test_deleted_report_or_missing_report_gets_none(session, owner, smtp_env):
    report = make_report(session, owner, deleted=True)
    assert enqueue_report_email(report.id, now=T0) is None
    assert enqueue_report_email(999_999, now=T0) is None
    assert _rows(session) == []


def test_nothing_when_the_owner_has_email_off_or_no_address(session, smtp_env):
    off = make_owner(session, login="off", email="off@example.org", enabled=False)
    none = make_owner(session, login="none", email=None)
    blank = make_owner(session, login="blank", email="  ")
    for user in (off, none, blank):
        assert enqueue_report_email(make_report(session, user).id, now=T0) is None
    assert _rows(session) == []


def test_smtp_unset_records_skipped_with_the_message(session, owner, configure, fake_smtp):
    configure(GITPULSE_BASE_URL=BASE_URL)
    report = make_report(session, owner)
    row = enqueue_report_email(report.id, now=T0)
    assert (row.status, row.last_error) == ("skipped", NOT_CONFIGURED)
    assert drain(now=T0) == 0
    # Skipped is final: configuring SMTP later does not send it, and Retry does not apply.
    configure(SMTP_URL=fake_smtp.smtp_url())
    assert drain(now=T0 + MIN) == 0
    assert retry_delivery(report.id, owner.id, now=T0) is None
    assert fake_smtp.messages == []
    assert email_status(report.id, owner.id).text == NOT_CONFIGURED


def test_enqueue_joins_the_callers_transaction(session, owner, smtp_env):
    report = make_report(session, owner)
    row = enqueue_report_email(report.id, now=T0, session=session)
    assert row is not None and row.status == "pending"
    session.rollback()
    assert _rows(session) == []


# Retries ------------------------------------------------------------------------------------------
def test_fake_smtp_failing_twice_then_succeeding_is_sent_after_two_retries(
    session, owner, smtp_env
):
    report = make_report(session, owner)
    enqueue_report_email(report.id, now=T0)
    smtp_env.fail_next_data(2, 451)

    assert drain(now=T0) == 0
    row = _row(session, report.id)
    assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 1, T0 + MIN)
    assert row.last_error.startswith("SMTP 451")
    assert drain(now=T0 + 30 * dt.timedelta(seconds=1)) == 0  # not due yet
    assert _row(session, report.id).attempts == 1

    assert drain(now=T0 + MIN) == 0
    row = _row(session, report.id)
    assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 2, T0 + 6 * MIN)
    assert email_status(report.id, owner.id).text.startswith(f"Email to {ADDRESS} failed (SMTP 451")

    assert drain(now=T0 + 6 * MIN) == 1
    row = _row(session, report.id)
    assert (row.status, row.attempts, row.sent_at) == ("sent", 3, T0 + 6 * MIN)
    assert row.last_error is None
    assert len(smtp_env.messages) == 1


def test_four_failures_fail_visibly_and_retry_sends(session, owner, smtp_env):
    report = make_report(session, owner)
    before = report.model_dump()
    enqueue_report_email(report.id, now=T0)
    smtp_env.refuse_connections()  # SMTP down

    for at in (T0, T0 + MIN, T0 + 6 * MIN):
        drain(now=at)
        assert _row(session, report.id).status == "pending"
    drain(now=T0 + 21 * MIN)
    row = _row(session, report.id)
    assert (row.status, row.attempts) == ("failed", 4)
    assert row.last_error
    assert drain(now=T0 + 120 * MIN) == 0  # failed stays failed
    status = email_status(report.id, owner.id)
    assert status.can_retry and status.status == "failed"
    assert status.text == f"Email to {ADDRESS} failed: {row.last_error}"
    session.expire_all()
    assert session.get(Report, report.id).model_dump() == before  # the report is unaffected

    stranger = make_owner(session, login="mallory", email="m@example.org")
    assert retry_delivery(report.id, stranger.id, now=T0) is None
    smtp_env.accept_connections()
    retried = retry_delivery(report.id, owner.id, now=T0 + 130 * MIN)
    assert (retried.status, retried.attempts, retried.last_error) == ("pending", 0, None)
    assert retry_delivery(report.id, owner.id, now=T0 + 130 * MIN) is None  # only from failed
    assert drain(now=T0 + 130 * MIN) == 1
    assert _row(session, report.id).status == "sent"
    assert len(smtp_env.messages) == 1
    assert email_status(report.id, owner.id).text == f"Emailed to {ADDRESS} at 2:10 AM"


def test_drain_leaves_rows_pending_while_smtp_is_unset_in_this_process(
    session, owner, smtp_env, configure
):
    report = make_report(session, owner)
    enqueue_report_email(report.id, now=T0)
    configure(SMTP_URL=None)
    assert drain(now=T0) == 0
    assert _row(session, report.id).status == "pending"


def test_report_deleted_before_sending_is_skipped(session, owner, smtp_env):
    report = make_report(session, owner)
    enqueue_report_email(report.id, now=T0)
    report.deleted_at = T0
    session.add(report)
    session.commit()
    assert drain(now=T0) == 0
    assert _row(session, report.id).status == "skipped"
    assert smtp_env.messages == []


# At most once -------------------------------------------------------------------------------------
def _set_sending(session: Session, report_id: int, holder: str, at: dt.datetime) -> None:
    session.execute(
        sa.update(EmailDelivery.__table__)
        .where(EmailDelivery.__table__.c.report_id == report_id)
        .values(status="sending", attempts=1, claimed_by=holder, updated_at=at)
    )
    session.commit()


def test_stale_or_dead_sending_rows_become_outcome_unknown_never_pending(session, smtp_env):
    host = claim_id().rsplit(":", 2)[0]
    users = [make_owner(session, login=name, email=f"{name}@example.org")
             for name in ("stale", "dead", "live", "elsewhere")]
    reports = [make_report(session, user) for user in users]
    for report in reports:
        enqueue_report_email(report.id, now=T0)
    _set_sending(session, reports[0].id, claim_id(), T0 - 11 * MIN)
    _set_sending(session, reports[1].id, f"{host}:999999999:1", T0 - MIN)
    _set_sending(session, reports[2].id, claim_id(), T0 - 9 * MIN)
    _set_sending(session, reports[3].id, "other-host:1:1", T0 - 9 * MIN)

    assert drain(now=T0) == 0
    states = [(_row(session, r.id).status, _row(session, r.id).last_error) for r in reports]
    assert states == [
        ("failed", OUTCOME_UNKNOWN), ("failed", OUTCOME_UNKNOWN),
        ("sending", None), ("sending", None),
    ]
    # Later sweeps apply the 10-minute rule to the rest, and never move anything back to pending.
    with Session(session.get_bind()) as other:
        assert recover_stale(other, now=T0 + 2 * MIN) == 2
        other.commit()
    assert drain(now=T0 + 60 * MIN) == 0
    assert {r.status for r in _rows(session)} == {"failed"}
    assert smtp_env.messages == []
    status = email_status(reports[0].id, users[0].id)
    assert status.can_retry and status.text.endswith(OUTCOME_UNKNOWN)


# Logs ---------------------------------------------------------------------------------------------
def test_addresses_never_appear_in_clear_in_logs(session, owner, smtp_env, caplog):
    caplog.set_level(logging.DEBUG)
    rejected = make_owner(session, login="bob", email="bob.rejected@example.org")
    ok_report, bad_report = make_report(session, owner), make_report(session, rejected)
    smtp_env.reject_recipient("bob.rejected@example.org")
    smtp_env.fail_next_data(1)
    for report in (ok_report, bad_report):
        enqueue_report_email(report.id, now=T0)
    for at in (T0, T0 + MIN, T0 + 6 * MIN, T0 + 21 * MIN):
        drain(now=at)
    retry_delivery(bad_report.id, rejected.id, now=T0 + 30 * MIN)
    assert _row(session, ok_report.id).status == "sent"
    assert _row(session, bad_report.id).status == "pending"
    assert caplog.records, "the flow logs something"
    formatter = JsonFormatter()
    for record in caplog.records:
        line = formatter.format(record)
        for address in (ADDRESS, "bob.rejected@example.org"):
            assert address not in line
            assert address not in repr(record.__dict__)


# Both backends ------------------------------------------------------------------------------------
def test_once_only_enqueue_claim_retry_and_sweep_on_each_backend(any_engine, configure, fake_smtp):
    configure(SMTP_URL=fake_smtp.smtp_url(), GITPULSE_BASE_URL=BASE_URL)
    with Session(any_engine, expire_on_commit=False) as session:
        owner = make_owner(session)
        report = make_report(session, owner, start=DAY_START)
        other = make_report(session, owner)
        first = enqueue_report_email(report.id, now=T0)
        assert enqueue_report_email(report.id, now=T0).id == first.id
        enqueue_report_email(other.id, now=T0)
        _set_sending(session, other.id, claim_id(), T0 - 11 * MIN)
        fake_smtp.fail_next_data(1)
        assert drain(now=T0) == 0
        assert _row(session, report.id).status == "pending"
        assert _row(session, other.id).last_error == OUTCOME_UNKNOWN
        assert drain(now=T0 + MIN) == 1
        assert retry_delivery(other.id, owner.id, now=T0 + MIN).status == "pending"
        assert drain(now=T0 + MIN) == 1
        assert [r.status for r in _rows(session)] == ["sent", "sent"]
    assert len(fake_smtp.messages) == 2


def test_owner_turning_email_off_before_the_send_skips_it(session, owner, smtp_env):
    report = make_report(session, owner)
    enqueue_report_email(report.id, now=T0)
    owner.email_reports_enabled = False
    session.add(owner)
    session.commit()
    assert drain(now=T0) == 0
    assert _row(session, report.id).status == "skipped"
    assert smtp_env.messages == []


# An error after the server accepted the message never sends it twice ------------------------------
def test_a_quit_failure_after_acceptance_is_sent_not_retried(session, owner, smtp_env):
    report = make_report(session, owner)
    enqueue_report_email(report.id, now=T0)
    smtp_env.fail_next_quit(421)
    assert drain(now=T0) == 1
    row = _row(session, report.id)
    assert (row.status, row.attempts, row.last_error) == ("sent", 1, None)
    assert drain(now=T0 + 30 * MIN) == 0
    assert len(smtp_env.messages) == 1


def test_a_connection_lost_after_the_data_is_an_unknown_outcome_never_retried(
    session, owner, smtp_env
):
    report = make_report(session, owner)
    enqueue_report_email(report.id, now=T0)
    smtp_env.stall_next_data(hang_up=True)
    assert drain(now=T0) == 0
    row = _row(session, report.id)
    assert (row.status, row.attempts, row.last_error) == ("failed", 1, OUTCOME_UNKNOWN)
    assert drain(now=T0 + 60 * MIN) == 0  # no automatic retry: the server may hold it
    assert len(smtp_env.messages) == 1
    assert email_status(report.id, owner.id).can_retry  # a person decides
