"""Fixtures for the sync worker tests: a file database, the fake GitHub, a sleep that only records.

The worker runs jobs concurrently in threads, so these tests use a real SQLite file (WAL, busy
timeout) rather than the single shared connection of the in-memory database.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from gitpulse_app.acquisition.sync import request_sync, runner
from gitpulse_app.acquisition.sync.sources import ensure_env_source
from gitpulse_app.core.clock import utcnow
from gitpulse_app.core.db import create_db_engine, session_scope
from gitpulse_app.core.models import Event
from tests.support import fake_http
from tests.support.db import process_engine
from tests.support.fake_github import FakeGitHub

TOKEN = "ghp_server_token_for_tests"


class SleepRecorder:
    """Stands in for `asyncio.sleep` in the GitHub client: remembers every wait, waits for none."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def db_file_url(sqlite_template: sqlite3.Connection, tmp_path) -> str:
    """A migrated SQLite file (other processes can open it too)."""
    path = tmp_path / "gitpulse.db"
    with contextlib.closing(sqlite3.connect(path)) as target:
        sqlite_template.backup(target)
    return f"sqlite:///{path}"


@pytest.fixture
def db(db_file_url: str) -> Iterator[Engine]:
    """The process-wide engine on that file."""
    engine = create_db_engine(db_file_url)
    with process_engine(engine):
        yield engine


@pytest.fixture
def github(fake_github: FakeGitHub, configure, monkeypatch) -> FakeGitHub:
    """The fake GitHub as `GITHUB_API_URL`, with `GITHUB_TOKEN` set (the server-token source)."""
    # The fake writes headers and body separately; with Nagle on, delayed ACKs then add ~40 ms
    # to every keep-alive response. A backfill makes hundreds of calls, so switch Nagle off.
    monkeypatch.setattr(fake_http._HTTPHandler, "disable_nagle_algorithm", True)
    configure(GITHUB_API_URL=fake_github.url, GITHUB_TOKEN=TOKEN)
    return fake_github


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def now() -> dt.datetime:
    return utcnow().replace(microsecond=0)


def start_sync(repos: list[str], since: dt.datetime, until: dt.datetime | None = None) -> int:
    """Request a CLI sync of `repos` through the server-token source; returns the batch id."""
    for repo in repos:
        source = ensure_env_source(repo)
    result = request_sync(source.id, "manual", since=since, until=until, repos=repos, cli=True)
    assert result.started, result.message
    return result.details["batch_id"]


def run_jobs(sleeps: SleepRecorder, clock=utcnow, **options) -> list[str]:
    """Run every due job in this process; the client's waits are only recorded."""
    return runner.run_due_jobs(clock=clock, client_options={"sleep": sleeps, **options})


def stored_facts() -> set[tuple[str, str]]:
    with session_scope() as session:
        rows = session.exec(select(Event.type, Event.source_url)).all()
    assert len(rows) == len(set(rows))
    return {(fact_type, url) for fact_type, url in rows}
