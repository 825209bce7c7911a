import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest

from gitpulse_app.normalization.models import ActorRef, Metrics, NormalizedFact, RepoRef

REPO = RepoRef(gh_id=1, full_name="acme/app", owner="acme", name="app")


def _comment(body: str) -> NormalizedFact:
    return NormalizedFact(
        type="issue_comment",
        repo=REPO,
        actor=ActorRef(gh_id=7, login="alice"),
        ts=datetime(2024, 5, 1, tzinfo=UTC),
        source_url="https://github.com/acme/app/issues/1#issuecomment-9",
        metadata={"issue_number": 1, "is_pull_request": False, "comment_id": 9, "body": body},
    )


def test_git_email_is_lower_cased():
    assert ActorRef(git_email=" Dev@Example.COM ").git_email == "dev@example.com"


def test_display_login_prefers_login_then_name_then_email_local_part():
    assert ActorRef(login="octocat", git_name="Mona").display_login == "octocat"
    assert ActorRef(git_email="x@y.z", git_name=" Mona\tLisa ").display_login == "Mona Lisa"
    assert ActorRef(git_email="mona@example.com").display_login == "mona"
    assert ActorRef(gh_id=5).display_login is None


def test_git_only_actor_has_identity_but_no_account():
    actor = ActorRef(git_email="a@b.c")
    assert actor.is_git_only and actor.has_identity
    assert not ActorRef(login="bob").is_git_only


def test_naive_timestamps_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        dataclasses.replace(_comment("x"), ts=datetime(2024, 5, 1))


def test_timestamps_are_stored_in_utc_and_source_updated_at_defaults_to_ts():
    plus_two = timezone(timedelta(hours=2))
    fact = NormalizedFact(
        type="issue_comment",
        repo=REPO,
        actor=ActorRef(login="alice"),
        ts=datetime(2024, 5, 1, 14, tzinfo=plus_two),
        source_url="https://github.com/acme/app/issues/1#issuecomment-9",
    )
    assert fact.ts == datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert fact.ts.tzinfo is UTC
    assert fact.source_updated_at == fact.ts


def test_merged_fact_re_renders_text_and_hash_from_its_metadata():
    created = _comment("first")
    edited = dataclasses.replace(created, metadata={**created.metadata, "body": "second"})
    assert edited.canonical_text == "Comment on issue #1 by alice \u2013 second"
    assert edited.content_hash != created.content_hash


def test_metrics_fill_missing_keeps_known_values():
    stored = Metrics(additions=5, deletions=None, files_changed=None)
    assert stored.fill_missing_from(Metrics(9, 2, 1)) == Metrics(5, 2, 1)
    assert Metrics().is_empty and not stored.is_empty
