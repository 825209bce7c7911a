"""Processing stored envelopes (docs/webhook-batches.md)."""

import datetime as dt
import logging
import sqlite3

import pytest
import sqlalchemy as sa
from sqlmodel import select

from gitpulse_app.acquisition.webhooks import envelopes, processor
from gitpulse_app.acquisition.webhooks.receiver import store_envelope
from gitpulse_app.core.claims import claim_id
from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.models import (
    Event,
    Installation,
    Repo,
    SyncBatch,
    User,
    WebhookEvent,
)
from gitpulse_app.normalization.canonicalize_webhook import canonicalize_webhook
from tests.acquisition.webhooks.conftest import (
    accept_fact_writes,
    post_webhook,
    refuse_fact_writes,
    table_rows,
)
from tests.normalization.test_canonicalize_webhook import FACT_FIXTURES
from tests.support.payloads import FULL_NAME, REPO_ID, USER_ID, load_webhook
from tests.support.rows import make_app_source, make_user

SIGNED_UP = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)  # when the test users signed up

INSTALLATION_GH_ID = 957387
FACT_TABLES = ["events", "repos", "users", "installations", "user_installations", "sync_batches",
               "ingestion_jobs", "embedding_queue", "reports"]


def envelope(session, delivery_id: str) -> WebhookEvent:
    session.expire_all()
    return session.exec(select(WebhookEvent).where(WebhookEvent.delivery_id == delivery_id)).one()


def facts(session) -> list[Event]:
    session.expire_all()
    return list(session.exec(select(Event).order_by(Event.id)).all())


def pr_opened(installation_id: int | None = INSTALLATION_GH_ID) -> dict:
    payload = load_webhook("pull_request", "opened")
    if installation_id is not None:
        payload["installation"] = {"id": installation_id}
    return payload


def linked_installation(session, repositories=(FULL_NAME,)) -> Installation:
    """An active App installation of the fixtures' account, owned by a signed-up user."""
    owner = make_user(session, "Codertocat", gh_id=USER_ID, signed_up_at=SIGNED_UP)
    return make_app_source(session, owner, gh_installation_id=INSTALLATION_GH_ID,
                           account_login="Codertocat", repositories=list(repositories))


@pytest.mark.parametrize(("event", "name", "fact_type", "ts", "text", "url"), FACT_FIXTURES)
def test_each_recorded_fact_webhook_is_stored_as_its_fact(client, session, event, name,
                                                          fact_type, ts, text, url):
    payload = load_webhook(event, name)
    assert post_webhook(client, event, payload, delivery="fact-1").status_code == 200
    result = processor.drain()
    assert (result.processed, result.completed) == (1, 1)
    [expected] = canonicalize_webhook(event, payload)
    [fact] = facts(session)
    repo = session.get(Repo, fact.repo_id)
    actor = session.get(User, fact.actor_id)
    assert fact.type == fact_type
    assert (repo.gh_id, repo.full_name) == (REPO_ID, FULL_NAME)
    assert actor.gh_login == "Codertocat"
    assert fact.ts == dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))
    assert fact.canonical_text == text
    assert fact.source_url == url
    assert (fact.additions, fact.deletions, fact.files_changed) == (
        expected.metrics.additions, expected.metrics.deletions, expected.metrics.files_changed)
    assert fact.content_hash == expected.content_hash
    assert fact.observed_via == "webhook"
    assert envelope(session, "fact-1").status == "completed"


def test_fact_is_stored_under_our_installation_row(client, session):
    installation = linked_installation(session)
    post_webhook(client, "pull_request", pr_opened())
    processor.drain()
    [fact] = facts(session)
    assert fact.installation_id == installation.id


def test_unknown_installation_id_gets_a_minimal_installation_row(client, session):
    post_webhook(client, "pull_request", pr_opened(4242))
    processor.drain()
    [installation] = session.exec(select(Installation)).all()
    assert installation.gh_installation_id == 4242
    assert (installation.kind, installation.status) == ("app", "active")
    [fact] = facts(session)
    assert fact.installation_id == installation.id


