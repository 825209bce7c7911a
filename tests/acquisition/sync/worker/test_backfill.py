"""End to end against the fake GitHub: every stage, window rules, ETags, resumable cursors."""

from __future__ import annotations

import datetime as dt
import re
import threading

import pytest

from gitpulse_app.acquisition.sync.scheduled import unblock_jobs
from gitpulse_app.core.models import Event, IngestionJob, Installation, SyncBatch, User
from tests.acquisition.sync import factories as f
from tests.acquisition.sync.worker.conftest import run_jobs, start_sync, stored_facts
from tests.acquisition.sync.worker.world import World, iso, populate, serve
from tests.faults.harness import wait_for
from tests.support.fake_http import FakeResponse

pytestmark = pytest.mark.usefixtures("db")

REPOS = ["acme/api", "acme/web"]


def two_repos(github, now: dt.datetime) -> list[World]:
    worlds = [populate(World(name, gh_id), now) for name, gh_id in zip(REPOS, (501, 502))]
    for world in worlds:
        serve(github, world)
    return worlds


def expected(worlds: list[World], since: dt.datetime) -> set[tuple[str, str]]:
    return set().union(*(world.expected_facts(since) for world in worlds))


def test_every_item_in_the_window_becomes_exactly_one_fact_of_the_right_type(
    github, sleeps, now
):
    worlds = two_repos(github, now)
    since = now - dt.timedelta(days=30)
    batch_id = start_sync(REPOS, since)

    assert run_jobs(sleeps) == ["completed", "completed"]

    facts = stored_facts()
    assert facts == expected(worlds, since)
    assert len(facts) > 400
    assert {fact_type for fact_type, _ in facts} == {
        "pr_opened", "pr_merged", "pr_closed", "review_submitted", "review_comment",
        "issue_opened", "issue_closed", "issue_comment", "commit", "release",
    }
    batch = f.get(SyncBatch, batch_id)
    assert (batch.status, batch.completed_repos, batch.failed_repos) == ("completed", 2, 0)
    assert batch.events_ingested == len(facts)
    jobs = f.all_rows(IngestionJob, batch_id=batch_id)
    assert [job.progress for job in jobs] == [100, 100]
    assert all(job.detail_requests == 0 for job in jobs)  # nobody here has signed up
    assert github.unmatched == []
    assert sleeps.waits == []


def test_a_second_sync_adds_nothing_and_costs_only_304s_for_the_repo_and_pulls_page_1(
    github, sleeps, now
):
    worlds = two_repos(github, now)
    since = now - dt.timedelta(days=30)
    start_sync(REPOS, since)
    run_jobs(sleeps)
    facts = stored_facts()
    github.clear_requests()
    used = github.rate_limit.used

    batch_id = start_sync(REPOS, since)
    assert run_jobs(sleeps) == ["completed", "completed"]

    assert stored_facts() == facts
    jobs = f.all_rows(IngestionJob, batch_id=batch_id)
    assert [(job.events_ingested, job.events_updated) for job in jobs] == [(0, 0), (0, 0)]
    for world in worlds:
        base = f"/repos/{world.full_name}"
        (repo_call,) = [r for r in github.requests if r.path == base]
        pulls_calls = [r for r in github.requests if r.path == f"{base}/pulls"]
        assert [r.param("page") for r in pulls_calls] == [None]  # page 1 only, then skipped
        assert repo_call.headers.get("if-none-match") and pulls_calls[0].headers.get("if-none-match")
        assert not [r for r in github.requests if r.path.startswith(f"{base}/pulls/")
                    and r.path.endswith("/reviews")]
    # 304s cost no budget: everything else did.
    assert github.rate_limit.used - used == len(github.requests) - 4


def test_next_links_are_followed_verbatim_not_counted(github, sleeps):
    # The recorded fixture's first page links to /repositories/1000/issues?page=2, ….
    github.load_fixture("paginate-issues")
    full_name = "octokit-fixture-org/paginate-issues"
    world = World(full_name, 1000)
    github.add_json(f"/repos/{full_name}", world.raw_repo)
    recorded = github.rewrite(_first_recorded_page())
    github.add("GET", f"/repos/{full_name}/issues", FakeResponse(
        200, json=recorded["response"], headers={"Link": recorded["headers"]["link"]}))
    for suffix in ("/pulls", "/issues/comments", "/pulls/comments", "/commits", "/releases"):
        github.add_json(f"/repos/{full_name}{suffix}", [])
    since = dt.datetime(2017, 10, 1, tzinfo=dt.UTC)

    start_sync([full_name], since)
    assert run_jobs(sleeps) == ["completed"]

    issues = {(t, url) for t, url in stored_facts() if t == "issue_opened"}
    assert issues == {("issue_opened", f"https://github.com/{full_name}/issues/{n}")
                      for n in range(1, 14)}
    followed = [r.target for r in github.requests if r.path == "/repositories/1000/issues"]
    assert followed == [f"/repositories/1000/issues?per_page=3&page={n}" for n in range(2, 6)]
    assert github.unmatched == []


