"""The sync status view model and the integration status."""

from __future__ import annotations

import datetime as dt

import pytest

from gitpulse_app.acquisition.sync.status import (
    estimate_eta_seconds,
    installation_sync_status,
    integration_status,
    normalize_sync_error,
    sync_statuses_for_user,
)
from gitpulse_app.core.models import Installation, User
from tests.acquisition.sync import factories as f
from tests.acquisition.sync.factories import NOW

GITHUB = "https://ghe.example.test/"
RATE_LIMITED = "GitHub API rate limit reached. Sync will resume automatically."
AUTH_FAILED = "GitHub authentication failed. Please reconnect your account."


def status_of(source: Installation, viewer: User, now: dt.datetime = NOW):
    view = installation_sync_status(source.id, user_id=viewer.id, github_url=GITHUB, now=now)
    assert view is not None
    return view


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (None, None),
        ("GitHub API rate limit reached", RATE_LIMITED),
        ("Secondary RATE LIMIT hit", RATE_LIMITED),
        ("Bad credentials: token expired", AUTH_FAILED),
        ("GitHub API error (401): Unauthorized", AUTH_FAILED),
        ("network unreachable", "Connection to GitHub failed. Please try again."),
        ("fetch failed", "Connection to GitHub failed. Please try again."),
        ("read timeout", "Connection to GitHub failed. Please try again."),
        ("TypeError: x is undefined", "Sync encountered an error. Please try again."),
        ("x" * 101, "Sync encountered an error. Please try again."),
        ("1 repo(s) failed to sync", "1 repo(s) failed to sync"),
        ("x" * 100, "x" * 100),
    ],
)
def test_sync_errors_are_normalised(raw: str | None, shown: str | None) -> None:
    assert normalize_sync_error(raw) == shown


def test_eta_is_estimating_below_five_percent() -> None:
    assert estimate_eta_seconds(dt.timedelta(minutes=10), 0.049, now=NOW) is None


def test_eta_extrapolates_the_pace_so_far() -> None:
    assert estimate_eta_seconds(dt.timedelta(seconds=100), 0.25, now=NOW) == 300
    assert estimate_eta_seconds(dt.timedelta(seconds=100), 1.0, now=NOW) == 0


def test_eta_is_never_less_than_the_wait_for_blocked_until() -> None:
    wait = NOW + dt.timedelta(minutes=30)
    assert estimate_eta_seconds(dt.timedelta(seconds=100), 0.5, blocked_until=wait, now=NOW) == 1800


@pytest.mark.usefixtures("engine")
def test_idle_installation_can_sync_now() -> None:
    source, owner = f.healthy_installation()
    view = status_of(source, owner)
    assert (view.state, view.can_sync_now, view.cooldown_ms, view.batch_progress) == (
        "idle", True, None, None
    )
    assert view.policy_message == "Sync started"
    assert view.last_synced_at == source.last_synced_at


@pytest.mark.usefixtures("engine")
def test_cooldown_is_reported_only_while_it_applies() -> None:
    source, owner = f.healthy_installation(last_manual_sync_at=NOW - dt.timedelta(minutes=50))
    view = status_of(source, owner)
    assert (view.can_sync_now, view.cooldown_ms) == (False, 10 * 60_000)
    assert view.policy_message == "Please wait 10 minutes before syncing again"


@pytest.mark.usefixtures("engine")
def test_rate_limited_installation_reports_blocked_until() -> None:
    reset = NOW + dt.timedelta(minutes=12)
    source, owner = f.healthy_installation(rate_limit_remaining=10, rate_limit_reset=reset)
    view = status_of(source, owner)
    assert (view.can_sync_now, view.blocked_until, view.cooldown_ms) == (False, reset, None)


@pytest.mark.usefixtures("engine")
def test_state_precedence_recovering_blocked_finishing_syncing_error_idle() -> None:
    cases = [
        ("recovery", ["blocked", "running"], "recovering"),
        ("manual", ["blocked", "completed", "running"], "blocked"),
        ("manual", ["completed", "failed"], "finishing"),
        ("manual", ["completed", "running", "pending"], "syncing"),
    ]
    for trigger, statuses, state in cases:
        source, owner = f.healthy_installation(sync_status="syncing")
        f.batch_with_jobs(source, statuses, trigger=trigger)
        view = status_of(source, owner)
        assert view.state == state, statuses
        assert view.can_sync_now is False
    errored, owner = f.healthy_installation(
        sync_status="error", last_sync_error="2 repo(s) failed to sync"
    )
    assert status_of(errored, owner).state == "error"
    assert status_of(errored, owner).last_sync_error == "2 repo(s) failed to sync"


