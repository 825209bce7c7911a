"""Batch finalisation: once all jobs ended, exactly once, with the source's outcome."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from gitpulse_app.acquisition.sync import (
    add_repo_to_running_batch,
    claim_next_job,
    complete_job,
    fail_job,
    finalize_batches,
    request_sync,
)
from gitpulse_app.core.models import Installation, SyncBatch
from gitpulse_app.core.signals import batch_finalized
from tests.acquisition.sync import factories as f
from tests.acquisition.sync.factories import NOW

pytestmark = pytest.mark.usefixtures("engine")
LATER = NOW + dt.timedelta(minutes=20)


@pytest.fixture
def finalized() -> Iterator[list[int]]:
    """The batch ids `batch_finalized` announced during the test."""
    seen: list[int] = []

    def receiver(batch_id: int, **_: object) -> None:  # also told the finaliser's clock
        seen.append(batch_id)

    batch_finalized.connect(receiver)
    yield seen
    batch_finalized.disconnect(receiver)


def test_nothing_happens_while_a_job_is_unfinished(finalized: list[int]) -> None:
    source = f.installation(sync_status="syncing")
    for unfinished in ("pending", "running", "blocked"):
        f.batch_with_jobs(f.installation(), ["completed", unfinished])
    f.batch_with_jobs(source, ["completed", "failed", "running"])
    assert finalize_batches(now=LATER) == 0
    assert finalized == []
    assert {b.status for b in f.all_rows(SyncBatch)} == {"running"}


def test_all_jobs_failed_fails_the_batch_and_marks_the_installation_error(
    finalized: list[int],
) -> None:
    last = NOW - dt.timedelta(days=1)
    source = f.installation(sync_status="syncing", last_synced_at=last)
    batch, _ = f.batch_with_jobs(source, ["failed", "failed"])
    assert finalize_batches(now=LATER) == 1
    stored = f.get(SyncBatch, batch.id)
    assert (stored.status, stored.failed_repos, stored.completed_repos) == ("failed", 2, 0)
    assert stored.completed_at == LATER
    inst = f.get(Installation, source.id)
    assert (inst.sync_status, inst.last_sync_error) == ("error", "2 repo(s) failed to sync")
    assert inst.last_synced_at == last
    assert finalized == [batch.id]


def test_one_failed_job_completes_the_batch_with_the_failure_counted() -> None:
    source = f.installation(sync_status="syncing")
    batch, _ = f.batch_with_jobs(source, ["completed", "failed", "completed"])
    finalize_batches(now=LATER)
    stored = f.get(SyncBatch, batch.id)
    assert (stored.status, stored.completed_repos, stored.failed_repos) == ("completed", 2, 1)
    inst = f.get(Installation, source.id)
    assert (inst.sync_status, inst.last_sync_error) == ("idle", "1 repo(s) failed to sync")
    assert inst.last_synced_at == batch.created_at


def test_counters_are_recomputed_from_the_jobs() -> None:
    source = f.installation(sync_status="syncing", last_sync_error="old")
    batch = f.batch(source, total_repos=2, completed_repos=99, events_ingested=1000)
    f.job(batch, status="completed", events_ingested=5)
    f.job(batch, status="completed", events_ingested=7)
    finalize_batches(now=LATER)
    stored = f.get(SyncBatch, batch.id)
    assert (stored.completed_repos, stored.failed_repos, stored.events_ingested) == (2, 0, 12)
    assert f.get(Installation, source.id).last_sync_error is None


def test_finalisation_happens_exactly_once(finalized: list[int]) -> None:
    batch, _ = f.batch_with_jobs(f.installation(), ["completed"])
    assert finalize_batches(now=LATER) == 1
    assert finalize_batches(now=LATER + dt.timedelta(minutes=1)) == 0
    assert finalized == [batch.id]
    assert f.get(SyncBatch, batch.id).completed_at == LATER


def test_the_last_job_ending_finalises_its_batch_at_once(finalized: list[int]) -> None:
    source, _owner = f.healthy_installation()
    result = request_sync(source.id, "webhook", now=NOW)
    first = f.get(SyncBatch, result.details["batch_id"])
    claimed = []
    while (job := claim_next_job(now=NOW, holder="w:1:1")) is not None:
        claimed.append(job)
    assert complete_job(claimed[0].id, now=NOW)
    assert finalized == []
    assert fail_job(claimed[1].id, "boom", now=NOW)
    assert finalized == [first.id]
    assert f.get(Installation, source.id).sync_status == "idle"
    assert finalize_batches(now=LATER) == 0


def test_a_repo_added_before_finalisation_keeps_the_batch_running() -> None:
    batch, _ = f.batch_with_jobs(f.installation(), ["completed"])
    added = add_repo_to_running_batch(batch.id, "acme/late", now=NOW)
    assert added is not None and added.status == "pending"
    assert finalize_batches(now=LATER) == 0
    assert f.get(SyncBatch, batch.id).total_repos == 2
    assert add_repo_to_running_batch(batch.id, "ACME/late", now=NOW) is None


def test_cron_batch_records_reconciliation_and_counts_missed_facts() -> None:
    source = f.installation(sync_status="syncing", recovery_attempts=1)
    other = f.installation()
    actor, repo = f.user(), f.repo()
    batch, _ = f.batch_with_jobs(source, ["completed"], trigger="cron")
    during = NOW + dt.timedelta(minutes=5)
    old = NOW - dt.timedelta(hours=2)
    f.event(source, actor, repo, ts=old, created_at=during)  # missed by webhooks: counts
    f.event(source, actor, repo, ts=old, created_at=during, type="commit")  # counts
    f.event(source, actor, repo, ts=NOW - dt.timedelta(minutes=10), created_at=during)  # too recent
    f.event(source, actor, repo, ts=old, created_at=during, observed_via="webhook")  # not ours
    f.event(source, actor, repo, ts=old, created_at=NOW - dt.timedelta(minutes=1))  # before
    f.event(other, actor, repo, ts=old, created_at=during)  # another installation
    finalize_batches(now=LATER)
    assert f.get(SyncBatch, batch.id).missed_facts == 2
    inst = f.get(Installation, source.id)
    assert (inst.recovery_attempts, inst.last_reconciled_at) == (2, LATER)


def test_cron_batch_without_missed_facts_resets_recovery_attempts() -> None:
    source = f.installation(sync_status="syncing", recovery_attempts=4)
    f.batch_with_jobs(source, ["completed"], trigger="cron")
    finalize_batches(now=LATER)
    inst = f.get(Installation, source.id)
    assert (inst.recovery_attempts, inst.last_reconciled_at) == (0, LATER)


def test_non_cron_batches_leave_reconciliation_alone() -> None:
    source = f.installation(sync_status="syncing", recovery_attempts=4)
    f.batch_with_jobs(source, ["completed"], trigger="manual")
    finalize_batches(now=LATER)
    inst = f.get(Installation, source.id)
    assert (inst.recovery_attempts, inst.last_reconciled_at) == (4, None)


def test_the_finalize_job_emits_the_facts_stored_in_the_last_minute(caplog) -> None:
    source, owner = f.healthy_installation()
    where = f.repo()
    for seconds_ago in (0, 30, 59, 60, 61, 600):
        f.event(source, owner, where, created_at=NOW - dt.timedelta(seconds=seconds_ago))
    f.event(source, owner, where, created_at=NOW + dt.timedelta(seconds=1))  # after the window

    with caplog.at_level("INFO", logger="gitpulse.metrics"):
        finalize_batches(now=NOW)

    (line,) = [r for r in caplog.records
               if getattr(r, "metric", None) == "events_ingested_per_min"]
    assert line.value == 3 and line.window_end == NOW.isoformat()
