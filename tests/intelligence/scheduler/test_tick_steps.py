"""The tick's other steps: sweeps, drains, syncs, daily slot jobs, finalisation — all
on the injected clock."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from gitpulse_app.acquisition.sync.lifecycle import block_job, claim_next_job
from gitpulse_app.acquisition.sync.service import request_sync
from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.models import (
    AuthSession,
    EmbeddingQueueItem,
    IngestionJob,
    Installation,
    ReportRegeneration,
    SyncBatch,
    WebhookEvent,
)
from gitpulse_app.intelligence.scheduler import run_tick
from gitpulse_app.intelligence.scheduler.tick import slot_of
from tests.intelligence.scheduler.conftest import utc

T0 = utc(2025, 12, 5, 12, 0)


def make_due_for_sync(session, installation_id: int, **fields) -> None:
    session.execute(sa.update(Installation).where(Installation.id == installation_id)
                    .values(**fields))
    session.commit()


def start_batch(town, session, at: dt.datetime) -> int:
    town.user("sy", "UTC")
    installation_id = session.scalar(sa.select(Installation.id))
    result = request_sync(installation_id, "manual", cli=True, now=at)
    assert result.started, result.message
    return result.details["batch_id"]


def test_slot_is_the_instant_floored_to_fifteen_minutes():
    assert slot_of(utc(2025, 12, 5, 2, 15)) == dt.time(2, 15)
    assert slot_of(utc(2025, 12, 5, 2, 29, 59)) == dt.time(2, 15)
    assert slot_of(dt.datetime(2025, 12, 5, 4, 45, tzinfo=dt.timezone(dt.timedelta(hours=1)))) \
        == dt.time(3, 45)


def test_a_zombie_job_is_requeued_by_a_tick_eleven_minutes_later(town, session):
    batch_id = start_batch(town, session, T0)
    job = claim_next_job(now=T0, holder="elsewhere:1:1")
    assert job is not None and job.batch_id == batch_id

    assert run_tick(T0 + dt.timedelta(minutes=5)).zombies == 0
    result = run_tick(T0 + dt.timedelta(minutes=11))

    assert result.zombies == 1
    session.expire_all()
    assert session.get(IngestionJob, job.id).status == "pending"


def test_the_tick_requests_syncs_but_runs_no_ingestion_job(town, session):
    town.user("rec", "UTC")
    make_due_for_sync(session, session.scalar(sa.select(Installation.id)),
                      last_reconciled_at=None)

    result = run_tick(T0)

    assert result.syncs_requested == 1
    batch = session.scalars(sa.select(SyncBatch)).one()
    assert (batch.trigger, batch.status, batch.created_at) == ("cron", "running", T0)
    assert {job.status for job in session.scalars(sa.select(IngestionJob))} == {"pending"}


def test_a_blocked_job_past_its_reset_is_unblocked(town, session):
    start_batch(town, session, T0)
    job = claim_next_job(now=T0, holder="elsewhere:1:1")
    block_job(job.id, T0 + dt.timedelta(minutes=20), holder="elsewhere:1:1", now=T0)

    assert run_tick(T0 + dt.timedelta(minutes=15)).unblocked == 0
    result = run_tick(T0 + dt.timedelta(minutes=30))

    assert result.unblocked == 1
    session.expire_all()
    assert session.get(IngestionJob, job.id).status == "pending"


def test_a_batch_whose_jobs_all_ended_is_finalized(town, session):
    batch_id = start_batch(town, session, T0)
    # Its worker died between ending the job and finalising the batch.
    session.execute(sa.update(IngestionJob).values(status="completed", completed_at=T0))
    session.commit()

    result = run_tick(T0 + dt.timedelta(minutes=15))

    assert result.batches_finalized == 1
    session.expire_all()
    assert session.get(SyncBatch, batch_id).status == "completed"


def test_catch_up_syncs_run_only_in_the_0430_tick(town, session):
    town.user("late", "UTC")
    make_due_for_sync(session, session.scalar(sa.select(Installation.id)),
                      last_synced_at=T0 - dt.timedelta(days=3))

    assert run_tick(utc(2025, 12, 5, 4, 15)).syncs_requested == 0
    result = run_tick(utc(2025, 12, 5, 4, 30))

    assert result.syncs_requested == 1 and result.slots == ["04:30"]
    assert session.scalars(sa.select(SyncBatch.trigger)).all() == ["maintenance"]


def test_installation_reconcile_without_an_app_is_skipped_cleanly(town):
    result = run_tick(utc(2025, 12, 5, 2, 15))

    assert result.slots == ["02:15"] and result.failed_steps == []


def envelope(delivery: str, status: str, **times: dt.datetime) -> WebhookEvent:
    return WebhookEvent(delivery_id=delivery, event="ping", status=status, payload={}, **times)


def test_retention_runs_in_the_0345_tick(session):
    at = utc(2025, 12, 5, 3, 45)
    old = at - dt.timedelta(days=31)
    session.add_all([
        envelope("old-done", "completed", received_at=old, processed_at=old),
        envelope("new-done", "completed", received_at=at, processed_at=at),
        envelope("old-failed", "failed", received_at=old, updated_at=old),
        AuthSession(token_hash="a" * 64, user_id=1, expires_at=at - dt.timedelta(minutes=1)),
        AuthSession(token_hash="b" * 64, user_id=1, expires_at=at + dt.timedelta(days=1)),
        ReportRegeneration(user_id=1, kind="daily", start_date=old, end_date=old,
                           status="completed", created_at=old),
    ])
    session.commit()

    assert run_tick(utc(2025, 12, 5, 3, 30)).slots == []
    assert session.scalar(sa.select(sa.func.count()).select_from(WebhookEvent)) == 3
    result = run_tick(at)

    assert result.slots == ["03:45"]
    session.expire_all()
    assert sorted(session.scalars(sa.select(WebhookEvent.delivery_id))) == ["new-done",
                                                                          "old-failed"]
    assert session.scalars(sa.select(AuthSession.token_hash)).all() == ["b" * 64]
    assert session.scalars(sa.select(ReportRegeneration)).all() == []


def test_failed_primary_embedding_rows_are_reset_in_the_0345_tick(town, session):
    user = town.user("emb", "UTC", daily_reports_enabled=False, weekly_reports_enabled=False)
    town.facts(user, [T0])
    session.execute(sa.update(EmbeddingQueueItem).values(status="failed", attempts=5))
    session.commit()

    run_tick(utc(2025, 12, 5, 3, 30))
    assert session.scalar(sa.select(EmbeddingQueueItem.status)) == "failed"
    result = run_tick(utc(2025, 12, 5, 3, 45))

    # Reset to pending, then embedded by the drain of the same tick.
    assert result.embeddings_processed == 1
    assert session.scalar(sa.select(sa.func.count()).select_from(EmbeddingQueueItem)) == 0


def test_drains_process_due_envelopes_and_embed_new_facts(town, session):
    user = town.user("dr", "UTC", daily_reports_enabled=False, weekly_reports_enabled=False)
    town.facts(user, [T0 - dt.timedelta(hours=1), T0 - dt.timedelta(hours=2)])
    # Facts are queued for embedding at the real time of their ingest.
    at = utcnow() + dt.timedelta(minutes=1)
    session.add(envelope("due", "pending", next_attempt_at=at, received_at=at))
    session.add(envelope("later", "pending", next_attempt_at=at + dt.timedelta(hours=1),
                         received_at=at))
    session.commit()

    result = run_tick(at)

    assert (result.webhooks_processed, result.embeddings_processed) == (1, 2)
    statuses = dict(session.execute(
        sa.select(WebhookEvent.delivery_id, WebhookEvent.status)).all())
    assert statuses == {"due": "completed", "later": "pending"}


def test_a_stale_envelope_claim_is_reclaimed_and_processed_in_the_same_tick(session):
    session.add(envelope("stuck", "processing", next_attempt_at=T0, received_at=T0,
                         updated_at=T0))
    session.commit()

    result = run_tick(T0 + dt.timedelta(minutes=11))

    assert (result.zombies, result.webhooks_processed) == (1, 1)
    assert session.scalar(sa.select(WebhookEvent.status)) == "completed"


def test_every_timestamp_the_tick_writes_comes_from_the_injected_clock(town, session):
    user = town.user("clock", "Asia/Kolkata", onboarded=utc(2020, 3, 1))
    town.facts(user, [utc(2020, 3, 3, 12)])
    at = utc(2020, 3, 4, 18, 30)

    run_tick(at)

    report = town.reports(user, "daily")[-1]
    # (reports.updated_at of a new row still takes the real time: reports.save, not ours)
    assert (report.generated_at, report.created_at) == (at, at)
    assert {row.created_at for row in town.history()} == {at}
    regeneration_times = session.execute(
        sa.select(ReportRegeneration.created_at, ReportRegeneration.updated_at,
                  ReportRegeneration.completed_at)).all()
    assert {value for row in regeneration_times for value in row} == {at}


def test_a_scheduled_report_is_emailed_by_the_tick_that_made_it_and_only_once(
        town, configure, fake_smtp):
    configure(SMTP_URL=fake_smtp.smtp_url(), GITPULSE_BASE_URL="https://gitpulse.example.com")
    user = town.user("mae", "UTC", email="mae@example.com", daily_enabled_at=utc(2025, 12, 5),
                     weekly_reports_enabled=False)
    town.facts(user, [utc(2025, 12, 5, 9)])

    first = run_tick(utc(2025, 12, 6, 0, 0))
    again = run_tick(utc(2025, 12, 6, 0, 0))

    assert (first.emails_sent, again.emails_sent) == (1, 0)
    [message] = fake_smtp.messages
    assert "GitPulse daily standup — December 5, 2025" in str(message.subject)