def test_completed_envelope_records_processing_and_lag_metric(client, session, caplog):
    caplog.set_level(logging.INFO)
    post_webhook(client, "pull_request", pr_opened(None), delivery="lag-1")
    processor.drain()
    stored = envelope(session, "lag-1")
    assert stored.status == "completed"
    assert stored.attempts == 1
    assert stored.processed_at is not None and stored.processed_at >= stored.received_at
    assert stored.claimed_by is None and stored.error_message is None
    lags = [r for r in caplog.records if getattr(r, "metric", None) == "webhook_lag_ms"]
    assert len(lags) == 1 and lags[0].value >= 0


@pytest.mark.parametrize(
    ("event", "name"),
    [("ping", "payload"), ("ping", "with-app_id"), ("create", "payload"), ("delete", "payload"),
     ("pull_request", "labeled"), ("issues", "labeled"), ("release", "created"),
     ("installation", "new_permissions_accepted")],
)
def test_ping_unknown_events_and_actions_complete_without_a_fact(client, session, event, name):
    post_webhook(client, event, load_webhook(event, name), delivery="noop-1")
    result = processor.drain()
    assert (result.processed, result.completed) == (1, 1)
    assert envelope(session, "noop-1").status == "completed"
    assert facts(session) == []


def test_unsupported_event_is_logged(client, caplog):
    caplog.set_level(logging.INFO)
    post_webhook(client, "ping", load_webhook("ping", "payload"))
    processor.drain()
    assert any(r.getMessage() == "Unsupported webhook event" for r in caplog.records)


def test_pull_request_without_number_fails_at_once_without_retry_or_recovery(client, session):
    linked_installation(session)
    payload = pr_opened()
    del payload["pull_request"]["number"]
    post_webhook(client, "pull_request", payload, delivery="no-number")
    now = utcnow()
    result = processor.drain(now=now)
    assert (result.processed, result.failed) == (1, 1)
    stored = envelope(session, "no-number")
    assert stored.status == "failed"
    assert stored.error_message == "pull_request.number: missing"
    assert stored.attempts == 1
    assert processor.drain(now=now + dt.timedelta(days=1)).processed == 0
    assert session.exec(select(SyncBatch)).all() == []
    assert facts(session) == []


def test_wrong_json_type_fails_at_once_naming_the_path(client, session):
    payload = load_webhook("issues", "opened")
    payload["issue"] = "not an object"
    post_webhook(client, "issues", payload, delivery="bad-type")
    processor.drain()
    stored = envelope(session, "bad-type")
    assert (stored.status, stored.error_message) == ("failed", "issue: expected object")


def test_processing_failure_retries_with_backoff_then_dead_letters_and_requests_recovery(
    client, session, engine
):
    installation = linked_installation(session)
    refuse_fact_writes(engine)
    post_webhook(client, "pull_request", pr_opened(), delivery="flaky")
    now = utcnow()
    for attempt, delay_s in enumerate([30, 60, 120, 240], start=1):
        result = processor.drain(now=now)
        assert (result.processed, result.rescheduled) == (1, 1)
        stored = envelope(session, "flaky")
        assert (stored.status, stored.attempts) == ("pending", attempt)
        assert "events are read-only in this test" in stored.error_message
        assert stored.next_attempt_at == now + dt.timedelta(seconds=delay_s)
        assert processor.drain(now=now + dt.timedelta(seconds=delay_s - 1)).processed == 0
        assert session.exec(select(SyncBatch)).all() == []
        now += dt.timedelta(seconds=delay_s)
    result = processor.drain(now=now)
    assert (result.processed, result.failed) == (1, 1)
    stored = envelope(session, "flaky")
    assert (stored.status, stored.attempts) == ("failed", 5)
    [batch] = session.exec(select(SyncBatch)).all()
    assert (batch.installation_id, batch.trigger) == (installation.id, "recovery")
    # A dead letter is not retried by draining, only by a replay.
    assert processor.drain(now=now + dt.timedelta(days=1)).processed == 0
    accept_fact_writes(engine)
    assert processor.retry_failed(now=now) == 1
    stored = envelope(session, "flaky")
    assert (stored.status, stored.attempts) == ("pending", 0)
    assert processor.drain(now=now).completed == 1
    assert len(facts(session)) == 1


