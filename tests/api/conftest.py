"""The world of the API, MCP and Ask tests: alice and bob, each with a private repository, facts in
two months, a report and API tokens; the backend served over real HTTP by uvicorn on 127.0.0.1.

The database is a migrated SQLite file (not in-memory), so the server's threads and a `python -m
gitpulse_app mcp` child process all reach the same data.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

import gitpulse_app.intelligence.reports.receivers  # noqa: F401 — connects the staleness receiver
from gitpulse_app.core.db import create_db_engine, set_engine
from gitpulse_app.core.models import Installation, Repo, User
from gitpulse_app.experience.auth.api_tokens import create_token
from gitpulse_app.intelligence.embeddings.providers import reset_providers
from gitpulse_app.normalization.models import ActorRef, Metrics, NormalizedFact, RepoRef
from gitpulse_app.normalization.store import ingest_facts
from tests.authz.conftest import DAY, NOW, Side, build_side
from tests.faults.harness import free_port

MARCH = dt.datetime(2025, 3, 12, 10, tzinfo=dt.UTC)
APRIL = dt.datetime(2025, 4, 15, 10, tzinfo=dt.UTC)


@dataclass
class Person:
    """One side of the world, with its tokens and extra facts."""

    side: Side
    read_token: str
    write_token: str
    second_repo: str
    march_url: str
    april_url: str
    other_repo_march_url: str

    @property
    def private_urls(self) -> set[str]:
        return {self.side.fact_url, self.march_url, self.april_url, self.other_repo_march_url}


@dataclass
class World:
    alice: Person
    bob: Person


def fact(full_name: str, repo_gh_id: int, login: str, gh_id: int, number: int, title: str,
         ts: dt.datetime) -> NormalizedFact:
    owner, name = full_name.split("/")
    ref = RepoRef(gh_id=repo_gh_id, full_name=full_name, owner=owner, name=name,
                  raw={"id": repo_gh_id, "full_name": full_name, "name": name,
                       "owner": {"login": owner}})
    return NormalizedFact(
        type="pr_merged", repo=ref, actor=ActorRef(gh_id=gh_id, login=login), ts=ts,
        source_url=f"https://github.com/{full_name}/pull/{number}", metrics=Metrics(5, 1, 1),
        metadata={"number": number, "title": title, "state": "closed", "body": "Details"})


def make_person(session: Session, name: str, title: str) -> Person:
    side = build_side(session, name, title)
    user = session.get(User, side.user_id)
    repo = session.exec(select(Repo).where(Repo.id == side.repo_id)).one()
    owner = side.repo_full_name.split("/")[0]
    second = f"{owner}/{name}-tools"
    march_url = f"https://github.com/{side.repo_full_name}/pull/301"
    april_url = f"https://github.com/{side.repo_full_name}/pull/302"
    ingest_facts([
        fact(side.repo_full_name, repo.gh_id, side.login, user.gh_id, 301,
             f"{name} March ledger cleanup", MARCH),
        fact(side.repo_full_name, repo.gh_id, side.login, user.gh_id, 302,
             f"{name} April ledger cleanup", APRIL),
        fact(second, repo.gh_id + 500_000, side.login, user.gh_id, 401,
             f"{name} March tools ledger cleanup", MARCH),
    ], observed_via="webhook")
    # The source also lists the second repository, so its owner sees it.
    installation = session.get(Installation, side.installation_id)
    installation.repositories = [side.repo_full_name, second]
    installation.repository_ids = [repo.gh_id, repo.gh_id + 500_000]  # visibility is by GitHub id
    session.add(installation)
    session.commit()
    return Person(side, create_token(side.user_id, "reader", "read", now=NOW).token,
                  create_token(side.user_id, "writer", "write", now=NOW).token, second,
                  march_url, april_url, f"https://github.com/{second}/pull/401")


@pytest.fixture
def file_engine(sqlite_template: sqlite3.Connection, tmp_path: Path, configure
                ) -> Iterator[Engine]:
    """A migrated SQLite file, the process-wide engine and `DATABASE_URL` for child processes."""
    path = tmp_path / "api.db"
    with contextlib.closing(sqlite3.connect(path)) as target:
        sqlite_template.backup(target)
    url = f"sqlite:///{path}"
    configure(DATABASE_URL=url)
    engine = create_db_engine(url)
    set_engine(engine)
    reset_providers()
    try:
        yield engine
    finally:
        set_engine(None)
        engine.dispose()
        reset_providers()


@pytest.fixture
def world(file_engine: Engine) -> World:
    with Session(file_engine, expire_on_commit=False) as session:
        return World(make_person(session, "alice", "Alice quasar ledger migration"),
                     make_person(session, "bob", "Bob nebula cache rollout"))


class LiveServer:
    """`create_api()` under uvicorn in a thread, on a free port of 127.0.0.1."""

    def __init__(self) -> None:
        from gitpulse_app.experience.http.app import create_api

        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(
            create_api(with_workers=False), host="127.0.0.1", port=self.port,
            log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, name="api-under-test")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        started = threading.Event()
        while not self.server.started:  # a condition, not a fixed sleep
            if not self.thread.is_alive():
                raise RuntimeError("The API server did not start")
            started.wait(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture
def live(world: World) -> Iterator[LiveServer]:
    with LiveServer() as server:
        yield server


@pytest.fixture
def http(live: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, timeout=60) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@contextlib.asynccontextmanager
async def mcp_client(url: str, token: str | None) -> AsyncIterator[object]:
    """A real `mcp` client session over streamable HTTP, sending `token` as a bearer token."""
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    headers = bearer(token) if token else {}
    async with create_mcp_http_client(headers=headers) as http_client:
        transport = streamable_http_client(f"{url}/mcp", http_client=http_client)
        async with Client(transport) as client:
            yield client


__all__ = ["DAY", "NOW", "LiveServer", "Person", "World", "bearer", "fact", "mcp_client"]
