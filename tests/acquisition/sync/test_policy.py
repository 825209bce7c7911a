"""The pure sync policy."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from gitpulse_app.acquisition.sync.models import InstallationSnapshot, PolicyDecision
from gitpulse_app.acquisition.sync.policy import cooldown_message, evaluate_policy

NOW = dt.datetime(2025, 12, 5, 15, 0, tzinfo=dt.UTC)
HEALTHY = InstallationSnapshot(last_synced_at=NOW - dt.timedelta(hours=2))
TRIGGERS = ["manual", "webhook", "cron", "maintenance", "recovery"]


def decide(
    snapshot: InstallationSnapshot = HEALTHY,
    trigger: str = "manual",
    *,
    linked: int = 1,
    repos: int = 2,
    user_initiated: bool = True,
    cli: bool = False,
    now: dt.datetime = NOW,
) -> PolicyDecision:
    return evaluate_policy(
        snapshot,
        trigger,
        now=now,
        linked_user_count=linked,
        syncable_repo_count=repos,
        user_initiated=user_initiated,
        skip_user_checks=cli,
    )


def snapshot(**changes: object) -> InstallationSnapshot:
    return dataclasses.replace(HEALTHY, **changes)


@pytest.mark.parametrize("trigger", TRIGGERS)
def test_every_trigger_starts_on_a_healthy_installation(trigger: str) -> None:
    decision = decide(trigger=trigger)
    assert decision == PolicyDecision(allowed=True, reason=None, message="Sync started")


def test_unknown_trigger_is_refused_loudly() -> None:
    with pytest.raises(ValueError):
        decide(trigger="hourly")


def test_inactive_installation_is_blocked_first() -> None:
    everything_wrong = snapshot(status="suspended", sync_status="syncing", rate_limit_remaining=0,
                                rate_limit_reset=NOW + dt.timedelta(hours=1))
    decision = decide(everything_wrong, linked=0, repos=0)
    assert (decision.reason, decision.message) == (
        "inactive", "GitHub App installation is suspended or removed"
    )


def test_order_is_linked_user_repositories_cooldown_budget_then_already_syncing() -> None:
    state = snapshot(
        sync_status="syncing",
        last_manual_sync_at=NOW - dt.timedelta(minutes=10),
        rate_limit_remaining=5,
        rate_limit_reset=NOW + dt.timedelta(minutes=30),
    )
    assert decide(state, linked=0, repos=0).reason == "no_linked_user"
    assert decide(state, linked=0, repos=0).message == "Installation not configured"
    assert decide(state, repos=0).reason == "no_repositories"
    assert decide(state, repos=0).message == "No repositories selected for sync"
    assert decide(state).reason == "cooldown_active"
    no_cooldown = dataclasses.replace(state, last_manual_sync_at=None)
    assert decide(no_cooldown).reason == "rate_limited"
    budget_ok = dataclasses.replace(no_cooldown, rate_limit_remaining=None)
    assert decide(budget_ok).reason == "already_syncing"
    assert decide(budget_ok).message == "Sync already in progress"
    assert decide(dataclasses.replace(budget_ok, sync_status="idle")).allowed


def test_cooldown_reports_the_remaining_time() -> None:
    decision = decide(snapshot(last_manual_sync_at=NOW - dt.timedelta(minutes=20)))
    assert decision.reason == "cooldown_active"
    assert decision.cooldown_ms == 40 * 60 * 1000
    assert decision.message == "Please wait 40 minutes before syncing again"


def test_cooldown_minutes_round_up_and_one_minute_is_singular() -> None:
    decision = decide(snapshot(last_manual_sync_at=NOW - dt.timedelta(minutes=59, seconds=30)))
    assert decision.cooldown_ms == 30_000
    assert decision.message == "Please wait 1 minute before syncing again"
    assert cooldown_message(60_001) == "Please wait 2 minutes before syncing again"
    assert cooldown_message(None) == "Please wait 60 minutes before syncing again"


def test_expired_cooldown_starts() -> None:
    assert decide(snapshot(last_manual_sync_at=NOW - dt.timedelta(hours=1))).allowed
    assert decide(snapshot(last_manual_sync_at=NOW - dt.timedelta(hours=3))).allowed


@pytest.mark.parametrize(
    "last_synced_at", [None, NOW - dt.timedelta(hours=48, seconds=1)], ids=["never", "over-48h"]
)
def test_stale_installation_bypasses_the_cooldown(last_synced_at: dt.datetime | None) -> None:
    five_minutes_ago = NOW - dt.timedelta(minutes=5)
    state = snapshot(last_synced_at=last_synced_at, last_manual_sync_at=five_minutes_ago)
    assert decide(state).allowed


def test_cooldown_applies_only_to_manual_requests_by_a_user() -> None:
    state = snapshot(last_manual_sync_at=NOW - dt.timedelta(minutes=5))
    assert decide(state, trigger="webhook").allowed
    assert decide(state, trigger="cron").allowed
    assert decide(state, user_initiated=False).allowed


@pytest.mark.parametrize(
    ("trigger", "remaining", "allowed"),
    [("manual", 99, False), ("manual", 100, True), ("webhook", 99, False),
     ("cron", 599, False), ("cron", 600, True)],
)
def test_budget_thresholds(trigger: str, remaining: int, allowed: bool) -> None:
    reset = NOW + dt.timedelta(minutes=30)
    decision = decide(snapshot(rate_limit_remaining=remaining, rate_limit_reset=reset), trigger)
    assert decision.allowed is allowed
    if not allowed:
        assert decision.reason == "rate_limited"
        assert decision.message == "GitHub API rate limit reached. Please try again later."
        assert decision.blocked_until == reset


def test_unknown_budget_counts_as_5000() -> None:
    assert decide(snapshot(rate_limit_remaining=None), "cron").allowed


def test_budget_whose_reset_has_passed_counts_as_5000() -> None:
    state = snapshot(rate_limit_remaining=0, rate_limit_reset=NOW - dt.timedelta(seconds=1))
    assert decide(state, "cron").allowed


def test_disabled_rate_limiting_on_github_enterprise_never_blocks() -> None:
    state = snapshot(rate_limit_remaining=0, rate_limit_limit=0,
                     rate_limit_reset=NOW + dt.timedelta(hours=1))
    assert decide(state).allowed


def test_cli_mode_skips_link_repositories_cooldown_and_already_syncing() -> None:
    state = snapshot(sync_status="syncing", last_manual_sync_at=NOW - dt.timedelta(minutes=1))
    assert decide(state, linked=0, repos=0, user_initiated=False, cli=True).allowed


def test_cli_mode_still_honours_inactive_and_rate_limited() -> None:
    suspended = snapshot(status="suspended")
    assert decide(suspended, linked=0, repos=0, cli=True).reason == "inactive"
    drained = snapshot(rate_limit_remaining=10, rate_limit_reset=NOW + dt.timedelta(minutes=5))
    assert decide(drained, linked=0, repos=0, cli=True).reason == "rate_limited"
