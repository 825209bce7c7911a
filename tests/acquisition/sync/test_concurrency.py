"""Concurrent requests and claims: one batch per installation, each job claimed once.

SQLite runs on a file (an in-memory database is one shared connection, which cannot race) and
PostgreSQL on the real server; both use real threads.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from gitpulse_app.acquisition.sync import (
    claim_next_job,
    complete_job,
    finalize_batches,
    request_sync,
)
from gitpulse_app.acquisition.sync.scheduled import sweep_zombie_jobs, unblock_jobs
from gitpulse_app.core.db import create_db_engine
from gitpulse_app.core.models import IngestionJob, Installation, SyncBatch
from tests.acquisition.sync import factories as f
from tests.acquisition.sync.factories import NOW
from tests.support.db import process_engine


@pytest.fixture
def file_engine(sqlite_template: sqlite3.Connection, tmp_path: Path) -> Iterator[Engine]:
    """A migrated SQLite database in a file, shared by threads through a real connection pool."""
    path = tmp_path / "gitpulse.db"
    with sqlite3.connect(path) as target:
        sqlite_template.backup(target)
    engine = create_db_engine(f"sqlite:///{path}")
    with process_engine(engine):
        yield engine


def run_together(count: int, action: Callable[[], Any]) -> list[Any]:
    """Run `action` in `count` threads released at the same moment."""
    start = threading.Barrier(count)

    def go() -> Any:
        start.wait(timeout=10)
        return action()

    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = [pool.submit(go) for _ in range(count)]
        return [future.result(timeout=60) for future in futures]


def test_two_requests_past_the_check_start_one_batch_on_sqlite(file_engine: Engine) -> None:
    source, owner = f.healthy_installation()
    # Hold each request right after its "is a batch running?" query until both have asked,
    # so both go on to insert and the database's partial unique index has to decide.
    both_checked = threading.Barrier(2)
    waited = threading.local()

    def hold_after_check(_conn, _cursor, statement: str, *_args: Any) -> None:
        is_select = statement.lstrip().upper().startswith("SELECT")
        is_check = is_select and "FROM sync_batches" in statement
        if is_check and not getattr(waited, "done", False):
            waited.done = True
            both_checked.wait(timeout=10)

    sa.event.listen(file_engine, "after_cursor_execute", hold_after_check)
    try:
        results = run_together(2, lambda: request_sync(source.id, "webhook", now=NOW))
    finally:
        sa.event.remove(file_engine, "after_cursor_execute", hold_after_check)
    assert sorted(result.started for result in results) == [False, True]
    winner = next(result for result in results if result.started)
    loser = next(result for result in results if not result.started)
    assert loser.message == "A sync is already in progress"
    assert loser.details["batch_id"] == winner.details["batch_id"]
    assert len(f.all_rows(SyncBatch)) == 1
    assert len(f.all_rows(IngestionJob)) == 2
    assert f.get(Installation, source.id).sync_status == "syncing"


@pytest.mark.postgres
def test_concurrent_requests_start_one_batch_on_postgres(pg_engine: Engine) -> None:
    source, owner = f.healthy_installation()
    results = run_together(
        6, lambda: request_sync(source.id, "manual", user_id=owner.id, now=NOW)
    )
    assert sum(result.started for result in results) == 1
    batch_ids = {result.details["batch_id"] for result in results}
    assert len(batch_ids) == 1
    refused = [result for result in results if not result.started]
    assert {result.message for result in refused} == {"A sync is already in progress"}
    assert len(f.all_rows(SyncBatch)) == 1


def claim_all(holder: str) -> list[int]:
    claimed = []
    while (job := claim_next_job(now=NOW + dt.timedelta(seconds=5), holder=holder)) is not None:
        claimed.append(job.id)
    return claimed


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_concurrent_claimers_take_each_job_exactly_once(
    backend: str, request: pytest.FixtureRequest
) -> None:
    request.getfixturevalue("file_engine" if backend == "sqlite" else "pg_engine")
    source, _owner = f.healthy_installation(repositories=[f"acme/r{i}" for i in range(40)])
    assert request_sync(source.id, "webhook", now=NOW).started
    counter = iter(range(100))
    lock = threading.Lock()

    def claimer() -> list[int]:
        with lock:
            holder = f"host:{next(counter)}:1"
        return claim_all(holder)

    claimed = [job_id for ids in run_together(4, claimer) for job_id in ids]
    assert sorted(claimed) == sorted(job.id for job in f.all_rows(IngestionJob))
    assert {job.attempts for job in f.all_rows(IngestionJob)} == {1}


@pytest.mark.postgres
def test_the_whole_job_lifecycle_works_on_postgres(pg_engine: Engine) -> None:
    source, owner = f.healthy_installation()
    started = request_sync(source.id, "cron", now=NOW)
    assert started.started
    first = claim_next_job(now=NOW, holder="w:1:1")
    second = claim_next_job(now=NOW, holder="w:1:1")
    assert first.started_at == NOW and second.cursor is None
    assert complete_job(first.id, events_ingested=3, now=NOW)
    assert sweep_zombie_jobs(now=NOW + dt.timedelta(minutes=11)) == 1
    assert unblock_jobs(now=NOW) == 0
    again = claim_next_job(now=NOW + dt.timedelta(minutes=11), holder="w:2:2")
    assert (again.id, again.attempts) == (second.id, 2)
    assert complete_job(again.id, now=NOW + dt.timedelta(minutes=12))
    assert finalize_batches(now=NOW + dt.timedelta(minutes=13)) == 0  # already finalised
    batch = f.get(SyncBatch, started.details["batch_id"])
    assert (batch.status, batch.completed_repos, batch.events_ingested) == ("completed", 2, 3)
    inst = f.get(Installation, source.id)
    assert (inst.sync_status, inst.last_synced_at) == ("idle", NOW)
    assert inst.last_reconciled_at == NOW + dt.timedelta(minutes=12)
