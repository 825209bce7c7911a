"""SIGKILL a backend process while its sync worker waits for a GitHub page; restart; every fact once.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass

import pytest

from gitpulse_app.acquisition.sync import request_sync
from gitpulse_app.acquisition.sync.scheduled import sweep_zombie_jobs
from gitpulse_app.acquisition.sync.sources import ensure_env_source
from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.models import IngestionJob, SyncBatch
from tests.acquisition.sync import factories as f
from tests.acquisition.sync.worker.world import World, populate, serve
from tests.faults.harness import Backend, fact_counts, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

TOKEN = "ghp_fault_suite_server_token"


@dataclass
class KilledBackend:
    """A backend SIGKILLed while its sync worker waited for issues page 3 of acme/api."""

    backend: Backend
    world: World
    since: dt.datetime
    job: IngestionJob
    partial: set[tuple[str, str]]


def kill_a_backend_mid_page(pg_engine, fake_github, configure, backends) -> KilledBackend:
    now = utcnow().replace(microsecond=0)
    since = now - dt.timedelta(days=30)
    world = populate(World("acme/api", 501), now)
    issues = serve(fake_github, world)["issues"]
    held, release = [], threading.Event()

    def hold_page_3_once(request):
        if request.param("page") == "3" and not held:
            held.append(request)
            release.wait(60)  # the backend is killed while it waits for this page
        return issues.respond(request)

    fake_github.add("GET", "/repos/acme/api/issues", hold_page_3_once)
    configure(GITHUB_TOKEN=TOKEN, GITHUB_API_URL=fake_github.url)
    backend = backends(pg_engine, GITHUB_TOKEN=TOKEN, GITHUB_API_URL=fake_github.url).start()

    source = ensure_env_source("acme/api")
    started = request_sync(source.id, "manual", since=since, repos=["acme/api"], cli=True)
    assert started.started, started.message
    try:
        wait_for(lambda: held, 30, "the backend's sync worker never asked for issues page 3")
        killed_pid = backend.kill()
    finally:
        release.set()

    (job,) = f.all_rows(IngestionJob)
    assert (job.status, job.attempts) == ("running", 1)
    assert f":{killed_pid}:" in job.claimed_by
    assert job.cursor["stage"] == "issues" and job.cursor["next_url"].endswith("page=3")
    partial = set(fact_counts(pg_engine))
    assert partial and partial < world.expected_facts(since)
    fake_github.clear_requests()
    return KilledBackend(backend, world, since, job, partial)


def assert_finished_once_from_page_3(pg_engine, fake_github, killed: KilledBackend,
                                     record_counts, run_log) -> None:
    wait_for(lambda: f.get(SyncBatch, killed.job.batch_id).status == "completed", 60,
             "the interrupted batch never completed")
    facts = fact_counts(pg_engine)
    expected = killed.world.expected_facts(killed.since)
    # Rows cannot show a second processing (unique keys); a fact announced twice with the
    # same content can (tests/support/doubles.py).
    duplicated = run_log.double_processing().total
    assert set(facts) == expected and duplicated == 0
    pages = [r.param("page") for r in fake_github.requests if r.path == "/repos/acme/api/issues"]
    assert pages[0] == "3"  # resumed at the saved next URL, not from page 1
    done = f.get(IngestionJob, killed.job.id)
    assert (done.status, done.attempts) == ("completed", 2)
    record_counts(faults_injected=killed.backend.kills, facts_expected=len(expected),
                  facts_before_kill=len(killed.partial), lost=len(expected - set(facts)),
                  duplicated=duplicated)


def test_a_backend_killed_during_a_sync_page_resumes_there_and_stores_every_fact_once(
    pg_engine, fake_github, configure, backends, record_counts, run_log
):
    killed = kill_a_backend_mid_page(pg_engine, fake_github, configure, backends)

    killed.backend.start()
    # The zombie sweep (the leader's 10-minute job, and every `tick`) re-queues a job whose holder
    # is gone at once; the restarted backend's worker then picks it up at the saved cursor.
    sweep_zombie_jobs(utcnow())
    assert_finished_once_from_page_3(pg_engine, fake_github, killed, record_counts, run_log)


def test_a_restarted_backend_requeues_its_dead_predecessors_job_by_itself_and_finishes_it(
    pg_engine, fake_github, configure, backends, record_counts, run_log
):
    killed = kill_a_backend_mid_page(pg_engine, fake_github, configure, backends)

    # No sweep from outside: the sync worker's start-up sweep finds the dead holder's claim.
    killed.backend.start()

    assert_finished_once_from_page_3(pg_engine, fake_github, killed, record_counts, run_log)
    assert f.get(IngestionJob, killed.job.id).not_before == killed.job.not_before
