"""Job state transitions, the unblock job and the zombie sweep."""

from __future__ import annotations

import datetime as dt
import os
import socket

import pytest

from gitpulse_app.acquisition.sync import (
    block_job,
    claim_next_job,
    complete_job,
    fail_job,
    heartbeat,
)
from gitpulse_app.acquisition.sync.scheduled import sweep_zombie_jobs, unblock_jobs
from gitpulse_app.core.models import IngestionJob
from tests.acquisition.sync import factories as f
from tests.acquisition.sync.factories import NOW

pytestmark = pytest.mark.usefixtures("engine")

HOLDER = "worker-host:4242:77"
CURSOR = {"stage": "issues", "next_url": "https://api.github.com/x?page=3", "pending_prs": [],
          "stats_done": 0}


def one_job(**overrides: object) -> IngestionJob:
    source = f.installation()
    return f.job(f.batch(source, total_repos=1), **overrides)


def running_job(**overrides: object) -> IngestionJob:
    values = {"status": "running", "attempts": 1, "claimed_by": HOLDER, "heartbeat_at": NOW}
    return one_job(**(values | overrides))


def test_claim_takes_a_due_pending_job_atomically() -> None:
    job = one_job()
    claimed = claim_next_job(now=NOW, holder=HOLDER)
    assert claimed is not None and claimed.id == job.id
    stored = f.get(IngestionJob, job.id)
    assert (stored.status, stored.attempts, stored.claimed_by) == ("running", 1, HOLDER)
    assert stored.started_at == NOW and stored.heartbeat_at == NOW
    assert claim_next_job(now=NOW, holder="other:1:1") is None


def test_claim_waits_for_not_before() -> None:
    one_job(not_before=NOW + dt.timedelta(seconds=1))
    assert claim_next_job(now=NOW, holder=HOLDER) is None
    assert claim_next_job(now=NOW + dt.timedelta(seconds=1), holder=HOLDER) is not None


def test_claims_go_in_not_before_order_and_never_twice() -> None:
    source = f.installation()
    parent = f.batch(source, total_repos=3)
    later = f.job(parent, not_before=NOW - dt.timedelta(seconds=1))
    earliest = f.job(parent, not_before=NOW - dt.timedelta(seconds=5))
    f.job(parent, status="blocked")
    first = claim_next_job(now=NOW, holder="a:1:1")
    second = claim_next_job(now=NOW, holder="b:2:2")
    assert [first.id, second.id] == [earliest.id, later.id]
    assert claim_next_job(now=NOW, holder="c:3:3") is None


def test_a_reclaimed_job_keeps_its_first_start_time() -> None:
    job = one_job(started_at=NOW - dt.timedelta(hours=1), attempts=1, cursor=CURSOR)
    claimed = claim_next_job(now=NOW, holder=HOLDER)
    assert (claimed.started_at, claimed.attempts, claimed.cursor) == (
        NOW - dt.timedelta(hours=1), 2, CURSOR
    )
    assert claimed.id == job.id


def test_heartbeat_saves_cursor_progress_and_counters() -> None:
    job = running_job()
    later = NOW + dt.timedelta(seconds=30)
    assert heartbeat(job.id, CURSOR, 150, events_ingested=7, detail_requests=3, now=later)
    stored = f.get(IngestionJob, job.id)
    assert (stored.cursor, stored.progress, stored.heartbeat_at) == (CURSOR, 99, later)
    assert (stored.events_ingested, stored.detail_requests) == (7, 3)


def test_heartbeat_of_a_job_no_longer_running_or_held_elsewhere_is_refused() -> None:
    job = running_job()
    assert not heartbeat(job.id, progress=10, holder="someone:else:1", now=NOW)
    assert heartbeat(job.id, progress=10, holder=HOLDER, now=NOW)
    queued = one_job()
    assert not heartbeat(queued.id, progress=10, now=NOW)


def test_complete_sets_progress_100_and_counters() -> None:
    job = running_job(progress=60)
    assert complete_job(job.id, events_ingested=12, events_updated=2, duplicates=1, now=NOW)
    stored = f.get(IngestionJob, job.id)
    assert (stored.status, stored.progress, stored.completed_at) == ("completed", 100, NOW)
    assert (stored.events_ingested, stored.events_updated, stored.duplicates) == (12, 2, 1)
    assert not complete_job(job.id, now=NOW)  # a completed job is left untouched


def test_block_parks_the_job_until_the_reset_and_releases_the_claim() -> None:
    job = running_job()
    reset = NOW + dt.timedelta(minutes=20)
    assert block_job(job.id, reset, rate_limit_remaining=0, cursor=CURSOR, now=NOW)
    stored = f.get(IngestionJob, job.id)
    assert (stored.status, stored.blocked_until) == ("blocked", reset)
    assert stored.rate_limit_reset == reset
    assert (stored.rate_limit_remaining, stored.cursor, stored.claimed_by) == (0, CURSOR, None)


def test_fail_records_the_message_and_leaves_ended_jobs_alone() -> None:
    job = running_job()
    assert fail_job(job.id, "Repository not found or access revoked", now=NOW)
    stored = f.get(IngestionJob, job.id)
    assert stored.status == "failed"
    assert stored.error_message == "Repository not found or access revoked"
    assert not fail_job(job.id, "again", now=NOW)
    assert f.get(IngestionJob, job.id).error_message == "Repository not found or access revoked"