def test_failure_then_success_completes_with_the_error_cleared(client, session, engine):
    refuse_fact_writes(engine)
    post_webhook(client, "pull_request", pr_opened(None), delivery="once")
    now = utcnow()
    processor.drain(now=now)
    accept_fact_writes(engine)
    processor.drain(now=now + dt.timedelta(seconds=30))
    stored = envelope(session, "once")
    assert (stored.status, stored.attempts, stored.error_message) == ("completed", 2, None)


@pytest.mark.parametrize(
    ("event", "name"),
    [("pull_request", "opened"), ("issues", "opened"), ("issue_comment", "created"),
     ("push", "with-new-branch"), ("release", "published"), ("installation", "created"),
     ("installation_repositories", "added")],
)
def test_replaying_a_completed_envelope_changes_no_row(client, session, engine, event, name):
    linked_installation(session)
    payload = load_webhook(event, name)
    payload["installation"] = payload.get("installation") or {"id": INSTALLATION_GH_ID}
    post_webhook(client, event, payload, delivery="replay-1")
    assert processor.drain().completed == 1
    before = {table: table_rows(engine, table) for table in FACT_TABLES}
    with engine.begin() as conn:
        conn.execute(sa.update(WebhookEvent).values(status="pending", next_attempt_at=utcnow()))
    assert processor.drain().completed == 1
    # The same delivery again under a new delivery id (a manual redelivery).
    post_webhook(client, event, payload, delivery="replay-2")
    assert processor.drain().completed == 1
    assert {table: table_rows(engine, table) for table in FACT_TABLES} == before


def test_drain_processes_every_due_envelope_once(client, session):
    for index in range(12):
        post_webhook(client, "ping", {"zen": str(index)}, delivery=f"many-{index}")
    assert processor.drain().processed == 12
    assert processor.drain().processed == 0
    session.expire_all()
    attempts = session.exec(select(WebhookEvent.attempts)).all()
    assert attempts == [1] * 12


def test_drain_respects_its_limit(client):
    for index in range(3):
        post_webhook(client, "ping", {"zen": str(index)})
    assert processor.drain(limit=2).processed == 2
    assert processor.drain().processed == 1


def test_a_claim_is_won_by_one_process_only(client, session):
    post_webhook(client, "ping", {"zen": "x"}, delivery="claim-1")
    now = utcnow()
    first = envelopes.claim_next(now)
    assert first is not None and first.attempts == 1
    assert envelopes.claim_next(now) is None
    stored = envelope(session, "claim-1")
    assert (stored.status, stored.claimed_by, stored.started_at) == ("processing", claim_id(), now)


def _claim_as(session, delivery_id: str, holder: str, at: dt.datetime, attempts: int = 1) -> None:
    session.execute(
        sa.update(WebhookEvent)
        .where(WebhookEvent.delivery_id == delivery_id)
        .values(status="processing", claimed_by=holder, updated_at=at, started_at=at,
                attempts=attempts)
    )
    session.commit()