def _first_recorded_page() -> dict:
    import json

    from tests.support.fake_github import fixture_path

    exchanges = json.loads(fixture_path("paginate-issues").read_text(encoding="utf-8"))
    return exchanges[0]


def test_a_one_off_502_and_a_secondary_limit_are_survived(github, sleeps, now):
    worlds = two_repos(github, now)
    routes = serve(github, worlds[0])
    github.add("GET", "/repos/acme/api/issues", [FakeResponse(502, body="<html>Bad gateway</html>"),
                                                  routes["issues"].respond])
    comments = routes["issue_comments"]
    secondary = FakeResponse(403, headers={"retry-after": "3"}, json={
        "message": "You have exceeded a secondary rate limit. Please wait a few minutes."})
    github.add("GET", "/repos/acme/api/issues/comments", [secondary, comments.respond])
    since = now - dt.timedelta(days=30)

    start_sync(REPOS, since)

    assert run_jobs(sleeps) == ["completed", "completed"]
    assert sorted(round(wait) for wait in sleeps.waits) == [1, 3]
    assert stored_facts() == expected(worlds, since)


@pytest.mark.parametrize(("budget", "options"), [
    (60, {"keep_in_reserve": 0}),  # spent to x-ratelimit-remaining: 0, then refused
    (160, {}),  # below the 100 kept for webhook work: the next call pauses the job
], ids=["remaining-0", "reserve"])
def test_primary_exhaustion_blocks_the_jobs_until_the_reset_then_they_finish(
    budget, options, github, sleeps, now
):
    worlds = two_repos(github, now)
    reset = int(now.timestamp()) + 3600
    github.set_rate_limit(remaining=budget, reset=reset)
    since = now - dt.timedelta(days=30)
    batch_id = start_sync(REPOS, since)

    assert set(run_jobs(sleeps, **options)) == {"blocked"}

    reset_at = dt.datetime.fromtimestamp(reset, dt.UTC)
    jobs = f.all_rows(IngestionJob, batch_id=batch_id)
    for job in jobs:
        assert (job.status, job.blocked_until, job.rate_limit_reset) == ("blocked", reset_at,
                                                                         reset_at)
        assert job.rate_limit_remaining < 100 and job.cursor["stage"] != "repo"
        assert job.claimed_by is None
    source = f.get(Installation, f.get(SyncBatch, batch_id).installation_id)
    assert source.rate_limit_remaining < 100 and source.rate_limit_reset == reset_at
    assert f.get(SyncBatch, batch_id).status == "running"
    assert run_jobs(sleeps, clock=lambda: reset_at - dt.timedelta(seconds=1)) == []

    github.set_rate_limit(remaining=5000, reset=reset + 3600)
    later = reset_at + dt.timedelta(minutes=5)
    assert unblock_jobs(later) == 2
    assert run_jobs(sleeps, clock=lambda: later, **options) == ["completed", "completed"]

    assert stored_facts() == expected(worlds, since)
    assert f.get(SyncBatch, batch_id).status == "completed"


