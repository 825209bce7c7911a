"""A `sync --wait` process killed with SIGKILL mid-job, recovered, and run again."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from gitpulse_app.acquisition.sync.scheduled import sweep_zombie_jobs
from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.models import IngestionJob, SyncBatch
from tests.acquisition.sync import factories as f
from tests.acquisition.sync.worker.conftest import TOKEN, stored_facts
from tests.acquisition.sync.worker.world import World, iso, populate, serve

ROOT = Path(__file__).resolve().parents[4]


def cli_process(db_url: str, api_url: str, cwd: Path, *args: str) -> subprocess.Popen:
    """`python -m gitpulse_app ARGS…` in a child process on the test's database and fake GitHub."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITPULSE_", "GITHUB_"))}
    env |= {"PYTHONPATH": str(ROOT), "DATABASE_URL": db_url, "GITHUB_API_URL": api_url,
            "GITHUB_TOKEN": TOKEN, "GITPULSE_SECRET_KEY": "child-secret"}
    # Logs go to a file: an undrained pipe would fill up and stall the child.
    with (cwd / "stderr.log").open("a", encoding="utf-8") as log:  # the child keeps its copy
        return subprocess.Popen([sys.executable, "-m", "gitpulse_app", *args], cwd=cwd,
                                env=env, stdout=subprocess.PIPE, stderr=log, text=True)


def sync_process(db_url: str, api_url: str, cwd: Path, *args: str) -> subprocess.Popen:
    return cli_process(db_url, api_url, cwd, "sync", *args)


@dataclass
class KilledSync:
    """A `sync --wait` child SIGKILLed while it waited for issues page 3 of acme/api."""

    world: World
    since: dt.datetime
    args: tuple[str, ...]
    job: IngestionJob
    pid: int


def kill_a_sync_mid_page(github, db_file_url: str, tmp_path: Path, now: dt.datetime
                         ) -> KilledSync:
    world = populate(World("acme/api", 501), now)
    issues = serve(github, world)["issues"]
    held, release = [], threading.Event()

    def hold_page_3_once(request):
        if request.param("page") == "3" and not held:
            held.append(request)
            release.wait(60)  # the child is killed while it waits for this page
        return issues.respond(request)

    github.add("GET", "/repos/acme/api/issues", hold_page_3_once)
    since = now - dt.timedelta(days=30)
    args = ("--repo", "acme/api", "--since", iso(since), "--wait", "--json")

    child = sync_process(db_file_url, github.url, tmp_path, *args)
    try:
        deadline = time.monotonic() + 20
        while not held:
            assert child.poll() is None, child.communicate()
            assert time.monotonic() < deadline, "the child never reached issues page 3"
            time.sleep(0.02)
    finally:
        child.send_signal(signal.SIGKILL)
        child.communicate()  # reaped: its pid is gone, so its claim is dead at once
        release.set()
    assert child.returncode == -signal.SIGKILL

    (job,) = f.all_rows(IngestionJob)
    assert (job.status, job.attempts) == ("running", 1)
    assert f":{child.pid}:" in job.claimed_by
    assert job.cursor["stage"] == "issues" and job.cursor["next_url"].endswith("page=3")
    partial = stored_facts()
    assert partial and partial < world.expected_facts(since)
    return KilledSync(world, since, args, job, child.pid)


def assert_resumed_at_page_3(github, killed: KilledSync) -> None:
    assert stored_facts() == killed.world.expected_facts(killed.since)
    pages = [r.param("page") for r in github.requests if r.path == "/repos/acme/api/issues"]
    assert pages[0] == "3"  # resumed at the saved next URL; pages 1 and 2 were not fetched again
    done = f.get(IngestionJob, killed.job.id)
    assert (done.status, done.attempts, done.progress) == ("completed", 2, 100)
    assert f.get(SyncBatch, killed.job.batch_id).status == "completed"


@pytest.mark.slow
@pytest.mark.usefixtures("db")
def test_a_sync_killed_with_sigkill_and_started_again_ends_with_the_exact_fact_set(
    github, db_file_url, tmp_path, now
):
    killed = kill_a_sync_mid_page(github, db_file_url, tmp_path, now)
    job, args = killed.job, killed.args

    assert sweep_zombie_jobs(utcnow()) == 1
    requeued = f.get(IngestionJob, job.id)
    assert (requeued.status, requeued.cursor) == ("pending", job.cursor)
    github.clear_requests()

    again = sync_process(db_file_url, github.url, tmp_path, *args)
    out, _ = again.communicate(timeout=120)

    assert again.returncode == 0, (tmp_path / "stderr.log").read_text()[-3000:]
    data = json.loads(out)
    assert data["batches"][0]["attached"] and data["status"] == "completed"
    assert_resumed_at_page_3(github, killed)
    assert not [r for r in github.requests if r.path.startswith("/repos/acme/api/pulls/")
                and r.path.endswith("/reviews")]


@pytest.mark.slow
@pytest.mark.usefixtures("db")
def test_a_tick_ahead_of_the_clock_requeues_a_killed_sync_that_sync_wait_then_finishes_at_once(
    github, db_file_url, tmp_path, now
):
    killed = kill_a_sync_mid_page(github, db_file_url, tmp_path, now)
    ahead = utcnow() + dt.timedelta(minutes=11)

    tick = cli_process(db_file_url, github.url, tmp_path, "tick", "--at", iso(ahead), "--json")
    out, _ = tick.communicate(timeout=120)
    assert tick.returncode == 0, (tmp_path / "stderr.log").read_text()[-3000:]
    assert json.loads(out)["zombies"] == 1
    requeued = f.get(IngestionJob, killed.job.id)
    assert requeued.status == "pending" and requeued.not_before == killed.job.not_before
    github.clear_requests()
    log_before = (tmp_path / "stderr.log").read_text()

    started = time.monotonic()
    again = sync_process(db_file_url, github.url, tmp_path, *killed.args)
    out, _ = again.communicate(timeout=120)  # the tick's clock would hold it for 11 minutes

    assert again.returncode == 0, (tmp_path / "stderr.log").read_text()[-3000:]
    assert time.monotonic() - started < 60
    data = json.loads(out)
    assert data["batches"][0]["attached"] and data["status"] == "completed"
    stderr = (tmp_path / "stderr.log").read_text()[len(log_before):]
    assert (f"Waiting for the sync already in progress for server token (env): batch "
            f"{killed.job.batch_id}. 1 of 1 repositories left to sync.") in stderr
    assert_resumed_at_page_3(github, killed)