def test_blocked_job_returns_to_pending_once_blocked_until_passed() -> None:
    job = one_job(status="blocked", blocked_until=NOW + dt.timedelta(minutes=5), heartbeat_at=NOW)
    assert unblock_jobs(now=NOW + dt.timedelta(minutes=4)) == 0
    assert unblock_jobs(now=NOW + dt.timedelta(minutes=5)) == 1
    stored = f.get(IngestionJob, job.id)
    assert (stored.status, stored.blocked_until) == ("pending", None)
    assert claim_next_job(now=NOW + dt.timedelta(minutes=5), holder=HOLDER).id == job.id


def test_a_short_block_is_released_even_when_the_sweep_runs_late() -> None:
    job = one_job(status="blocked", blocked_until=NOW + dt.timedelta(minutes=5), heartbeat_at=NOW)
    assert unblock_jobs(now=NOW + dt.timedelta(days=2)) == 1
    assert f.get(IngestionJob, job.id).status == "pending"


def test_a_block_longer_than_24_hours_fails_the_job() -> None:
    job = one_job(status="blocked", blocked_until=NOW + dt.timedelta(hours=30), heartbeat_at=NOW)
    assert unblock_jobs(now=NOW + dt.timedelta(hours=23)) == 0
    assert f.get(IngestionJob, job.id).status == "blocked"
    assert unblock_jobs(now=NOW + dt.timedelta(hours=24, minutes=5)) == 0
    stored = f.get(IngestionJob, job.id)
    assert (stored.status, stored.error_message) == ("failed", "Rate limit block exceeded 24 h")


def test_unblock_handles_at_most_the_limit_per_run() -> None:
    source = f.installation()
    parent = f.batch(source, total_repos=3)
    for _ in range(3):
        f.job(parent, status="blocked", blocked_until=NOW, heartbeat_at=NOW)
    assert unblock_jobs(now=NOW, limit=2) == 2
    assert unblock_jobs(now=NOW, limit=2) == 1


def test_zombie_is_requeued_twice_with_its_cursor_then_failed() -> None:
    job = one_job(cursor=CURSOR)
    now = NOW
    for attempt in (1, 2):
        claimed = claim_next_job(now=now, holder=HOLDER)
        assert (claimed.id, claimed.attempts) == (job.id, attempt)
        now += dt.timedelta(minutes=11)
        assert sweep_zombie_jobs(now=now) == 1
        stored = f.get(IngestionJob, job.id)
        assert (stored.status, stored.cursor, stored.claimed_by) == ("pending", CURSOR, None)
    claim_next_job(now=now, holder=HOLDER)
    assert sweep_zombie_jobs(now=now + dt.timedelta(minutes=11)) == 1
    stored = f.get(IngestionJob, job.id)
    assert (stored.status, stored.error_message) == ("failed", "Job timed out (zombie detection)")


def test_a_recent_heartbeat_is_not_a_zombie() -> None:
    job = running_job(heartbeat_at=NOW - dt.timedelta(minutes=9))
    assert sweep_zombie_jobs(now=NOW) == 0
    assert f.get(IngestionJob, job.id).status == "running"


def test_a_running_job_that_never_beat_is_judged_by_its_creation_time() -> None:
    job = running_job(heartbeat_at=None, created_at=NOW - dt.timedelta(minutes=11))
    assert sweep_zombie_jobs(now=NOW) == 1
    assert f.get(IngestionJob, job.id).status == "pending"


def test_a_job_claimed_by_a_dead_holder_is_reclaimed_at_once() -> None:
    # This process's pid with another start time: a process on this host that no longer exists.
    dead_holder = f"{socket.gethostname()}:{os.getpid()}:0"
    job = running_job(claimed_by=dead_holder, heartbeat_at=NOW)
    assert sweep_zombie_jobs(now=NOW) == 1
    assert f.get(IngestionJob, job.id).status == "pending"


def test_a_fresh_claim_by_another_host_is_left_alone() -> None:
    job = running_job(claimed_by="elsewhere:1:1", heartbeat_at=NOW)
    assert sweep_zombie_jobs(now=NOW) == 0
    assert f.get(IngestionJob, job.id).status == "running"


def test_a_zombie_swept_by_a_clock_ahead_keeps_its_own_not_before() -> None:
    job = one_job(not_before=NOW - dt.timedelta(seconds=30), cursor=CURSOR)
    claim_next_job(now=NOW, holder=HOLDER)

    assert sweep_zombie_jobs(now=NOW + dt.timedelta(minutes=11)) == 1  # `tick --at now+11min`

    stored = f.get(IngestionJob, job.id)
    assert (stored.status, stored.not_before) == ("pending", NOW - dt.timedelta(seconds=30))
    # A process on the real clock (a minute later) claims it at once, not 11 minutes later.
    assert claim_next_job(now=NOW + dt.timedelta(minutes=1), holder=HOLDER).id == job.id


def test_an_unblocked_job_is_due_at_its_blocked_until_not_at_the_sweeping_clock() -> None:
    blocked_until = NOW + dt.timedelta(minutes=5)
    job = one_job(status="blocked", blocked_until=blocked_until, heartbeat_at=NOW)

    assert unblock_jobs(now=NOW + dt.timedelta(hours=2)) == 1  # a leader whose clock runs ahead

    assert f.get(IngestionJob, job.id).not_before == blocked_until
    assert claim_next_job(now=blocked_until - dt.timedelta(seconds=1), holder=HOLDER) is None
    assert claim_next_job(now=blocked_until, holder=HOLDER).id == job.id
