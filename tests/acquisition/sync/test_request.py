"""Sync requests: `request_sync` and the CLI's variant."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from gitpulse_app.acquisition.sync import request_sync
from gitpulse_app.core.models import IngestionJob, Installation, SyncBatch
from tests.acquisition.sync import factories as f
from tests.acquisition.sync.factories import NOW

pytestmark = pytest.mark.usefixtures("engine")


def jobs_of(batch_id: int) -> list[IngestionJob]:
    return f.all_rows(IngestionJob, batch_id=batch_id)


@pytest.mark.parametrize("trigger", ["manual", "webhook", "cron", "maintenance", "recovery"])
def test_every_trigger_starts_on_a_healthy_installation(trigger: str) -> None:
    source, _owner = f.healthy_installation()
    result = request_sync(source.id, trigger, now=NOW)
    assert result.started and result.message == "Sync started"
    batch = f.get(SyncBatch, result.details["batch_id"])
    assert (batch.status, batch.trigger, batch.total_repos) == ("running", trigger, 2)
    assert [job.repo_full_name for job in jobs_of(batch.id)] == f.REPOS
    assert {job.status for job in jobs_of(batch.id)} == {"pending"}
    assert f.get(Installation, source.id).sync_status == "syncing"


def test_missing_installation_is_not_found() -> None:
    result = request_sync(424242, "webhook", now=NOW)
    assert not result.started
    assert result.message == "Installation not found"


def test_user_without_a_link_gets_the_same_looking_not_found() -> None:
    source, _owner = f.healthy_installation()
    stranger = f.user()
    for installation_id in (source.id, 424242):
        result = request_sync(installation_id, "manual", user_id=stranger.id, now=NOW)
        assert not result.started
        assert result.message == "Installation not found or not authorized"
    assert f.all_rows(SyncBatch) == []


def test_deleted_installation_is_not_found_for_its_former_user() -> None:
    source, owner = f.healthy_installation(status="deleted")
    result = request_sync(source.id, "manual", user_id=owner.id, now=NOW)
    assert result.message == "Installation not found or not authorized"


def test_demo_installation_never_syncs() -> None:
    source, owner = f.healthy_installation(kind="demo")
    result = request_sync(source.id, "manual", user_id=owner.id, now=NOW)
    assert not result.started
    assert result.message == "The demo workspace does not sync with GitHub"


def test_running_batch_means_not_started_with_its_id() -> None:
    source, owner = f.healthy_installation()
    running = f.batch(source)
    result = request_sync(source.id, "manual", user_id=owner.id, now=NOW)
    assert not result.started
    assert result.message == "A sync is already in progress"
    assert result.details["batch_id"] == running.id


def test_stale_syncing_status_without_a_batch_is_reset_and_the_sync_starts() -> None:
    source, owner = f.healthy_installation(sync_status="syncing")
    result = request_sync(source.id, "manual", user_id=owner.id, now=NOW)
    assert result.started


def test_stale_syncing_status_is_reset_to_idle_even_when_the_policy_refuses() -> None:
    source = f.installation(sync_status="syncing")
    result = request_sync(source.id, "webhook", now=NOW)
    assert result.message == "Installation not configured"
    assert f.get(Installation, source.id).sync_status == "idle"


def test_rate_limited_request_marks_the_installation_with_the_reset() -> None:
    reset = NOW + dt.timedelta(minutes=40)
    source, owner = f.healthy_installation(rate_limit_remaining=50, rate_limit_reset=reset)
    result = request_sync(source.id, "manual", user_id=owner.id, now=NOW)
    assert not result.started
    assert result.details == {"reason": "rate_limited", "blocked_until": reset.isoformat()}
    stored = f.get(Installation, source.id)
    assert (stored.sync_status, stored.next_sync_at) == ("rate_limited", reset)


def test_cooldown_is_reported_with_the_remaining_time() -> None:
    source, owner = f.healthy_installation(last_manual_sync_at=NOW - dt.timedelta(minutes=20))
    result = request_sync(source.id, "manual", user_id=owner.id, now=NOW)
    assert not result.started
    assert result.message == "Please wait 40 minutes before syncing again"
    assert result.details["cooldown_ms"] == 40 * 60_000


def test_a_users_manual_request_starts_the_cooldown_and_clears_the_last_error() -> None:
    source, owner = f.healthy_installation(last_sync_error="2 repo(s) failed to sync")
    assert request_sync(source.id, "manual", user_id=owner.id, now=NOW).started
    stored = f.get(Installation, source.id)
    assert stored.last_manual_sync_at == NOW
    assert stored.last_sync_error is None


def test_automatic_requests_do_not_start_the_manual_cooldown() -> None:
    source, _owner = f.healthy_installation()
    assert request_sync(source.id, "webhook", now=NOW).started
    assert f.get(Installation, source.id).last_manual_sync_at is None


def test_since_is_one_hour_before_the_last_sync() -> None:
    last = NOW - dt.timedelta(hours=5)
    source, _owner = f.healthy_installation(last_synced_at=last)
    result = request_sync(source.id, "webhook", now=NOW)
    batch = f.get(SyncBatch, result.details["batch_id"])
    assert batch.since == last - dt.timedelta(hours=1)
    assert {job.since for job in jobs_of(batch.id)} == {last - dt.timedelta(hours=1)}


def test_since_is_thirty_days_back_when_never_synced_or_forced() -> None:
    never, _ = f.healthy_installation(last_synced_at=None)
    forced, _ = f.healthy_installation()
    for source, force_full in ((never, False), (forced, True)):
        result = request_sync(source.id, "webhook", force_full=force_full, now=NOW)
        assert f.get(SyncBatch, result.details["batch_id"]).since == NOW - dt.timedelta(days=30)


def test_explicit_since_and_until_are_kept() -> None:
    source, _owner = f.healthy_installation()
    since, until = NOW - dt.timedelta(days=3), NOW - dt.timedelta(days=1)
    result = request_sync(source.id, "webhook", since=since, until=until, force_full=True, now=NOW)
    batch = f.get(SyncBatch, result.details["batch_id"])
    assert (batch.since, batch.until) == (since, until)
    assert {(job.since, job.until) for job in jobs_of(batch.id)} == {(since, until)}


def test_45_repos_become_due_in_groups_of_20_one_second_apart() -> None:
    repos = [f"acme/r{i:02d}" for i in range(45)]
    source, _owner = f.healthy_installation(repositories=repos)
    result = request_sync(source.id, "webhook", now=NOW)
    jobs = jobs_of(result.details["batch_id"])
    offsets = [(job.not_before - NOW).total_seconds() for job in jobs]
    assert offsets == [0] * 20 + [1] * 20 + [2] * 5


def test_repos_subset_limits_the_jobs_to_syncable_repos() -> None:
    source, _owner = f.healthy_installation(repositories=["acme/a", "acme/b", "acme/c"])
    result = request_sync(source.id, "webhook", repos=["acme/C", "other/x"], now=NOW)
    assert [job.repo_full_name for job in jobs_of(result.details["batch_id"])] == ["acme/c"]


def test_repos_subset_without_a_syncable_repo_does_not_start() -> None:
    source, _owner = f.healthy_installation()
    result = request_sync(source.id, "webhook", repos=["other/x"], now=NOW)
    assert not result.started
    assert result.message == "No repositories selected for sync"
    assert f.all_rows(SyncBatch) == []


def test_app_repos_untracked_by_every_linked_user_are_not_synced() -> None:
    source, owner = f.healthy_installation(repositories=["acme/a", "acme/b", "acme/c"])
    viewer = f.user()
    f.link(viewer, source, role="viewer")
    f.track(owner, source, "acme/a", tracked=False)
    f.track(owner, source, "acme/b", tracked=False)
    f.track(viewer, source, "acme/b", tracked=False)
    result = request_sync(source.id, "webhook", now=NOW)
    synced = [job.repo_full_name for job in jobs_of(result.details["batch_id"])]
    assert synced == ["acme/a", "acme/c"]


def test_pat_sources_sync_only_explicitly_tracked_repos() -> None:
    source, owner = f.healthy_installation(kind="pat", gh_installation_id=None, repositories=[])
    refused = request_sync(source.id, "webhook", now=NOW)
    assert refused.message == "No repositories selected for sync"
    f.track(owner, source, "solo/tool", tracked=True)
    f.track(owner, source, "solo/old", tracked=False)
    result = request_sync(source.id, "webhook", now=NOW)
    assert [job.repo_full_name for job in jobs_of(result.details["batch_id"])] == ["solo/tool"]


def test_cli_skips_link_and_cooldown_and_covers_the_whole_repository_list() -> None:
    source = f.installation(last_manual_sync_at=NOW - dt.timedelta(minutes=5))
    result = request_sync(source.id, "manual", cli=True, now=NOW)
    assert result.started
    assert [job.repo_full_name for job in jobs_of(result.details["batch_id"])] == f.REPOS
    assert f.get(Installation, source.id).last_manual_sync_at == NOW - dt.timedelta(minutes=5)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"status": "suspended"}, "GitHub App installation is suspended or removed"),
        ({"rate_limit_remaining": 3, "rate_limit_reset": NOW + dt.timedelta(minutes=9)},
         "GitHub API rate limit reached. Please try again later."),
    ],
    ids=["inactive", "rate_limited"],
)
def test_cli_is_still_stopped_by_inactive_and_rate_limited(overrides: dict, message: str) -> None:
    source = f.installation(**overrides)
    result = request_sync(source.id, "manual", cli=True, now=NOW)
    assert (result.started, result.message) == (False, message)


def test_cli_repo_nobody_tracks_starts() -> None:
    source, owner = f.healthy_installation(kind="env_pat", gh_installation_id=None, repositories=[])
    result = request_sync(source.id, "manual", repos=["far/away"], cli=True, now=NOW)
    assert result.started
    assert [job.repo_full_name for job in jobs_of(result.details["batch_id"])] == ["far/away"]


def test_cli_repo_missing_from_the_running_batch_is_added_to_it() -> None:
    source, _owner = f.healthy_installation()
    first = request_sync(source.id, "webhook", now=NOW)
    later = NOW + dt.timedelta(minutes=1)
    result = request_sync(source.id, "manual", repos=["acme/extra"], cli=True, now=later)
    assert result.started
    assert result.details["batch_id"] == first.details["batch_id"]
    assert result.details["added_repos"] == ["acme/extra"]
    jobs = jobs_of(first.details["batch_id"])
    assert [job.repo_full_name for job in jobs] == [*f.REPOS, "acme/extra"]
    assert jobs[-1].not_before == later
    assert f.get(SyncBatch, first.details["batch_id"]).total_repos == 3
    assert len(f.all_rows(SyncBatch)) == 1


def test_cli_repo_already_in_the_running_batch_is_refused_with_its_id() -> None:
    source, _owner = f.healthy_installation()
    first = request_sync(source.id, "webhook", now=NOW)
    result = request_sync(source.id, "manual", repos=["ACME/api"], cli=True, now=NOW)
    assert not result.started
    assert result.message == "A sync is already in progress"
    assert result.details["batch_id"] == first.details["batch_id"]


def test_a_failure_while_starting_marks_the_installation_error() -> None:
    source, owner = f.healthy_installation()
    naive_since = dt.datetime(2025, 12, 1)  # refused by the column type on write
    result = request_sync(source.id, "manual", since=naive_since, user_id=owner.id, now=NOW)
    assert (result.started, result.message) == (False, "Sync failed to start. Please try again.")
    assert f.get(Installation, source.id).sync_status == "error"
    assert f.all_rows(SyncBatch) == []


def test_every_request_emits_the_sync_request_metric(caplog: pytest.LogCaptureFixture) -> None:
    source, owner = f.healthy_installation()
    with caplog.at_level(logging.INFO, logger="gitpulse.metrics"):
        request_sync(source.id, "manual", user_id=owner.id, now=NOW)
        request_sync(source.id, "manual", user_id=owner.id, now=NOW)
        request_sync(424242, "cron", now=NOW)
    lines = [
        (r.installation_id, r.trigger, r.result)
        for r in caplog.records
        if getattr(r, "metric", None) == "sync.request"
    ]
    assert lines == [
        (source.id, "manual", "started"),
        (source.id, "manual", "already_running"),
        (424242, "cron", "not_found"),
    ]


def test_a_second_request_after_the_first_finished_starts_again() -> None:
    source, _owner = f.healthy_installation()
    first = request_sync(source.id, "webhook", now=NOW)
    f.change(SyncBatch, first.details["batch_id"], status="completed")
    assert request_sync(source.id, "webhook", now=NOW).started
