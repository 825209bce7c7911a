"""Helpers for the webhook tests: a signed-delivery client and a file database for subprocesses."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from starlette.testclient import TestClient

from gitpulse_app.acquisition.webhooks.signature import sign
from gitpulse_app.core.db import create_db_engine
from gitpulse_app.experience.http.app import create_api
from tests.support.db import process_engine

SECRET = "webhook-test-secret"
WEBHOOK_URL = "/api/webhooks/github"


def signed_headers(event: str, body: bytes, delivery: str | None = None,
                   secret: str = SECRET) -> dict[str, str]:
    return {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(body, secret),
        "Content-Type": "application/json",
    }


def post_webhook(client: TestClient, event: str, payload: Any = None, *, body: bytes | None = None,
                 delivery: str | None = None, secret: str = SECRET):
    """POST a delivery signed like GitHub signs it."""
    raw = body if body is not None else json.dumps(payload).encode("utf-8")
    return client.post(WEBHOOK_URL, content=raw,
                       headers=signed_headers(event, raw, delivery, secret))


@pytest.fixture
def webhook_secret(configure) -> str:
    configure(GITHUB_WEBHOOK_SECRET=SECRET)
    return SECRET


@pytest.fixture
def client(engine: Engine, webhook_secret: str) -> Iterator[TestClient]:
    """The real backend routes on the test's in-memory database, without background workers."""
    with TestClient(create_api(with_workers=False)) as test_client:
        yield test_client


@pytest.fixture
def db_file_url(sqlite_template: sqlite3.Connection, tmp_path) -> str:
    """A migrated SQLite file other processes can open too."""
    path = tmp_path / "gitpulse.db"
    with contextlib.closing(sqlite3.connect(path)) as target:
        sqlite_template.backup(target)
    return f"sqlite:///{path}"


@pytest.fixture
def file_engine(db_file_url: str) -> Iterator[Engine]:
    """The process-wide engine on the SQLite file of `db_file_url`."""
    engine = create_db_engine(db_file_url)
    with process_engine(engine):
        yield engine


@pytest.fixture
def file_client(file_engine: Engine, webhook_secret: str) -> Iterator[TestClient]:
    with TestClient(create_api(with_workers=False)) as test_client:
        yield test_client


def refuse_fact_writes(engine: Engine) -> None:
    """Make the database itself reject every new fact (a real failure of the write path)."""
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TRIGGER refuse_facts BEFORE INSERT ON events "
            "BEGIN SELECT RAISE(ABORT, 'events are read-only in this test'); END"
        )


def accept_fact_writes(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER refuse_facts")


def table_rows(engine: Engine, table: str) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(sa.text(f"SELECT * FROM {table} ORDER BY 1"))]