def test_stale_and_dead_holder_claims_return_to_pending(client, session):
    for delivery in ("stale", "dead", "live", "exhausted"):
        post_webhook(client, "ping", {"zen": delivery}, delivery=delivery)
    now = utcnow()
    host = claim_id().rsplit(":", 2)[0]
    _claim_as(session, "stale", claim_id(), now - dt.timedelta(minutes=11))
    _claim_as(session, "dead", f"{host}:999999999:1", now - dt.timedelta(seconds=5))
    _claim_as(session, "live", claim_id(), now - dt.timedelta(minutes=9))
    _claim_as(session, "exhausted", f"{host}:999999999:1", now, attempts=5)
    assert processor.reclaim_stale(now) == 3
    assert envelope(session, "stale").status == "pending"
    assert envelope(session, "dead").status == "pending"
    assert envelope(session, "live").status == "processing"
    assert envelope(session, "exhausted").status == "failed"
    assert processor.drain(now=now).processed == 2
    assert envelope(session, "stale").attempts == 2


def test_an_envelope_reclaimed_by_a_clock_ahead_stays_due_for_a_real_clock_drain(client, session):
    post_webhook(client, "ping", {"zen": "x"}, delivery="abandoned")
    now = utcnow()
    due_at = envelope(session, "abandoned").next_attempt_at
    host = claim_id().rsplit(":", 2)[0]
    _claim_as(session, "abandoned", f"{host}:999999999:1", now)

    assert processor.reclaim_stale(now + dt.timedelta(hours=2)) == 1  # `tick --at` far ahead

    assert envelope(session, "abandoned").next_attempt_at == due_at
    assert processor.drain(now=now).completed == 1


def test_claim_on_another_host_waits_the_ten_minutes(client, session):
    post_webhook(client, "ping", {"zen": "x"}, delivery="remote")
    now = utcnow()
    _claim_as(session, "remote", "other-host:1:1", now - dt.timedelta(minutes=5))
    assert processor.reclaim_stale(now) == 0
    assert processor.reclaim_stale(now + dt.timedelta(minutes=6)) == 1


def test_retry_failed_can_be_limited_to_installations(client, session):
    for delivery, gh_id in (("a", 1), ("b", 2)):
        payload = pr_opened(gh_id)
        del payload["pull_request"]["number"]
        post_webhook(client, "pull_request", payload, delivery=delivery)
    processor.drain()
    assert processor.retry_failed(installation_gh_ids=[2]) == 1
    assert envelope(session, "a").status == "failed"
    assert envelope(session, "b").status == "pending"


def test_retry_delay_doubles_from_30_seconds():
    assert [processor.retry_delay(n).total_seconds() for n in range(1, 5)] == [30, 60, 120, 240]


def test_an_outcome_the_database_refused_is_written_by_the_next_drain(file_engine, db_file_url):
    # This engine's connections give up on a locked database after 50 ms instead of 5 s.
    sa.event.listen(file_engine, "connect",
                    lambda conn, _: conn.execute("PRAGMA busy_timeout=50"))
    file_engine.dispose()
    payload = load_webhook("pull_request", "opened")
    assert store_envelope("refused-1", "pull_request", payload)
    now = utcnow()
    envelope = envelopes.claim_next(now)
    blocker = sqlite3.connect(db_file_url.removeprefix("sqlite:///"))
    blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock: every write fails
    try:
        with pytest.raises(sa.exc.OperationalError):
            processor.process(envelope, now)
        [(status, claimed_by)] = blocker.execute(
            "SELECT status, claimed_by FROM webhook_events").fetchall()
        assert (status, claimed_by) == ("processing", claim_id())
    finally:
        blocker.rollback()
        blocker.close()

    assert processor.drain(now=now).processed == 0  # settles the retry; not due for 30 s
    [row] = table_rows(file_engine, "webhook_events")
    stored = dict(zip(WebhookEvent.__table__.columns.keys(), row, strict=True))
    assert (stored["status"], stored["attempts"], stored["claimed_by"]) == ("pending", 1, None)
    assert "locked" in stored["error_message"]

    assert processor.drain(now=now + dt.timedelta(seconds=31)).completed == 1
    assert processor.settle_outcomes() == 0  # nothing left to write, nothing written twice
    assert [r[0] for r in table_rows(file_engine, "events")] == [1]
