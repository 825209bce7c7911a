"""The worker: claims, concurrency, registration, the loop, and jobs that cannot run."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import sqlite3
import threading
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from gitpulse_app.acquisition.sync import request_sync, worker
from gitpulse_app.acquisition.sync.walk import Cursor, progress_percent
from gitpulse_app.acquisition.sync.worker import claim_job, execute_job
from gitpulse_app.core.db import session_scope
from gitpulse_app.core.models import IngestionJob, Installation, SyncBatch
from gitpulse_app.core.workers import registered_workers
from gitpulse_app.experience.wiring import CAPABILITIES
from tests.acquisition.sync import factories as f
from tests.acquisition.sync.worker.conftest import run_jobs, start_sync, stored_facts
from tests.acquisition.sync.worker.world import World, populate, serve
from tests.support.fake_http import FakeResponse


def test_the_sync_worker_is_registered_and_wired():
    assert "sync" in registered_workers()
    assert "gitpulse_app.acquisition.sync.worker" in CAPABILITIES


@pytest.mark.parametrize(("stage_index", "share", "percent"), [
    (0, 0.0, 0), (1, 0.5, 18), (3, 2 / 5, 42), (7, 0.5, 93), (7, 1.0, 99), (8, 0.0, 99),
])
def test_progress_is_the_floor_of_stage_plus_share_over_eight_capped_at_99(
    stage_index, share, percent
):
    assert progress_percent(stage_index, share) == percent


@pytest.mark.parametrize("raw", [None, {}, {"stage": "nope"}, "issues", {"stage": 3}])
def test_an_unreadable_cursor_starts_the_job_from_the_beginning(raw):
    assert Cursor.load(raw) == Cursor()


def test_a_saved_cursor_round_trips():
    saved = {"stage": "reviews", "next_url": "https://api.github.com/x?page=2",
             "pending_prs": [4, 9], "stats_done": 17}
    assert Cursor.load(saved).as_json() == saved
    capped = saved | {"stats_done": 200, "details_skipped": 31}
    assert Cursor.load(capped).as_json() == capped


@pytest.mark.usefixtures("db")
def test_at_most_four_jobs_run_at_once_and_each_is_claimed_once(github, sleeps, now):
    names = [f"acme/r{n}" for n in range(6)]
    active, peak, lock, four = [0], [0], threading.Lock(), threading.Event()

    def slow_repo(request):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
            if active[0] == 4:
                four.set()
        four.wait(10)  # hold every call until four run at once (or it is clear they never will)
        time.sleep(0.1)
        with lock:
            active[0] -= 1
        return FakeResponse(404, json={"message": "Not Found"})

    for name in names:
        github.add("GET", f"/repos/{name}", slow_repo)
    start_sync(names, now - dt.timedelta(days=1))

    assert run_jobs(sleeps) == ["failed"] * 6

    assert peak[0] == 4
    assert len(github.requests) == 6
    assert {job.attempts for job in f.all_rows(IngestionJob)} == {1}


@pytest.mark.usefixtures("db")
def test_claims_for_a_batch_take_only_that_batchs_jobs(now):
    first, second = f.installation(), f.installation()
    a = f.job(f.batch(first, total_repos=1), not_before=now)
    b = f.job(f.batch(second, total_repos=1), not_before=now)

    claimed = claim_job(now, "me:1:1", batch_ids={b.batch_id})
    assert claimed is not None and claimed.id == b.id
    assert claim_job(now, "me:1:1", batch_ids={b.batch_id}) is None
    assert claim_job(now, "me:1:1", batch_ids=set()) is None
    assert claim_job(now, "me:1:1").id == a.id


@pytest.mark.usefixtures("db")
def test_the_worker_loop_wakes_on_new_jobs_and_works_them(github, now):
    world = populate(World("acme/api", 501), now)
    serve(github, world)
    since = now - dt.timedelta(days=30)

    async def scenario() -> None:
        loop_task = asyncio.create_task(worker.sync_worker())
        await asyncio.sleep(0.1)
        batch_id = await asyncio.to_thread(start_sync, ["acme/api"], since)
        worker.wake()
        deadline = time.monotonic() + 30
        while f.get(SyncBatch, batch_id).status == "running":
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        loop_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop_task

    asyncio.run(scenario())
    assert stored_facts() == world.expected_facts(since)


@pytest.mark.usefixtures("db")
def test_a_job_taken_over_by_another_holder_stops_without_touching_it(github, sleeps, now):
    world = populate(World("acme/api", 501), now)
    serve(github, world)
    start_sync(["acme/api"], now - dt.timedelta(days=30))
    job = claim_job(dt.datetime.now(dt.UTC), "me:1:1")
    f.change(IngestionJob, job.id, claimed_by="other:2:2")

    outcome = asyncio.run(execute_job(job, holder="me:1:1", client_options={"sleep": sleeps}))

    assert outcome == "lost"
    stored = f.get(IngestionJob, job.id)
    assert (stored.status, stored.claimed_by, stored.cursor) == ("running", "other:2:2", None)
    assert stored_facts() == set()


@pytest.mark.usefixtures("db")
def test_a_job_whose_installation_is_gone_fails_installation_not_found(
    github, sleeps, now, db_file_url
):
    batch_id = start_sync(["acme/api"], now - dt.timedelta(days=30))
    installation_id = f.get(SyncBatch, batch_id).installation_id
    path = db_file_url.removeprefix("sqlite:///")
    with contextlib.closing(sqlite3.connect(path)) as raw:  # foreign keys are off here
        raw.execute("DELETE FROM installations WHERE id = ?", (installation_id,))
        raw.commit()

    assert run_jobs(sleeps) == ["failed"]

    (job,) = f.all_rows(IngestionJob, batch_id=batch_id)
    assert job.error_message == "Installation not found"
    assert github.requests == []


@pytest.mark.usefixtures("db")
def test_a_server_token_source_without_github_token_fails_with_what_to_do(
    github, sleeps, now, configure
):
    batch_id = start_sync(["acme/api"], now - dt.timedelta(days=30))
    configure(GITHUB_TOKEN=None)

    assert run_jobs(sleeps) == ["failed"]

    (job,) = f.all_rows(IngestionJob, batch_id=batch_id)
    assert job.error_message == "GITHUB_TOKEN is not set. Set it, or remove this source."


@pytest.mark.usefixtures("db")
def test_an_app_installation_syncs_with_its_minted_installation_token(
    github, sleeps, now, configure
):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM,
                            serialization.PrivateFormat.TraditionalOpenSSL,
                            serialization.NoEncryption()).decode()
    configure(GITHUB_APP_ID="12345", GITHUB_APP_PRIVATE_KEY=pem, GITHUB_TOKEN=None)
    expires = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    github.add_json("/app/installations/777/access_tokens",
                    {"token": "ghs_installation", "expires_at": expires},
                    status=201, method="POST")
    world = populate(World("acme/api", 501), now)
    serve(github, world)
    source, _owner = f.healthy_installation(gh_installation_id=777, repositories=["acme/api"])
    since = now - dt.timedelta(days=30)
    result = request_sync(source.id, "manual", since=since, cli=True)
    assert result.started

    assert run_jobs(sleeps) == ["completed"]

    assert stored_facts() == world.expected_facts(since)
    reads = [r for r in github.requests if r.method == "GET"]
    assert {r.headers["Authorization"] for r in reads} == {"Bearer ghs_installation"}
    assert len(github.requests_to("/app/installations/777/access_tokens", "POST")) == 1
    stored = f.get(Installation, source.id)
    assert stored.rate_limit_limit == 5000 and stored.rate_limit_remaining is not None


@pytest.mark.postgres
def test_a_backfill_on_postgres_runs_four_jobs_at_once_to_the_same_facts(
    pg_engine, github, sleeps, now
):
    worlds = [populate(World(f"acme/r{n}", 600 + n), now) for n in range(5)]
    for world in worlds:
        serve(github, world)
    since = now - dt.timedelta(days=30)
    batch_id = start_sync([w.full_name for w in worlds], since)

    assert run_jobs(sleeps) == ["completed"] * 5

    assert stored_facts() == set().union(*(w.expected_facts(since) for w in worlds))
    with session_scope() as session:
        assert session.get(SyncBatch, batch_id).status == "completed"