@pytest.mark.usefixtures("engine")
def test_batch_progress_counts_jobs_and_estimates_the_rest() -> None:
    source, owner = f.healthy_installation(sync_status="syncing")
    started = NOW - dt.timedelta(minutes=10)
    batch = f.batch(source, total_repos=4, created_at=started)
    f.job(batch, status="completed", events_ingested=5, repo_full_name="acme/a")
    f.job(batch, status="failed", repo_full_name="acme/b")
    f.job(batch, status="running", progress=50, events_ingested=2, repo_full_name="acme/c",
          heartbeat_at=NOW)
    f.job(batch, status="pending", repo_full_name="acme/d")
    progress = status_of(source, owner).batch_progress
    assert (progress.total, progress.completed, progress.failed) == (4, 1, 1)
    assert (progress.events_ingested, progress.current_repo, progress.percent) == (7, "acme/c", 50)
    assert progress.started_at == started
    # done = (1 + 1 + 0.5) / 4 = 0.625 → 600 s · 0.375 / 0.625 = 360 s
    assert progress.eta_seconds == 360 and progress.eta_label == "6 min"


@pytest.mark.usefixtures("engine")
def test_batch_progress_percent_rounds_half_up_and_waits_while_estimating() -> None:
    source, owner = f.healthy_installation(sync_status="syncing")
    batch = f.batch(source, total_repos=40, created_at=NOW - dt.timedelta(minutes=1))
    f.job(batch, status="completed")
    for _ in range(39):
        f.job(batch, status="pending")
    progress = status_of(source, owner).batch_progress
    assert progress.percent == 3  # 2.5 rounds up
    assert (progress.eta_seconds, progress.eta_label) == (None, "Estimating…")


@pytest.mark.usefixtures("engine")
def test_blocked_batch_eta_is_at_least_the_wait() -> None:
    source, owner = f.healthy_installation(sync_status="syncing")
    wait = NOW + dt.timedelta(hours=1)
    batch = f.batch(source, total_repos=2, created_at=NOW - dt.timedelta(seconds=10))
    f.job(batch, status="completed")
    f.job(batch, status="blocked", blocked_until=wait)
    view = status_of(source, owner)
    assert (view.state, view.blocked_until) == ("blocked", wait)
    assert view.batch_progress.eta_seconds == 3600


@pytest.mark.usefixtures("engine")
def test_escalation_links_to_the_app_installation_settings() -> None:
    source, owner = f.healthy_installation(recovery_attempts=3, gh_installation_id=987)
    escalation = status_of(source, owner).escalation
    assert escalation.message == "GitHub webhooks may have stopped. Check App installation."
    assert escalation.url == "https://ghe.example.test/settings/installations/987"
    calm, owner2 = f.healthy_installation(recovery_attempts=2)
    assert status_of(calm, owner2).escalation is None


@pytest.mark.usefixtures("engine")
def test_last_completed_sync_is_shown_for_30_seconds() -> None:
    source, owner = f.healthy_installation()
    done = f.batch(source, status="completed", completed_at=NOW - dt.timedelta(seconds=20),
                   completed_repos=2, events_ingested=9)
    recent = status_of(source, owner).last_completed_sync
    assert (recent.batch_id, recent.completed_repos, recent.events_ingested) == (done.id, 2, 9)
    assert status_of(source, owner, NOW + dt.timedelta(seconds=11)).last_completed_sync is None


@pytest.mark.usefixtures("engine")
def test_status_is_only_for_installations_the_user_can_see() -> None:
    source, owner = f.healthy_installation()
    gone, _ = f.healthy_installation(status="deleted")
    f.link(owner, gone)
    stranger = f.user()
    assert installation_sync_status(source.id, user_id=stranger.id, github_url=GITHUB) is None
    assert installation_sync_status(gone.id, user_id=owner.id, github_url=GITHUB) is None
    views = sync_statuses_for_user(owner.id, github_url=GITHUB, now=NOW)
    assert [view.installation_id for view in views] == [source.id]
    assert sync_statuses_for_user(stranger.id, github_url=GITHUB, now=NOW) == []


@pytest.mark.usefixtures("engine")
def test_integration_status_in_order() -> None:
    assert integration_status(None).state == "unauthenticated"
    identity_only = f.user(signed_up_at=None)
    assert integration_status(identity_only.id, now=NOW).state == "unauthenticated"
    person = f.user()
    assert integration_status(person.id, now=NOW).state == "missing_installation"
    source = f.installation()
    f.link(person, source)
    assert integration_status(person.id, now=NOW).state == "no_events"
    fact_ts = NOW - dt.timedelta(days=3, minutes=1)
    f.event(source, person, f.repo(), ts=fact_ts)
    stale = integration_status(person.id, now=NOW)
    assert (stale.state, stale.last_event_at) == ("stale_events", fact_ts)
    f.event(source, person, f.repo(), ts=NOW - dt.timedelta(days=2))
    assert integration_status(person.id, now=NOW).state == "healthy"