def test_a_job_blocked_mid_issues_resumes_at_the_saved_next_url(github, sleeps, now):
    world = populate(World("acme/api", 501), now)
    issues = serve(github, world)["issues"]
    reset = int(now.timestamp()) + 7200

    def limited_on_page_3(request):
        if request.param("page") == "3" and not tripped:
            tripped.append(request)
            return FakeResponse(403, json={"message": "API rate limit exceeded"}, headers={
                "x-ratelimit-remaining": "0", "x-ratelimit-limit": "5000",
                "x-ratelimit-reset": str(reset)})
        return issues.respond(request)

    tripped: list = []
    github.add("GET", "/repos/acme/api/issues", limited_on_page_3)
    since = now - dt.timedelta(days=30)
    batch_id = start_sync(["acme/api"], since)

    assert run_jobs(sleeps) == ["blocked"]
    (job,) = f.all_rows(IngestionJob, batch_id=batch_id)
    assert job.cursor["stage"] == "issues" and job.cursor["next_url"].endswith("page=3")
    pages = -(-len([i for i in world.issues if i["updated_at"] >= iso(since)]) // 25)
    assert job.progress == (300 + 100 * 2 // pages) // 8  # stage 3 (issues), 2 pages done
    github.clear_requests()

    later = dt.datetime.fromtimestamp(reset, dt.UTC) + dt.timedelta(seconds=1)
    unblock_jobs(later)
    assert run_jobs(sleeps, clock=lambda: later) == ["completed"]

    pages = [r.param("page") for r in github.requests if r.path == "/repos/acme/api/issues"]
    assert pages == ["3", "4"]
    before_issues = [r.path for r in github.requests
                     if r.path.startswith(("/repos/acme/api/pulls"))]
    assert before_issues == ["/repos/acme/api/pulls/comments"] * 2  # stage 6, not stage 2
    assert stored_facts() == world.expected_facts(since)


def test_facts_outside_until_are_not_kept_and_until_is_sent_to_commits(github, sleeps, now):
    worlds = two_repos(github, now)
    since, until = now - dt.timedelta(days=30), now - dt.timedelta(days=10)
    start_sync(REPOS, since, until)

    assert run_jobs(sleeps) == ["completed", "completed"]

    assert stored_facts() == set().union(*(w.expected_facts(since, until) for w in worlds))
    commits = [r for r in github.requests if r.path == "/repos/acme/api/commits"]
    assert commits[0].param("until") == until.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert commits[0].param("since") == since.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_comment_edited_in_the_window_updates_a_known_fact_and_is_otherwise_skipped(
    github, sleeps, now
):
    world = World("acme/api", 501)
    old = now - dt.timedelta(days=40)
    known = world.issue_comment(7, old, updated=now - dt.timedelta(days=2), body="Edited text")
    unknown = world.issue_comment(8, old, updated=now - dt.timedelta(days=2))
    serve(github, world)
    since = now - dt.timedelta(days=30)
    # Seen by an earlier sync (or webhook) with its first text:
    start_sync(["acme/api"], old - dt.timedelta(days=1))
    github.add_json("/repos/acme/api/issues/comments", [dict(known, body="First text",
                                                             updated_at=known["created_at"])])
    run_jobs(sleeps)
    serve(github, world)

    start_sync(["acme/api"], since)
    assert run_jobs(sleeps) == ["completed"]

    assert stored_facts() == {("issue_comment", known["html_url"])}
    text = f.all_rows(Event)[0].canonical_text
    assert text.endswith("– Edited text")
    assert unknown["html_url"] not in {url for _, url in stored_facts()}


def test_250_commits_by_a_signed_up_user_cost_exactly_200_stats_requests(github, sleeps, now):
    member = user(login="member", gh_id=9001)
    member_payload = payload_user("member", 9001)
    world = World("acme/api", 501, author=member_payload)
    for n in range(250):
        world.commit(now - dt.timedelta(hours=n + 1), author=member_payload)
    world.commit(now - dt.timedelta(hours=300))  # someone who never signed up: no stats
    serve(github, world)
    batch_id = start_sync(["acme/api"], now - dt.timedelta(days=30))

    assert run_jobs(sleeps) == ["completed"]

    stats = [r for r in github.requests if r.path.startswith("/repos/acme/api/commits/")]
    assert len(stats) == 200
    (job,) = f.all_rows(IngestionJob, batch_id=batch_id)
    assert job.detail_requests == 200 and job.cursor["stats_done"] == 200
    commits = f.all_rows(Event, type="commit")
    assert len(commits) == 251
    assert sum(event.additions is not None for event in commits) == 200
    assert job.cursor["details_skipped"] == len(commits) - 200  # counted on the job, not logged
    assert all(e.actor_id == member.id for e in commits if e.additions is not None)


def test_pr_details_give_signed_up_authors_metrics_and_the_merger(github, sleeps, now):
    member = user(login="member", gh_id=9001)
    world = World("acme/api", 501, author=payload_user("member", 9001))
    world.pull(1, now - dt.timedelta(days=3), merged=now - dt.timedelta(days=2))
    world.pull(2, now - dt.timedelta(days=3), author=payload_user("stranger", 9002))
    serve(github, world)
    start_sync(["acme/api"], now - dt.timedelta(days=30))

    assert run_jobs(sleeps) == ["completed"]

    details = [r.path for r in github.requests
               if re.fullmatch(r"/repos/acme/api/pulls/\d+", r.path)]
    assert details == ["/repos/acme/api/pulls/1"]
    merged = f.all_rows(Event, type="pr_merged")[0]
    assert (merged.additions, merged.deletions, merged.files_changed) == (1, 1, 2)
    assert merged.actor_id != member.id  # merged_by from the detail, not the author
    opened = {e.source_url: e for e in f.all_rows(Event, type="pr_opened")}
    assert opened[world.pulls[1]["html_url"]].additions is None

    start_sync(["acme/api"], now - dt.timedelta(days=30))
    github.clear_requests()
    run_jobs(sleeps)
    assert not [r for r in github.requests if r.path == "/repos/acme/api/pulls/1"]


def payload_user(login: str, gh_id: int) -> dict:
    from tests.support.payloads import user as rest_user

    return rest_user(login, gh_id)


def user(*, login: str, gh_id: int) -> User:
    return f.save(User(gh_id=gh_id, gh_login=login, signed_up_at=dt.datetime.now(dt.UTC)))


def test_backfill_and_webhook_sightings_converge_on_one_row(github, sleeps):
    from gitpulse_app.normalization.canonicalize_webhook import canonicalize_webhook
    from gitpulse_app.normalization.store import ingest_facts
    from tests.support import payloads

    deliveries = [("pull_request", "opened"), ("push", "with-no-username-committer"),
                  ("issue_comment", "created"), ("pull_request_review_comment", "created")]
    for event, name in deliveries:
        ingest_facts(canonicalize_webhook(event, payloads.load_webhook(event, name)),
                     observed_via="webhook")
    webhook_rows = {(e.type, e.source_url): e.id for e in f.all_rows(Event)}
    full_name = payloads.FULL_NAME
    github.add_json(f"/repos/{full_name}", payloads.rest_repo())
    github.add_json(f"/repos/{full_name}/pulls", [payloads.rest_pull(2)])
    github.add_json(f"/repos/{full_name}/pulls/2/reviews", [])
    github.add_json(f"/repos/{full_name}/issues", [])
    github.add_json(f"/repos/{full_name}/issues/comments", [payloads.rest_issue_comment()])
    github.add_json(f"/repos/{full_name}/pulls/comments", [payloads.rest_review_comment()])
    github.add_json(f"/repos/{full_name}/commits", [payloads.rest_commit()])
    github.add_json(f"/repos/{full_name}/releases", [])

    start_sync([full_name], dt.datetime(2019, 5, 1, tzinfo=dt.UTC))
    assert run_jobs(sleeps) == ["completed"]

    rows = f.all_rows(Event)
    assert {(e.type, e.source_url): e.id for e in rows} == webhook_rows
    assert {e.observed_via for e in rows} == {"webhook"}


def test_the_sources_budget_is_stored_as_each_response_reports_it_not_only_on_heartbeats(
    github, sleeps, now
):
    user(login="member", gh_id=9001)
    author = payload_user("member", 9001)
    world = World("acme/api", 501, author=author)
    for n in range(3):
        world.commit(now - dt.timedelta(hours=n + 1), author=author)
    commit_detail = serve(github, world)["commit_detail"]
    held, release = [], threading.Event()

    def hold_the_second_stats_call(request):
        held.append(request)
        if len(held) == 2:
            release.wait(30)  # no heartbeat since the commits page: only the callback writes
        return commit_detail.respond(request)

    github.add("GET", re.compile(r"/repos/acme/api/commits/(?P<sha>[0-9a-f]+)"),
               hold_the_second_stats_call)
    github.set_rate_limit(remaining=4000, limit=5000)
    source = f.get(Installation, f.get(SyncBatch, start_sync(["acme/api"], now - dt.timedelta(
        days=30))).installation_id)
    runner = threading.Thread(target=run_jobs, args=(sleeps,), daemon=True)
    runner.start()
    try:
        wait_for(lambda: len(held) == 2, 20, "the job never made its second stats call")
        # Every answered response has been counted by the fake; the held call not yet.
        answered_budget = github.rate_limit.remaining
        wait_for(lambda: f.get(Installation, source.id).rate_limit_remaining == answered_budget,
                 5, "the budget of the latest response was not stored")
    finally:
        release.set()
        runner.join(30)
    assert f.get(Installation, source.id).rate_limit_remaining == github.rate_limit.remaining
