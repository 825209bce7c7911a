"""Envelopes are claimed and ingested in batches, each envelope keeping its own outcome."""

import datetime as dt
import sqlite3

import pytest
import sqlalchemy as sa
from sqlmodel import select

from gitpulse_app.acquisition.webhooks import processor
from gitpulse_app.acquisition.webhooks.receiver import store_envelope
from gitpulse_app.core.claims import claim_id
from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.models import EmbeddingQueueItem, Event, WebhookEvent
from gitpulse_app.core.signals import fact_changed
from tests.acquisition.webhooks.conftest import post_webhook, table_rows
from tests.support.payloads import FULL_NAME, load_webhook


def numbered_pr(number: int) -> dict:
    payload = load_webhook("pull_request", "opened")
    payload["installation"] = {"id": 957387}
    payload["number"] = payload["pull_request"]["number"] = number
    payload["pull_request"]["id"] = 900_000 + number
    payload["pull_request"]["html_url"] = f"https://github.com/{FULL_NAME}/pull/{number}"
    return payload


@pytest.fixture
def announcements():
    """Every `fact_changed` sent while the test runs (the receivers' view of it)."""
    sent: list[list] = []

    def receiver(changes=(), **_):
        sent.append(list(changes))

    fact_changed.connect(receiver)
    try:
        yield sent
    finally:
        fact_changed.disconnect(receiver)


def rows_by_delivery(session) -> dict[str, WebhookEvent]:
    session.expire_all()
    return {row.delivery_id: row for row in session.exec(select(WebhookEvent)).all()}


def test_a_batch_is_stored_in_one_transaction_and_announced_once(client, session, announcements):
    for number in range(1, 8):
        post_webhook(client, "pull_request", numbered_pr(number), delivery=f"pr-{number}")
    result = processor.drain()
    assert (result.processed, result.completed) == (7, 7)
    assert len(announcements) == 1 and len(announcements[0]) == 7
    envelopes = rows_by_delivery(session)
    assert {(row.status, row.attempts, row.claimed_by) for row in envelopes.values()} == {
        ("completed", 1, None)}
    assert all(row.processed_at is not None for row in envelopes.values())
    assert len(session.exec(select(Event)).all()) == 7
    assert len(session.exec(select(EmbeddingQueueItem)).all()) == 7
    assert processor.drain().processed == 0


def test_a_bad_envelope_fails_alone_and_its_neighbours_complete(client, session, engine,
                                                                announcements):
    with engine.begin() as conn:  # the database refuses one pull request's fact
        conn.exec_driver_sql(
            "CREATE TRIGGER refuse_pr_3 BEFORE INSERT ON events WHEN NEW.source_url LIKE "
            "'%/pull/3' BEGIN SELECT RAISE(ABORT, 'pull 3 is refused in this test'); END")
    for number in range(1, 6):
        post_webhook(client, "pull_request", numbered_pr(number), delivery=f"pr-{number}")
    now = utcnow()
    result = processor.drain(now=now)
    assert (result.processed, result.completed, result.rescheduled) == (5, 4, 1)
    envelopes = rows_by_delivery(session)
    bad = envelopes.pop("pr-3")
    assert (bad.status, bad.attempts) == ("pending", 1)
    assert "pull 3 is refused" in bad.error_message
    assert bad.next_attempt_at == now + dt.timedelta(seconds=30)
    assert {(row.status, row.attempts) for row in envelopes.values()} == {("completed", 1)}
    stored = {event.source_url.rsplit("/", 1)[1] for event in session.exec(select(Event)).all()}
    assert stored == {"1", "2", "4", "5"}
    # Each good fact was announced once, by the one-by-one fallback.
    announced = [change.event_id for changes in announcements for change in changes]
    assert sorted(announced) == sorted(set(announced)) and len(announced) == 4


def test_schema_failures_and_other_events_keep_their_own_outcomes_in_a_batch(client, session):
    broken = load_webhook("issues", "opened")
    broken["issue"] = "not an object"
    post_webhook(client, "pull_request", numbered_pr(1), delivery="good-1")
    post_webhook(client, "issues", broken, delivery="broken")
    post_webhook(client, "ping", {"zen": "hello"}, delivery="ping")
    post_webhook(client, "pull_request", numbered_pr(2), delivery="good-2")
    result = processor.drain()
    assert (result.processed, result.completed, result.failed) == (4, 3, 1)
    envelopes = rows_by_delivery(session)
    assert envelopes["broken"].status == "failed"
    assert envelopes["broken"].error_message == "issue: expected object"
    assert {envelopes[d].status for d in ("good-1", "good-2", "ping")} == {"completed"}


def test_claims_of_two_processes_never_overlap(client):
    for number in range(1, 6):
        post_webhook(client, "ping", {"zen": str(number)}, delivery=f"ping-{number}")
    now = utcnow()
    first = processor.claim_batch(now, limit=3)
    second = processor.claim_batch(now, limit=3)
    assert len(first) == 3 and len(second) == 2
    assert not {e.id for e in first} & {e.id for e in second}
    assert [e.id for e in first] == sorted(e.id for e in first)
    assert processor.claim_batch(now) == []


def test_a_batch_cut_off_by_the_database_is_given_back_and_processed_once(file_engine,
                                                                          db_file_url):
    # This engine's connections give up on a locked database after 50 ms instead of 5 s.
    sa.event.listen(file_engine, "connect",
                    lambda conn, _: conn.execute("PRAGMA busy_timeout=50"))
    file_engine.dispose()
    for number in range(1, 4):
        assert store_envelope(f"cut-{number}", "pull_request", numbered_pr(number))
    now = utcnow()
    claimed = processor.claim_batch(now)
    assert len(claimed) == 3
    blocker = sqlite3.connect(db_file_url.removeprefix("sqlite:///"))
    blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock: every write fails
    try:
        with pytest.raises(sa.exc.OperationalError):
            processor.process_batch(claimed, now)
        statuses = blocker.execute("SELECT status, claimed_by FROM webhook_events").fetchall()
        assert statuses == [("processing", claim_id())] * 3
    finally:
        blocker.rollback()
        blocker.close()

    # The next drain writes what was decided: the first envelope's retry, the others given back
    # with their attempt uncounted (due at once, so this drain completes them).
    result = processor.drain(now=now)
    assert (result.processed, result.completed) == (2, 2)
    columns = WebhookEvent.__table__.columns.keys()
    stored = {row["delivery_id"]: row for row in (
        dict(zip(columns, r, strict=True)) for r in table_rows(file_engine, "webhook_events"))}
    assert (stored["cut-1"]["status"], stored["cut-1"]["attempts"]) == ("pending", 1)
    assert {(stored[d]["status"], stored[d]["attempts"]) for d in ("cut-2", "cut-3")} == {
        ("completed", 1)}
    assert processor.drain(now=now + dt.timedelta(seconds=31)).completed == 1
    assert processor.settle_outcomes() == 0
    assert len(table_rows(file_engine, "events")) == 3
