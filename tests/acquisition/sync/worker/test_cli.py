"""`python -m gitpulse_app sync`: sources, --repo, --wait, --json, exit codes."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from gitpulse_app.acquisition.sync.runner import SyncProgress
from gitpulse_app.core.crypto import encrypt_token
from gitpulse_app.core.models import (
    Embedding,
    EmbeddingQueueItem,
    Event,
    IngestionJob,
    Installation,
    SyncBatch,
    TrackedRepo,
)
from gitpulse_app.experience.cli.ingest import render_sync_progress
from gitpulse_app.experience.cli.main import main
from tests.acquisition.sync import factories as f
from tests.acquisition.sync.worker.conftest import start_sync, stored_facts
from tests.acquisition.sync.worker.world import World, iso, populate, serve

pytestmark = pytest.mark.usefixtures("db")

NO_SOURCE = "No source can read acme/web: set GITHUB_TOKEN or install the GitHub App on it"


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_sync_repo_nobody_tracks_starts_through_the_server_token_source(github, capsys):
    code, out, err = cli(capsys, "sync", "--repo", "acme/web")

    assert code == 0, err
    (source,) = f.all_rows(Installation)
    assert (source.kind, source.repositories, source.status) == ("env_pat", ["acme/web"], "active")
    assert f.all_rows(TrackedRepo) == []  # nobody tracks it; the operator's sync still runs
    (job,) = f.all_rows(IngestionJob)
    assert (job.repo_full_name, job.status, job.trigger) == ("acme/web", "pending", "manual")
    assert out == (f"Sync started for server token (env): batch {job.batch_id}, 1 repository "
                   f"since {f.get(SyncBatch, job.batch_id).since.isoformat()}.\n")


def test_repo_b_with_wait_joins_the_running_batch_of_a_and_works_both(github, capsys, now):
    worlds = [populate(World(name, gh_id), now) for name, gh_id in
              (("acme/api", 501), ("acme/web", 502))]
    for world in worlds:
        serve(github, world)
    since = now - dt.timedelta(days=30)
    batch_id = start_sync(["acme/api"], since)

    code, out, err = cli(capsys, "sync", "--repo", "acme/web", "--wait", "--json")

    assert code == 0, err
    assert out.count("\n") == 1
    data = json.loads(out)
    assert data["batch_id"] == batch_id and data["status"] == "completed"
    (entry,) = data["batches"]
    assert (entry["reason"], entry["repos"], entry["status"]) == (
        "added_to_running", ["acme/web"], "completed")
    assert (entry["completed_repos"], entry["failed_repos"]) == (2, 0)
    assert [job.status for job in f.all_rows(IngestionJob)] == ["completed", "completed"]
    assert stored_facts() == worlds[0].expected_facts(since) | worlds[1].expected_facts(since)
    assert "2/2 repos" in err  # the last progress line always shows


def test_repo_without_github_token_uses_the_app_installation_that_has_it(github, configure,
                                                                          capsys):
    configure(GITHUB_TOKEN=None)
    f.installation(repositories=["acme/api"])
    source = f.installation(repositories=["acme/api", "Acme/Web"], account_login="acme")

    code, out, err = cli(capsys, "sync", "--repo", "acme/web")

    assert code == 0, err
    (job,) = f.all_rows(IngestionJob)
    assert (job.installation_id, job.repo_full_name) == (source.id, "Acme/Web")
    assert f"acme (installation {source.gh_installation_id})" in out


@pytest.mark.parametrize("as_json", [False, True])
def test_no_source_for_the_repo_exits_1_with_the_exact_message(github, configure, capsys,
                                                                 as_json):
    configure(GITHUB_TOKEN=None)
    f.installation(repositories=["acme/api"])

    code, out, err = cli(capsys, "sync", "--repo", "acme/web", *(["--json"] if as_json else []))

    assert code == 1
    assert err.splitlines()[-1] == NO_SOURCE
    assert out == (json.dumps({"error": NO_SOURCE}) + "\n" if as_json else "")
    assert f.all_rows(SyncBatch) == []


@pytest.mark.parametrize("argv", [
    ["sync", "--repo", "not-a-repo"], ["sync", "--repo", "a/b/c"],
    ["sync", "--installation", "app-7"], ["sync", "--installation", "pat:x"],
    ["sync", "--repo", "acme/api", "--installation", "7"], ["sync", "--since", "yesterday"],
])
def test_bad_usage_exits_2(argv, capsys):
    code, out, err = cli(capsys, *argv)
    assert code == 2 and out == "" and "usage:" in err


@pytest.mark.parametrize(("reference", "message"), [
    ("4242", "No GitHub App installation 4242"),
    ("pat:99", "No personal-token source pat:99"),
    ("env", "No server-token source (env) yet: set GITHUB_TOKEN and run `sync --repo "
            "OWNER/NAME` to add a repository to it."),
])
def test_an_unknown_installation_exits_1(reference, message, github, capsys):
    code, out, err = cli(capsys, "sync", "--installation", reference, "--json")
    assert code == 1
    assert json.loads(out) == {"error": message}


def test_installation_forms_pick_app_pat_and_env_sources(github, capsys):
    app, _owner = f.healthy_installation(repositories=["acme/api"])
    member = f.user()
    pat = f.installation(kind="pat", gh_installation_id=None, repositories=[],
                         token_enc=encrypt_token("ghp_personal"), account_login="member")
    f.link(member, pat)
    f.track(member, pat, "acme/tools")
    start_sync(["acme/web"], dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
    env_batch = f.all_rows(SyncBatch)[0]
    f.change(SyncBatch, env_batch.id, status="completed")

    for reference, source_id, repo in [(str(app.gh_installation_id), app.id, "acme/api"),
                                       (f"pat:{pat.id}", pat.id, "acme/tools"),
                                       ("env", env_batch.installation_id, "acme/web")]:
        code, out, err = cli(capsys, "sync", "--installation", reference, "--json")
        assert code == 0, err
        batch = f.get(SyncBatch, json.loads(out)["batch_id"])
        assert batch.installation_id == source_id
        assert [j.repo_full_name for j in f.all_rows(IngestionJob, batch_id=batch.id)] == [repo]


def test_a_running_batch_without_wait_exits_1_with_its_id(github, capsys):
    source, _owner = f.healthy_installation()
    batch = f.batch(source, total_repos=1)

    code, out, err = cli(capsys, "sync", "--installation", str(source.gh_installation_id))

    assert code == 1
    assert err.splitlines()[-1] == f"A sync is already in progress (batch {batch.id})"


def test_without_flags_every_active_linked_source_is_requested(github, capsys):
    first, _ = f.healthy_installation(account_login="acme")
    second, _ = f.healthy_installation(account_login="globex")
    f.healthy_installation(status="suspended")
    f.installation()  # nobody linked

    code, out, err = cli(capsys, "sync", "--json")

    assert code == 0, err
    data = json.loads(out)
    assert [(b["installation_id"], b["started"]) for b in data["batches"]] == [
        (first.id, True), (second.id, True)]


def test_without_flags_and_no_linked_source_exits_1(github, capsys):
    f.installation()
    code, _out, err = cli(capsys, "sync")
    assert code == 1 and err.startswith("No active, linked source to sync")


def test_a_rate_limited_source_is_not_started_and_exits_1(github, capsys):
    reset = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=20)
    source, _ = f.healthy_installation(rate_limit_remaining=50, rate_limit_limit=5000,
                                       rate_limit_reset=reset)
    code, _out, err = cli(capsys, "sync", "--installation", str(source.gh_installation_id))
    assert code == 1
    assert err.splitlines()[-1] == "GitHub API rate limit reached. Please try again later."


def test_wait_exits_1_when_every_repository_failed(github, capsys):
    github.add_json("/repos/acme/web", {"message": "Not Found"}, status=404)

    code, out, err = cli(capsys, "sync", "--repo", "acme/web", "--wait", "--json")

    assert code == 1
    error = json.loads(out)["error"]
    assert error.startswith("Sync failed: every repository failed (batch ")
    assert error.endswith("acme/web: Repository not found or access revoked")


def test_wait_exits_0_when_the_batch_completes_partially(github, capsys, now):
    world = populate(World("acme/api", 501), now)
    serve(github, world)
    github.add_json("/repos/acme/web", {"message": "Not Found"}, status=404)
    start_sync(["acme/api", "acme/web"], now - dt.timedelta(days=30))

    code, out, err = cli(capsys, "sync", "--repo", "acme/api", "--wait")

    assert code == 0, err
    assert "Waiting for the sync already in progress for server token (env)" in out
    assert "completed: 1 of 2 repositories synced" in out
    assert "acme/web failed: Repository not found or access revoked" in out


def test_the_progress_line_shows_repos_facts_current_repo_eta_and_the_rate_limit_countdown():
    now = dt.datetime(2025, 12, 5, 15, 0, tzinfo=dt.UTC)
    line = render_sync_progress(SyncProgress(
        total=7, done=3, failed=1, facts=1234, current_repo="acme/api", eta_seconds=125,
        blocked_until=now + dt.timedelta(minutes=14, seconds=59), finished=False, now=now))
    assert line == ("[##########--------------] 3/7 repos · 1234 facts · acme/api · ETA 2:05 · "
                    "rate limited, resumes in 14:59")
    estimating = render_sync_progress(SyncProgress(
        total=2, done=0, failed=0, facts=0, current_repo=None, eta_seconds=None,
        blocked_until=None, finished=False, now=now))
    assert estimating.endswith("0/2 repos · 0 facts · ETA estimating…")


def test_the_progress_line_says_when_it_waits_on_another_process_or_a_later_start():
    now = dt.datetime(2025, 12, 5, 15, 0, tzinfo=dt.UTC)
    line = render_sync_progress(SyncProgress(
        total=3, done=1, failed=0, facts=10, current_repo="acme/api", eta_seconds=None,
        blocked_until=None, finished=False, now=now, held_elsewhere=1,
        next_due=now + dt.timedelta(minutes=10, seconds=59)))
    assert line.endswith("ETA estimating… · waiting for 1 repo(s) another process is syncing · "
                         "next repo due in 10:59")


def test_wait_embeds_the_new_facts_with_the_local_provider_before_it_returns(github, capsys, now):
    world = populate(World("acme/api", 501), now)
    serve(github, world)
    since = now - dt.timedelta(days=30)

    code, out, err = cli(capsys, "sync", "--repo", "acme/api", "--since", iso(since), "--wait")

    assert code == 0, err
    assert stored_facts() == world.expected_facts(since)
    hashes = {event.content_hash for event in f.all_rows(Event)}
    embedded = f.all_rows(Embedding)
    assert {row.content_hash for row in embedded} == hashes
    assert {row.provider for row in embedded} == {"local"}
    assert f.all_rows(EmbeddingQueueItem) == []
