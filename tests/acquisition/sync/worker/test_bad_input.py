"""Bad input from GitHub: the job fails or blocks with a readable error, the other
repositories of the batch finish, and nothing already stored is lost."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from gitpulse_app.acquisition.sync.status import (
    AUTH_ERROR,
    GENERIC_ERROR,
    NETWORK_ERROR,
    RATE_LIMIT_ERROR,
    normalize_sync_error,
)
from gitpulse_app.core.models import Event, IngestionJob, Installation, SyncBatch
from gitpulse_app.normalization.canonicalize_rest import canonicalize_rest_issue
from gitpulse_app.normalization.store import ingest_facts
from tests.acquisition.sync import factories as f
from tests.acquisition.sync.worker.conftest import run_jobs, start_sync, stored_facts
from tests.acquisition.sync.worker.world import World, populate, serve
from tests.support.fake_http import FakeResponse

pytestmark = pytest.mark.usefixtures("db")

UNREADABLE = "GitHub returned an unreadable response (status 200)"
HTML_PAGE = "<!DOCTYPE html><html><head><title>Unicorn!</title></head><body>No server</body></html>"


def truncated(world: World) -> FakeResponse:
    text = json.dumps(world.issues[:25])
    return FakeResponse(200, body=text[: len(text) // 2],
                        headers={"Content-Type": "application/json; charset=utf-8"})


CASES = {
    # name: (path under /repos/acme/web, response, stored error, stages whose facts are kept)
    "malformed JSON": ("/issues", lambda w: FakeResponse(
        200, body='[{"id": 1,, }]', headers={"Content-Type": "application/json"}),
        UNREADABLE, ("pr_opened", "review_submitted")),
    "truncated page": ("/issues", truncated, UNREADABLE, ("pr_opened",)),
    "HTML error page": ("/pulls", lambda w: FakeResponse(
        502, body=HTML_PAGE, headers={"Content-Type": "text/html"}),
        "GitHub API error (502): Bad Gateway", ()),
    "HTML page on a 200": ("/commits", lambda w: FakeResponse(
        200, body=HTML_PAGE, headers={"Content-Type": "text/html"}), UNREADABLE,
        ("issue_opened", "issue_comment", "review_comment")),
    "404 repository": ("", lambda w: FakeResponse(404, json={"message": "Not Found"}),
                       "Repository not found or access revoked", ()),
    "401 token": ("/issues/comments", lambda w: FakeResponse(
        401, json={"message": "Bad credentials"}), "GitHub API error (401): Bad credentials",
        ("issue_opened",)),
    "object instead of a list": ("/releases", lambda w: FakeResponse(
        200, json={"message": "surprise"}), None, ("commit",)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_fails_one_job_readably_while_the_other_repo_finishes(
    case, github, sleeps, now
):
    suffix, response, error, kept_types = CASES[case]
    good, bad = (populate(World(name, gh_id), now) for name, gh_id in
                 (("acme/api", 501), ("acme/web", 502)))
    serve(github, good)
    serve(github, bad)
    github.add("GET", f"/repos/acme/web{suffix}", response(bad))
    since = now - dt.timedelta(days=30)
    # A fact stored before this sync (e.g. by a webhook) must survive whatever happens.
    earlier = canonicalize_rest_issue(bad.issues[0], bad.raw_repo, since)
    ingest_facts(earlier, observed_via="webhook")
    batch_id = start_sync(["acme/api", "acme/web"], since)

    assert sorted(run_jobs(sleeps)) == ["completed", "failed"]

    by_repo = {job.repo_full_name: job for job in f.all_rows(IngestionJob, batch_id=batch_id)}
    assert by_repo["acme/api"].status == "completed"
    failed = by_repo["acme/web"]
    assert failed.status == "failed"
    if error is not None:
        assert failed.error_message == error
    else:
        assert failed.error_message.startswith("GitHub returned no list where one was expected")
    shown = normalize_sync_error(failed.error_message)
    assert shown in (failed.error_message, AUTH_ERROR, NETWORK_ERROR, RATE_LIMIT_ERROR,
                     GENERIC_ERROR)
    assert "Traceback" not in failed.error_message and len(failed.error_message) < 200

    facts = stored_facts()
    assert good.expected_facts(since) <= facts
    assert {(fact.type, fact.source_url) for fact in earlier} <= facts
    bad_facts = {key for key in facts if "/acme/web/" in key[1]}
    assert bad_facts <= bad.expected_facts(since)
    for fact_type in kept_types:  # stages before the failure keep what they stored
        assert {key for key in bad.expected_facts(since) if key[0] == fact_type} <= bad_facts
    assert failed.events_ingested == len(bad_facts) - len(earlier)

    batch = f.get(SyncBatch, batch_id)
    assert (batch.status, batch.completed_repos, batch.failed_repos) == ("completed", 1, 1)
    source = f.get(Installation, batch.installation_id)
    assert (source.sync_status, source.last_sync_error) == ("idle", "1 repo(s) failed to sync")


def test_unreadable_pages_are_retried_three_times_before_the_job_fails(github, sleeps, now):
    world = populate(World("acme/web", 502), now)
    serve(github, world)
    route = github.add("GET", "/repos/acme/web/issues", truncated(world))
    start_sync(["acme/web"], now - dt.timedelta(days=30))

    assert run_jobs(sleeps) == ["failed"]

    assert route.calls == 4
    assert sleeps.waits == [1.0, 2.0, 4.0]


def test_all_jobs_failing_fails_the_batch_and_marks_the_source_in_error(github, sleeps, now):
    github.add_json("/repos/acme/api", {"message": "Not Found"}, status=404)
    github.add_json("/repos/acme/web", {"message": "Not Found"}, status=404)
    batch_id = start_sync(["acme/api", "acme/web"], now - dt.timedelta(days=30))

    assert run_jobs(sleeps) == ["failed", "failed"]

    batch = f.get(SyncBatch, batch_id)
    assert (batch.status, batch.failed_repos) == ("failed", 2)
    source = f.get(Installation, batch.installation_id)
    assert (source.sync_status, source.last_sync_error) == ("error", "2 repo(s) failed to sync")
    assert f.all_rows(Event) == []


@pytest.mark.parametrize(("suffix", "status", "message"), [
    ("/issues", 410, "Issues are disabled for this repo"),
    ("/issues/comments", 410, "Issues are disabled for this repo"),
    ("/commits", 409, "Git Repository is empty."),
])
def test_disabled_issues_and_an_empty_repository_skip_their_stage(
    suffix, status, message, github, sleeps, now
):
    world = populate(World("acme/api", 501), now)
    serve(github, world)
    github.add_json(f"/repos/acme/api{suffix}", {"message": message}, status=status)
    since = now - dt.timedelta(days=30)
    start_sync(["acme/api"], since)

    assert run_jobs(sleeps) == ["completed"]

    types = {"/issues": {"issue_opened", "issue_closed"}, "/issues/comments": {"issue_comment"},
             "/commits": {"commit"}}[suffix]
    assert stored_facts() == {key for key in world.expected_facts(since) if key[0] not in types}


def test_the_reviews_of_a_deleted_pull_request_are_skipped(github, sleeps, now):
    world = populate(World("acme/api", 501), now)
    serve(github, world)
    github.add_json("/repos/acme/api/pulls/3/reviews", {"message": "Not Found"}, status=404)
    since = now - dt.timedelta(days=30)
    start_sync(["acme/api"], since)

    assert run_jobs(sleeps) == ["completed"]

    missing = {("review_submitted", r["html_url"]) for r in world.reviews[3]}
    assert stored_facts() == world.expected_facts(since) - missing
